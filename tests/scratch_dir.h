#pragma once
// A scratch folder per test process: ctest runs every test in its own process, several at a
// time, so each process works under a folder of its own in the gtest temp dir, named after
// the test binary and the process id, and removed when the process exits.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace qosroute::test_util {

// The process's scratch root; `name` (the first call's) names it.
inline const std::string& ScratchRoot(const std::string& name) {
  namespace fs = std::filesystem;
  static const std::string root = [&] {
    const fs::path p = fs::path(::testing::TempDir()) / (name + "_" + std::to_string(getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
  }();
  // Destroyed at exit, after every test of the process.
  static const struct Remover {
    ~Remover() {
      std::error_code ec;
      fs::remove_all(root, ec);
    }
  } remover;
  (void)remover;
  return root;
}

// <root>/<name>, emptied and created.
inline std::string FreshDirUnder(const std::string& root, const std::string& name) {
  const std::string dir = (std::filesystem::path(root) / name).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A whole file as bytes ("" when it cannot be read).
inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace qosroute::test_util
