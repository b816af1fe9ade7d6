#include "learner/blas_info.h"

#include <dlfcn.h>

namespace qosroute {

std::string BlasCoreName() {
  // Looked up at run time: the BLAS behind libtorch is chosen by the system (alternatives),
  // and only OpenBLAS has this function.
  using CoreNameFn = char* (*)();
  auto fn = reinterpret_cast<CoreNameFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (fn == nullptr) return "";
  const char* name = fn();
  return name != nullptr ? std::string(name) : std::string();
}

std::string SuggestedOpenBlasCore() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
  if (__builtin_cpu_supports("avx2")) return "Haswell";
#endif
  return "";
}

bool BlasCoreIsMisdetected() {
  const std::string core = BlasCoreName();
  const std::string suggested = SuggestedOpenBlasCore();
  if (core.empty() || suggested.empty()) return false;
  const bool generic = core == "Prescott" || core == "Core2" || core == "Penryn" ||
                       core == "Dunnington" || core == "Nehalem" || core == "Atom" ||
                       core == "Banias" || core == "Katmai" || core == "Coppermine" ||
                       core == "Northwood";
  return generic;
}

}  // namespace qosroute
