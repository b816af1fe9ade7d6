#pragma once
// One job per run directory. Two trainers on the same --run-dir (a double submit, a SLURM
// requeue racing a manual restart) would overwrite each other's CSV rows and interleave
// checkpoints while both exit 0, so a trainer holds an exclusive lock on
// <run_dir>/.qosroute.lock for as long as it runs.
//
// The lock is flock(2) on an open file: the kernel releases it when the holder's last file
// descriptor closes, including when the process dies of SIGKILL, so a crash never leaves a
// stale lock behind (the empty file stays; nothing is ever written to it). flock locks
// belong to the open file description, so a second RunDirLock in the same process is refused
// too. Network file systems: Linux emulates flock with POSIX byte-range locks on NFS, which
// also end with the process.
#include <string>

namespace qosroute {

class RunDirLock {
 public:
  // Creates `run_dir` when missing and takes the lock. When another process holds it, throws
  // UserError naming the directory and the holder (pid and command, from /proc/locks) and
  // changes nothing in the directory.
  explicit RunDirLock(const std::string& run_dir);
  ~RunDirLock();
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

  const std::string& path() const { return path_; }

  // The lock file's name inside a run directory.
  static constexpr const char* kFileName = ".qosroute.lock";

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace qosroute
