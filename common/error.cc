#include "common/error.h"

#include <cstdio>
#include <cstdlib>

namespace qosroute {

void FailCheck(const char* condition, const char* file, int line, const std::string& detail) {
  std::fprintf(stderr, "qosroute internal error: check '%s' failed at %s:%d%s%s\n", condition, file,
               line, detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace qosroute
