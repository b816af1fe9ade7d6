#include "common/blas_probe.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace qosroute {
namespace {

// The start-up decision, for BlasStartLine (set once, in main, before any thread exists).
bool g_decided = false;
BlasReexecInputs g_inputs;
BlasReexecDecision g_decision;

void* BlasSymbol(const char* name) {
  return dlsym(RTLD_DEFAULT, name);
}

bool OpenBlasIsDynamicArch() {
  using ConfigFn = char* (*)();
  auto fn = reinterpret_cast<ConfigFn>(BlasSymbol("openblas_get_config"));
  if (fn == nullptr) return false;
  const char* config = fn();
  return config != nullptr && std::strstr(config, "DYNAMIC_ARCH") != nullptr;
}

struct CpuState {
  bool cpu_avx512 = false, cpu_avx2 = false, os_avx = false, os_avx512 = false;
};

CpuState ReadCpuState() {
  CpuState s;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return s;
  const bool avx = (c & bit_AVX) != 0, fma = (c & bit_FMA) != 0;
  // xgetbv faults unless the OS enabled it (OSXSAVE); XCR0 then says which register state the
  // OS saves: bits 1-2 SSE/YMM, bits 5-7 opmask and the two ZMM halves.
  if ((c & bit_OSXSAVE) != 0) {
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    s.os_avx = (lo & 0x6u) == 0x6u;
    s.os_avx512 = (lo & 0xe6u) == 0xe6u;
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    s.cpu_avx2 = avx && fma && (b & bit_AVX2) != 0;
    const unsigned avx512 = bit_AVX512F | bit_AVX512BW | bit_AVX512DQ | bit_AVX512VL;
    s.cpu_avx512 = (b & avx512) == avx512;
  }
#endif
  return s;
}

std::string LibraryOf(void* symbol) {
  Dl_info info{};
  if (symbol == nullptr || dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "";
  char resolved[PATH_MAX];
  return realpath(info.dli_fname, resolved) != nullptr ? resolved : info.dli_fname;
}

}  // namespace

std::string OpenBlasCoreName() {
  using CoreNameFn = char* (*)();
  auto fn = reinterpret_cast<CoreNameFn>(BlasSymbol("openblas_get_corename"));
  if (fn == nullptr) return "";
  const char* name = fn();
  return name != nullptr ? std::string(name) : std::string();
}

std::string BlasLibraryPath() {
  void* sym = BlasSymbol("openblas_get_corename");
  if (sym == nullptr) sym = BlasSymbol("sgemm_");
  return LibraryOf(sym);
}

BlasReexecInputs GatherBlasReexecInputs() {
  BlasReexecInputs in;
  in.core = OpenBlasCoreName();
  in.dynamic_arch = OpenBlasIsDynamicArch();
  const CpuState cpu = ReadCpuState();
  in.cpu_avx512 = cpu.cpu_avx512;
  in.cpu_avx2 = cpu.cpu_avx2;
  in.os_avx = cpu.os_avx;
  in.os_avx512 = cpu.os_avx512;
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  in.coretype_set = coretype != nullptr;
  in.coretype = coretype != nullptr ? coretype : "";
  in.guard_set = std::getenv(kBlasReexecGuard) != nullptr;
  return in;
}

void ReexecWithOpenBlasCore(char** argv, const std::string& coretype) {
  // /proc/self/exe, not argv[0]: argv[0] may be a bare name found on PATH or a relative path.
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) {
    std::fprintf(stderr, "qosroute: BLAS restart skipped: cannot read /proc/self/exe\n");
    return;
  }
  exe[n] = '\0';
  setenv("OPENBLAS_CORETYPE", coretype.c_str(), 1);
  setenv(kBlasReexecGuard, "1", 1);
  std::fflush(nullptr);  // buffered output would otherwise be lost (or printed twice)
  execv(exe, argv);
  const int err = errno;
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kBlasReexecGuard);
  std::fprintf(stderr, "qosroute: BLAS restart failed (execv %s: %s); continuing\n", exe,
               std::strerror(err));
}

BlasReexecDecision ReexecForBlasIfNeeded(char** argv) {
  g_inputs = GatherBlasReexecInputs();
  g_decision = DecideBlasReexec(g_inputs);
  g_decided = true;
  if (g_decision.reexec) {
    ReexecWithOpenBlasCore(argv, g_decision.coretype);
    g_decision.reexec = false;  // only reached when execv failed
    g_decision.reason += " (restart failed)";
  }
  if (g_decision.warn)
    std::fprintf(stderr, "qosroute: warning: BLAS %s\n", g_decision.reason.c_str());
  return g_decision;
}

std::string BlasStartLine() {
  const std::string path = BlasLibraryPath();
  const std::string core = OpenBlasCoreName();
  std::string line = "BLAS: " + (path.empty() ? std::string("none loaded") : path);
  if (!path.empty()) line += core.empty() ? " (not OpenBLAS)" : " core " + core;
  if (g_decided && (g_inputs.guard_set || g_inputs.coretype_set || g_decision.warn))
    line += " (" + g_decision.reason + ")";
  return line;
}

}  // namespace qosroute
