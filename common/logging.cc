#include "common/logging.h"

#include <spdlog/spdlog.h>

namespace qosroute {

void SetupLogging(const std::string& level) {
  spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace qosroute
