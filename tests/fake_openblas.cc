// A stand-in for a misdetecting OpenBLAS (0.3.21 on an unknown CPU model), for
// blas_reexec_test: a DYNAMIC_ARCH build that reports the generic "Prescott" core unless
// OPENBLAS_CORETYPE names one, read at load time as the real library does.
#include <cstdlib>
#include <string>

namespace {
std::string& Core() {
  static std::string core = [] {
    const char* forced = std::getenv("OPENBLAS_CORETYPE");
    return std::string(forced != nullptr && *forced != '\0' ? forced : "Prescott");
  }();
  return core;
}
}  // namespace

extern "C" {
char* openblas_get_corename() {
  return const_cast<char*>(Core().c_str());
}
char* openblas_get_config() {
  return const_cast<char*>("OpenBLAS 0.3.21 DYNAMIC_ARCH (fake)");
}
}
