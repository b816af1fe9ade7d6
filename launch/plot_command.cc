// `qosroute plot`: PNG figures of a training run, a load sweep or per-request latencies. The
// drawing is done by tools/plot_run.py (python3 + matplotlib) in a child process; this command
// finds the script and the interpreter, runs it without a shell and returns its exit code.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

#include "common/error.h"
#include "launch/command_line.h"
#include "launch/commands.h"

#ifndef QOSROUTE_SOURCE_DIR
#define QOSROUTE_SOURCE_DIR "."
#endif

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace qosroute {
namespace {

constexpr char kInstallHint[] = "run launch/install-deps.sh (Debian packages python3-matplotlib)";
// tools/plot_run.py exits with this code when it cannot import matplotlib.
constexpr int kScriptNoMatplotlib = 3;

bool IsFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// QOSROUTE_PLOT_SCRIPT, else next to the binary (build/../tools, or tools/ beside an installed
// binary), else the source tree the binary was built from.
std::string FindPlotScript() {
  if (const char* env = std::getenv("QOSROUTE_PLOT_SCRIPT"); env != nullptr && *env != '\0') {
    if (!IsFile(env)) throw UserError(std::string("QOSROUTE_PLOT_SCRIPT: no such file: ") + env);
    return env;
  }
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / ".." / "tools" / "plot_run.py");
    candidates.push_back(exe.parent_path() / "tools" / "plot_run.py");
  }
  candidates.push_back(fs::path(QOSROUTE_SOURCE_DIR) / "tools" / "plot_run.py");
  for (const fs::path& p : candidates) {
    if (IsFile(p)) return p.lexically_normal().string();
  }
  std::string tried;
  for (const fs::path& p : candidates) tried += (tried.empty() ? "" : ", ") + p.string();
  throw UserError("cannot find tools/plot_run.py (tried " + tried +
                  "); set QOSROUTE_PLOT_SCRIPT to its path");
}

// QOSROUTE_PYTHON, else Debian's /usr/bin/python3 (where python3-matplotlib installs; a pyenv
// or conda python3 earlier on PATH usually lacks it), else python3 from PATH.
std::string FindPython() {
  if (const char* env = std::getenv("QOSROUTE_PYTHON"); env != nullptr && *env != '\0') return env;
  if (access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return "python3";
}

// Runs argv[0] (looked up on PATH) with argv and the environment plus `extra_env`, stdout and
// stderr inherited; returns its exit code. Throws UserError when it cannot be started.
int RunChild(const std::vector<std::string>& argv, const std::string& extra_env) {
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  // Built before fork: the child only calls async-signal-safe functions.
  std::vector<char*> cenv;
  for (char** e = environ; *e != nullptr; ++e) cenv.push_back(*e);
  cenv.push_back(const_cast<char*>(extra_env.c_str()));
  cenv.push_back(nullptr);
  // A close-on-exec pipe tells the parent whether execvpe failed, and with which errno.
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw UserError(std::string("pipe: ") + std::strerror(errno));
  std::cout.flush();
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    throw UserError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    close(fds[0]);
    execvpe(cargv[0], cargv.data(), cenv.data());
    const int err = errno;
    ssize_t ignored = write(fds[1], &err, sizeof(err));
    (void)ignored;
    _exit(127);
  }
  close(fds[1]);
  int exec_errno = 0;
  ssize_t n;
  do {
    n = read(fds[0], &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw UserError(std::string("waitpid: ") + std::strerror(errno));
  }
  if (n == static_cast<ssize_t>(sizeof(exec_errno))) {
    throw UserError("cannot run " + argv[0] + " (" + std::strerror(exec_errno) +
                    "); plotting needs python3 with matplotlib: " + kInstallHint);
  }
  if (WIFSIGNALED(status)) {
    std::fprintf(stderr, "qosroute plot: %s killed by signal %d\n", argv[1].c_str(),
                 WTERMSIG(status));
    return 128 + WTERMSIG(status);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int RunPlotCommand(const Args& args) {
  std::string run_dir, sweep, latency, out;
  po::options_description desc(
      "qosroute plot: PNG figures (matplotlib, tools/plot_run.py)\n"
      "  qosroute plot RUN_DIR [--out DIR]           learning_curve.png, throughput.png, "
      "losses.png\n"
      "                                              (default DIR: RUN_DIR/plots)\n"
      "  qosroute plot --sweep SWEEP [--out DIR]     sweep_qos.png, sweep_latency.png; SWEEP is\n"
      "                                              a launch/sweep.sh folder or one CSV\n"
      "                                              (default DIR: SWEEP's folder/plots)\n"
      "  qosroute plot --latency FILE.csv --out DIR  latency_cdf.png from per-request latencies\n"
      "                                              (columns policy,latency_per_token_s)\n"
      "Prints every PNG written. See docs/PLOTS.md.\n\noptions");
  desc.add_options()("help,h", "show this help")(
      "run-dir", po::value(&run_dir), "training run directory (the positional argument)")(
      "sweep", po::value(&sweep), "load-sweep output folder or CSV")("latency", po::value(&latency),
                                                                     "per-request latency CSV")(
      "out", po::value(&out), "folder for the PNG files (created if missing)");
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  if (!ParseCommandLine(args, desc, &positional)) return 0;

  const int inputs = !run_dir.empty() + !sweep.empty() + !latency.empty();
  if (inputs != 1) {
    throw UserError("give exactly one of RUN_DIR, --sweep FILE or --latency FILE (see --help)");
  }
  std::string mode, source;
  if (!run_dir.empty()) {
    mode = "run";
    source = run_dir;
    if (out.empty()) out = (fs::path(run_dir) / "plots").string();
  } else if (!sweep.empty()) {
    mode = "sweep";
    source = sweep;
    if (out.empty()) {
      std::error_code ec;
      const fs::path folder =
          fs::is_directory(sweep, ec) ? fs::path(sweep) : fs::path(sweep).parent_path();
      out = (folder.empty() ? fs::path("plots") : folder / "plots").string();
    }
  } else {
    mode = "latency";
    source = latency;
    if (out.empty()) throw UserError("--latency needs --out DIR");
  }

  const std::string python = FindPython();
  const std::string script = FindPlotScript();
  // The variable lets the script leave the missing-matplotlib message to this command.
  const int code = RunChild({python, script, mode, source, out}, "QOSROUTE_PLOT_FROM_CLI=1");
  if (code == kScriptNoMatplotlib) {
    throw UserError(python + " cannot import matplotlib; " + kInstallHint);
  }
  return code;
}

}  // namespace qosroute
