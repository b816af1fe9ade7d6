#include "telemetry/run_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/error.h"

namespace qosroute {

namespace {

// Who holds the flock on `path`: the kernel lists every lock in /proc/locks as
// "N: FLOCK  ADVISORY  WRITE <pid> <major>:<minor>:<inode> 0 EOF"; the line whose inode is the
// lock file's names the holder. Nothing is written to the file, so a refused run changes no
// byte in the run directory.
std::string DescribeHolder(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return "another process";
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string index, type, mode, access, device;
    long pid = 0;
    if (!(fields >> index >> type >> mode >> access >> pid >> device) || type != "FLOCK") continue;
    const size_t colon = device.rfind(':');
    if (colon == std::string::npos) continue;
    if (std::strtoull(device.c_str() + colon + 1, nullptr, 10) != info.st_ino) continue;
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(comm, name);
    return "process " + std::to_string(pid) + (name.empty() ? "" : " (" + name + ")");
  }
  return "another process";
}

}  // namespace

RunDirLock::RunDirLock(const std::string& run_dir) {
  std::error_code error;
  std::filesystem::create_directories(run_dir, error);
  if (error) throw UserError("cannot create run directory " + run_dir + ": " + error.message());
  path_ = (std::filesystem::path(run_dir) / kFileName).string();
  // Opened, never written: its contents do not matter, only the lock on it.
  fd_ = open(path_.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw UserError("cannot open lock file " + path_ + ": " + std::strerror(errno));
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int code = errno;
    close(fd_);
    fd_ = -1;
    if (code == EWOULDBLOCK) {
      throw UserError("run directory " + run_dir + " is in use by " + DescribeHolder(path_) +
                      "; wait for that run to end, or train into another --run-dir");
    }
    throw UserError("cannot lock " + path_ + ": " + std::strerror(code));
  }
}

RunDirLock::~RunDirLock() {
  if (fd_ >= 0) close(fd_);  // releases the flock
}

}  // namespace qosroute
