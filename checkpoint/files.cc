#include "checkpoint/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include "common/error.h"

namespace qosroute {

namespace fs = std::filesystem;

namespace {

const std::regex& CompleteName() {
  static const std::regex name(R"(ckpt_(\d{1,18})\.h5)");
  return name;
}

// fsync of a file or folder; best effort for folders, which some file systems refuse.
bool SyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::map<std::string, std::string> ParseIni(const std::string& text) {
  std::map<std::string, std::string> keys;
  std::istringstream in(text);
  std::string line, section;
  auto trim = [](const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return std::string();
    return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
  };
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq));
    keys[section.empty() ? key : section + "." + key] = trim(line.substr(eq + 1));
  }
  return keys;
}

}  // namespace

std::string CheckpointFolder(const std::string& run_dir) {
  return (fs::path(run_dir) / "checkpoints").string();
}

std::string CheckpointPath(const std::string& run_dir, long updates) {
  return (fs::path(CheckpointFolder(run_dir)) / ("ckpt_" + std::to_string(updates) + ".h5"))
      .string();
}

std::vector<CheckpointFile> ListCheckpoints(const std::string& folder) {
  std::vector<CheckpointFile> found;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return found;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(ec) || !std::regex_match(name, match, CompleteName())) continue;
    found.push_back({entry.path().string(), std::stol(match[1].str())});
  }
  std::sort(found.begin(), found.end(),
            [](const CheckpointFile& a, const CheckpointFile& b) { return a.updates < b.updates; });
  return found;
}

std::string NewestCheckpoint(const std::string& run_dir) {
  const std::vector<CheckpointFile> all = ListCheckpoints(CheckpointFolder(run_dir));
  return all.empty() ? std::string() : all.back().path;
}

void CommitCheckpointFile(const std::string& temporary, const std::string& final_path) {
  // Without this sync a power loss after the rename could leave the new name pointing at
  // blocks that never reached the disk. A process kill alone needs only the rename order.
  if (!SyncPath(temporary, false))
    throw UserError("cannot sync checkpoint " + temporary + " to disk");
  std::error_code ec;
  fs::rename(temporary, final_path, ec);
  if (ec) throw UserError("cannot rename " + temporary + " to " + final_path + ": " + ec.message());
  SyncPath(fs::path(final_path).parent_path().string(), true);
}

std::vector<std::string> PruneCheckpoints(const std::string& folder, int keep) {
  std::vector<std::string> removed;
  std::vector<CheckpointFile> all = ListCheckpoints(folder);
  std::error_code ec;
  for (size_t i = 0; i + static_cast<size_t>(std::max(keep, 1)) < all.size(); ++i) {
    if (fs::remove(all[i].path, ec)) removed.push_back(all[i].path);
  }
  // Left by a writer that died; only ever our own temporary names.
  static const std::regex temporary(R"(ckpt_\d{1,18}\.h5\.tmp)");
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, temporary) && fs::remove(entry.path(), ec))
      removed.push_back(entry.path().string());
  }
  return removed;
}

std::vector<std::string> SupersedeNewerCheckpoints(const std::string& folder, long updates) {
  std::vector<std::string> moved;
  for (const CheckpointFile& file : ListCheckpoints(folder)) {
    if (file.updates <= updates) continue;
    const fs::path target_folder = fs::path(folder) / "superseded";
    fs::create_directories(target_folder);
    const fs::path target = target_folder / fs::path(file.path).filename();
    std::error_code ec;
    fs::rename(file.path, target, ec);
    if (ec)
      throw UserError("cannot move " + file.path + " to " + target.string() + ": " + ec.message());
    moved.push_back(target.string());
  }
  return moved;
}

std::vector<std::string> ConfigDifferences(const std::string& old_ini, const std::string& new_ini) {
  const auto a = ParseIni(old_ini);
  const auto b = ParseIni(new_ini);
  std::vector<std::string> out;
  for (const auto& [key, value] : a) {
    const auto it = b.find(key);
    if (it == b.end()) {
      out.push_back(key + ": " + value + " -> (absent)");
    } else if (it->second != value) {
      out.push_back(key + ": " + value + " -> " + it->second);
    }
  }
  for (const auto& [key, value] : b) {
    if (a.count(key) == 0) out.push_back(key + ": (absent) -> " + value);
  }
  return out;
}

bool ShouldKillForTest(const char* stage, int write_index) {
  const char* spec = std::getenv("QOSROUTE_TEST_KILL_DURING_CHECKPOINT");
  if (spec == nullptr || *spec == '\0') return false;
  std::string wanted = spec;
  int wanted_index = 1;
  const auto colon = wanted.find(':');
  if (colon != std::string::npos) {
    wanted_index = std::atoi(wanted.c_str() + colon + 1);
    wanted.resize(colon);
  }
  return wanted == stage && wanted_index == write_index;
}

}  // namespace qosroute
