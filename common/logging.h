#pragma once
// One place that configures spdlog, so every binary logs in the same format.
#include <string>

namespace qosroute {

// level: "trace", "debug", "info", "warn", "error", "off".
void SetupLogging(const std::string& level);

}  // namespace qosroute
