#pragma once
// The agent's part of a checkpoint file, shared by the single-process and the distributed
// checkpoints: the architecture attributes, every parameter and target network, the Adam
// states, the action-sampling RNG. Layout in learner/checkpoint.h and docs/CHECKPOINTS.md.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/hdf5_file.h"
#include "learner/policy_io.h"
#include "learner/sac.h"

namespace qosroute {

struct AgentState {
  std::vector<NamedTensor> parameters, optimizer;
  std::array<uint64_t, 4> sample_rng{};
  int64_t num_updates = 0;
};

h5::Dims DimsOf(const torch::Tensor& t);
std::vector<uint64_t> RngState(const std::array<uint64_t, 4>& s);
std::array<uint64_t, 4> ReadRng(const h5::Reader& r, const std::string& name);

// Checks @format and @format_version (UserError naming the file); returns @ranks.
int64_t CheckCheckpointFormat(const h5::Reader& r);

void WriteArchitecture(h5::Writer& w, const PolicyArchitecture& a);
// Unlike a policy file, a checkpoint also pins the expert count and observation slots.
// UserError naming the file and the first field that differs.
void CheckArchitecture(const h5::Reader& r, const PolicyArchitecture& wanted);

void WriteAgent(h5::Writer& w, const SacAgent& agent);
// Reads and checks /agent against the agent's parameter names and shapes.
AgentState ReadAgent(const h5::Reader& r, const SacAgent& agent);
// Puts a read state into the agent (UserError naming `path` when it does not fit).
void ApplyAgentState(const AgentState& state, const std::string& path, SacAgent* agent);

}  // namespace qosroute
