#pragma once
// Maps the run config onto the learner's structs (torch-side; only launch/ parses configs).
#include "launch/config.h"
#include "learner/sac.h"
#include "learner/train_loop.h"

namespace qosroute {

SacConfig MakeSacConfig(const RunConfig& config);
TrainLoopOptions MakeTrainLoopOptions(const RunConfig& config, const std::string& run_dir);

// Builds an agent for a saved policy file: its architecture comes from the file, checked
// against this build's feature layout and the config's observation slots.
std::unique_ptr<SacAgent> LoadAgentForEvaluation(const RunConfig& config,
                                                 const std::string& policy_file);

}  // namespace qosroute
