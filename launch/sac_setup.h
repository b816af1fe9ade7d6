#pragma once
// Maps the run config onto the learner's structs (torch-side; only launch/ parses configs).
#include "launch/config.h"
#include "launch/sac_policy_hook.h"
#include "learner/sac.h"
#include "learner/train_loop.h"

namespace qosroute {

SacConfig MakeSacConfig(const RunConfig& config);
TrainLoopOptions MakeTrainLoopOptions(const RunConfig& config, const std::string& run_dir);

// Builds an agent for a saved policy file: its architecture comes from the file, checked
// against this build's feature layout and the config's observation slots.
// The policies a finished run compares against the heuristics: policy_selected.h5 (as
// "sac-<encoder>-selected", with a log line on how it was chosen) and policy.h5 ("-final"),
// or policy.h5 alone without model selection. The same for one process and for mpirun.
std::vector<NamedPolicyFile> TrainedPolicies(const RunConfig& config, const TrainResult& result);

std::unique_ptr<SacAgent> LoadAgentForEvaluation(const RunConfig& config,
                                                 const std::string& policy_file);

}  // namespace qosroute
