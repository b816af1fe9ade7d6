#include "checkpoint/resume_auto.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <utility>
#include <vector>

#include "checkpoint/files.h"
#include "checkpoint/hdf5_file.h"
#include "common/error.h"

namespace qosroute {

namespace fs = std::filesystem;

namespace {

// "" when every object of the file reads back; otherwise the reason.
std::string DamageOf(const std::string& path) {
  try {
    h5::Reader(path, "checkpoint " + path).VerifyEverything();
    return "";
  } catch (const UserError& e) {
    return e.what();
  }
}

// A name in `folder` not taken yet: the file's own, or with .1, .2, ... appended.
fs::path FreeName(const fs::path& folder, const std::string& name) {
  fs::path target = folder / name;
  for (int i = 1; fs::exists(target); ++i) target = folder / (name + "." + std::to_string(i));
  return target;
}

}  // namespace

std::string DamagedCheckpointFolder(const std::string& run_dir) {
  return (fs::path(CheckpointFolder(run_dir)) / "damaged").string();
}

std::string NewestIntactCheckpoint(const std::string& run_dir) {
  std::vector<CheckpointFile> files = ListCheckpoints(CheckpointFolder(run_dir));
  std::vector<std::pair<std::string, std::string>> damaged;  // path, reason
  std::string intact;
  for (auto it = files.rbegin(); it != files.rend() && intact.empty(); ++it) {
    std::string reason = DamageOf(it->path);
    if (reason.empty()) {
      intact = it->path;
    } else {
      damaged.emplace_back(it->path, std::move(reason));
    }
  }
  if (intact.empty() && !damaged.empty()) {
    std::string names;
    for (const auto& d : damaged) names += (names.empty() ? "" : ", ") + d.first;
    throw UserError("--resume auto: every checkpoint in " + CheckpointFolder(run_dir) +
                    " is damaged (" + names + "; newest: " + damaged.front().second +
                    "); move them away to start fresh, or resume from a copy with --resume PATH");
  }
  for (const auto& [path, reason] : damaged) {
    const std::string folder = DamagedCheckpointFolder(run_dir);
    std::error_code ec;
    fs::create_directories(folder, ec);
    const fs::path target = FreeName(folder, fs::path(path).filename().string());
    fs::rename(path, target, ec);
    if (ec) {
      throw UserError("--resume auto: " + reason + "; and it cannot be moved to " +
                      target.string() + ": " + ec.message());
    }
    spdlog::warn("--resume auto: {}; kept as {}, resuming from the newest intact checkpoint {}",
                 reason, target.string(), intact);
  }
  return intact;
}

}  // namespace qosroute
