#pragma once
// `--resume auto`'s choice of checkpoint, for one process and under mpirun alike: the newest
// complete checkpoint that reads back whole. A newest file truncated by a full disk or a
// partial copy must not make every SLURM requeue of the job fail while an older intact
// checkpoint sits beside it.
#include <string>

namespace qosroute {

// Verifies the complete checkpoints of `run_dir` newest first (every attribute and dataset
// read back, so every checksum is checked) and returns the first intact one; "" when there
// is no checkpoint at all. Each damaged newer one is renamed into <checkpoints>/damaged/
// (never deleted) with one warning naming the file and the damage. When checkpoints exist
// but none is intact: UserError naming them, and nothing is renamed.
std::string NewestIntactCheckpoint(const std::string& run_dir);

// The folder damaged checkpoints are moved into.
std::string DamagedCheckpointFolder(const std::string& run_dir);

}  // namespace qosroute
