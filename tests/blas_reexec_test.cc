// The start-up BLAS choice: DecideBlasReexec's rules on every case that matters, and the
// restart itself (argv and environment survive it; a user's OPENBLAS_CORETYPE is never
// overridden) in a helper process, independent of the host's CPU.
#include "common/blas_reexec.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace qosroute {
namespace {

// A Sapphire Rapids VM under OpenBLAS 0.3.21: AVX-512 everywhere, core misdetected.
BlasReexecInputs Misdetected() {
  BlasReexecInputs in;
  in.core = "Prescott";
  in.dynamic_arch = true;
  in.cpu_avx512 = in.cpu_avx2 = in.os_avx = in.os_avx512 = true;
  return in;
}

TEST(BlasReexec, GoodCoreIsKept) {
  for (const char* core : {"Cooperlake", "SkylakeX", "Haswell", "Zen", "Sandybridge"}) {
    BlasReexecInputs in = Misdetected();
    in.core = core;
    const BlasReexecDecision d = DecideBlasReexec(in);
    EXPECT_FALSE(d.reexec) << core;
    EXPECT_FALSE(d.warn) << core;
  }
}

TEST(BlasReexec, MisdetectedAvx512ChoosesSkylakeX) {
  for (const char* core : {"Prescott", "Core2", "Penryn", "Nehalem", "Katmai", "Unknown"}) {
    BlasReexecInputs in = Misdetected();
    in.core = core;
    const BlasReexecDecision d = DecideBlasReexec(in);
    EXPECT_TRUE(d.reexec) << core;
    EXPECT_EQ(d.coretype, "SkylakeX") << core;
    EXPECT_NE(d.reason.find(core), std::string::npos) << d.reason;
  }
}

TEST(BlasReexec, MisdetectedAvx2OnlyChoosesHaswell) {
  BlasReexecInputs in = Misdetected();
  in.cpu_avx512 = false;
  in.os_avx512 = false;
  const BlasReexecDecision d = DecideBlasReexec(in);
  EXPECT_TRUE(d.reexec);
  EXPECT_EQ(d.coretype, "Haswell");
}

TEST(BlasReexec, OsWithoutAvx512StateChoosesHaswell) {
  BlasReexecInputs in = Misdetected();
  in.os_avx512 = false;  // the CPU has AVX-512 but the kernel does not save ZMM state
  const BlasReexecDecision d = DecideBlasReexec(in);
  EXPECT_TRUE(d.reexec);
  EXPECT_EQ(d.coretype, "Haswell");
}

TEST(BlasReexec, NoAvx2MeansNoRestart) {
  BlasReexecInputs in = Misdetected();
  in.cpu_avx512 = in.cpu_avx2 = false;
  EXPECT_FALSE(DecideBlasReexec(in).reexec);
  // The CPU has AVX2 but the OS does not save YMM state: forcing Haswell would SIGILL.
  in = Misdetected();
  in.os_avx = in.os_avx512 = false;
  EXPECT_FALSE(DecideBlasReexec(in).reexec);
  EXPECT_EQ(SupportedOpenBlasCore(in), "");
}

TEST(BlasReexec, UserCoretypeWins) {
  BlasReexecInputs in = Misdetected();
  in.coretype_set = true;
  in.coretype = "Prescott";
  const BlasReexecDecision d = DecideBlasReexec(in);
  EXPECT_FALSE(d.reexec);
  EXPECT_NE(d.reason.find("OPENBLAS_CORETYPE=Prescott"), std::string::npos) << d.reason;
  in.coretype = "";  // even empty: the user asked for OpenBLAS's own detection
  EXPECT_FALSE(DecideBlasReexec(in).reexec);
}

TEST(BlasReexec, GuardStopsLoopsAndWarnsWhenStillGeneric) {
  BlasReexecInputs in = Misdetected();
  in.guard_set = true;
  in.coretype_set = true;
  in.coretype = "SkylakeX";  // what the first process set, yet OpenBLAS still says Prescott
  BlasReexecDecision d = DecideBlasReexec(in);
  EXPECT_FALSE(d.reexec);
  EXPECT_TRUE(d.warn);
  in.core = "SkylakeX";  // the restart worked
  d = DecideBlasReexec(in);
  EXPECT_FALSE(d.reexec);
  EXPECT_FALSE(d.warn);
}

TEST(BlasReexec, NotOpenBlasOrStaticBuildMeansNoRestart) {
  BlasReexecInputs in = Misdetected();
  in.core = "";
  EXPECT_FALSE(DecideBlasReexec(in).reexec);
  in = Misdetected();
  in.dynamic_arch = false;  // a fixed-target build ignores OPENBLAS_CORETYPE
  EXPECT_FALSE(DecideBlasReexec(in).reexec);
  in = Misdetected();
  in.core = "PRESCOTT";  // how a fixed-target build names itself
  EXPECT_FALSE(DecideBlasReexec(in).reexec);
}

struct Result {
  int exit_code;
  std::string output;
};

// Runs the helper with a clean BLAS environment plus `env`.
Result RunChild(const std::string& env, const std::string& args) {
  const std::string command = "env -u OPENBLAS_CORETYPE -u " + std::string(kBlasReexecGuard) + " " +
                              env + " " + BLAS_REEXEC_CHILD + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  std::array<char, 4096> buffer;
  while (fgets(buffer.data(), buffer.size(), pipe)) output += buffer.data();
  const int status = pclose(pipe);
  return {WEXITSTATUS(status), output};
}

std::string Field(const std::string& output, const std::string& key) {
  const size_t at = output.find(key + "=");
  if (at == std::string::npos) return "<missing>";
  const size_t end = output.find('\n', at);
  return output.substr(at + key.size() + 1, end - at - key.size() - 1);
}

TEST(BlasReexecProcess, RestartKeepsArgvAndSetsEnvironmentOnce) {
  const Result r = RunChild("", "force a 'b c' ''");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("restarted coretype=Prescott guard=1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("args=[a][b c][]"), std::string::npos) << r.output;
  // Flushed before execv and never repeated: the restarted process did not restart again.
  EXPECT_EQ(r.output.find("before restart"), r.output.rfind("before restart")) << r.output;
  EXPECT_NE(r.output.find("before restart"), std::string::npos) << r.output;
}

const char* kOpenBlas = "libopenblas.so.0";

TEST(BlasReexecProcess, UserCoretypeIsNeverOverridden) {
  // Prescott is the generic core every x86-64 CPU runs, so this holds on any host.
  const Result r = RunChild("OPENBLAS_CORETYPE=Prescott", std::string("openblas ") + kOpenBlas);
  if (r.exit_code == 3) GTEST_SKIP() << "no " << kOpenBlas;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(Field(r.output, "guard"), "<unset>") << r.output;
  EXPECT_EQ(Field(r.output, "core"), "Prescott") << r.output;
  EXPECT_NE(Field(r.output, "line").find("core Prescott"), std::string::npos) << r.output;
}

TEST(BlasReexecProcess, StartsOnTheBestCoreTheHostSupports) {
  const Result r = RunChild("", std::string("openblas ") + kOpenBlas + " x");
  if (r.exit_code == 3) GTEST_SKIP() << "no " << kOpenBlas;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Either OpenBLAS detected a good core, or the helper restarted onto one (guard set).
  const std::string core = Field(r.output, "core");
  const bool restarted = Field(r.output, "guard") == "1";
  EXPECT_FALSE(IsGenericOpenBlasCore(core) && !Field(r.output, "supported").empty()) << r.output;
  if (restarted) {
    EXPECT_EQ(core, Field(r.output, "supported")) << r.output;
  }
  EXPECT_EQ(Field(r.output, "args"), "[x]") << r.output;
  EXPECT_NE(Field(r.output, "line").find("BLAS: /"), std::string::npos) << r.output;
}

// The whole path on a misdetecting OpenBLAS (a fake that says Prescott unless told otherwise):
// the helper restarts once onto the best core the host supports and then stops; on a host
// without AVX2 it must not restart at all.
TEST(BlasReexecProcess, MisdetectedCoreRestartsOnceOntoTheSupportedCore) {
  const Result r = RunChild("", std::string("openblas ") + FAKE_OPENBLAS + " 'a b'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string supported = Field(r.output, "supported");
  if (supported.empty()) {
    EXPECT_EQ(Field(r.output, "guard"), "<unset>") << r.output;
    EXPECT_EQ(Field(r.output, "core"), "Prescott") << r.output;
  } else {
    EXPECT_EQ(Field(r.output, "guard"), "1") << r.output;
    EXPECT_EQ(Field(r.output, "core"), supported) << r.output;
    EXPECT_NE(Field(r.output, "line").find("started with OPENBLAS_CORETYPE=" + supported),
              std::string::npos)
        << r.output;
  }
  EXPECT_EQ(Field(r.output, "args"), "[a b]") << r.output;
  EXPECT_EQ(r.output.find("warning"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace qosroute
