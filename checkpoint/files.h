#pragma once
// The checkpoint folder of a run directory: names, the commit rename, finding the newest
// complete checkpoint, pruning to the newest K. No torch, no HDF5.
//
//   <run_dir>/checkpoints/ckpt_<updates>.h5        complete checkpoints
//   <run_dir>/checkpoints/ckpt_<updates>.h5.tmp    one being written (or left by a crash)
//   <run_dir>/checkpoints/superseded/              checkpoints of an abandoned future (below)
//
// Only names of the first form count as checkpoints: a file is renamed to it once it is
// complete and synced, so a crash at any point leaves every complete checkpoint intact.
#include <string>
#include <vector>

namespace qosroute {

struct CheckpointFile {
  std::string path;
  long updates = 0;
};

std::string CheckpointFolder(const std::string& run_dir);
std::string CheckpointPath(const std::string& run_dir, long updates);

// Complete checkpoints in `folder` (ckpt_<digits>.h5), oldest (fewest updates) first.
std::vector<CheckpointFile> ListCheckpoints(const std::string& folder);
// The newest complete checkpoint of a run directory, or "" when there is none.
std::string NewestCheckpoint(const std::string& run_dir);

// Makes `temporary` durable, then renames it to `final_path` (the commit point) and syncs
// the folder, so that after a crash or power loss either the old or the new name is there,
// never a half-written file under the final name. UserError when the rename fails.
void CommitCheckpointFile(const std::string& temporary, const std::string& final_path);

// Deletes all but the newest `keep` complete checkpoints and any *.h5.tmp left by a crash.
// Returns the paths removed.
std::vector<std::string> PruneCheckpoints(const std::string& folder, int keep);

// After resuming from a checkpoint with `updates`, moves complete checkpoints with more
// updates (an abandoned continuation) into <folder>/superseded/, so that a later
// `--resume auto` continues the branch that was chosen. Nothing is deleted. Returns the new
// paths.
std::vector<std::string> SupersedeNewerCheckpoints(const std::string& folder, long updates);

// Keys whose values differ between two resolved configs (INI as FormatResolvedConfig
// writes it), as "section.key: old -> new", keys present in only one as "-> (absent)".
std::vector<std::string> ConfigDifferences(const std::string& old_ini, const std::string& new_ini);

// Test hook for crash safety: when the environment variable
// QOSROUTE_TEST_KILL_DURING_CHECKPOINT is "<stage>" or "<stage>:<n>", the n-th checkpoint
// write of this process (default the first) kills the process with SIGKILL at `stage`.
// `write_index` counts from 1. Returns whether the caller should die here (the caller
// flushes its partial file first so that the file on disk is really half-written).
bool ShouldKillForTest(const char* stage, int write_index);

}  // namespace qosroute
