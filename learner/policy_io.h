#pragma once
// A trained policy on disk: one HDF5 file holding every parameter of the agent (online,
// target and log_alpha) and the architecture needed to rebuild it.
//
//   /                 attributes: format = "qosroute-policy", format_version, encoder,
//                     hidden, heads, layers, semantic_hidden, mlp_hidden[], flat_mlp_hidden[],
//                     request_features, expert_features, slot_features,
//                     num_experts, max_running, max_waiting, ..., deviation_margin
//   /parameters/<name>  float32 dataset of the parameter's shape, <name> as in
//                       SacAgent::NamedParameters() (e.g. "encoder.layers.0.expert_proj.weight")
//
// Loading checks the architecture first and throws UserError with one sentence naming the
// file and the first field that differs. The HAN runs on any N, R and W, so those are checked
// only for the flat encoder, whose input width depends on them. Written and read through the
// one HDF5 layer of checkpoint/hdf5_file.h (as checkpoints are), so every failure is one
// UserError naming the file and the object, and larger parameters are Fletcher-32 checksummed.
// The HDF5 C library is not thread-safe: call these from one thread at a time.
#include <string>
#include <vector>

#include "checkpoint/hdf5_file.h"
#include "learner/sac.h"

namespace qosroute {

struct PolicyArchitecture {
  std::string encoder;
  int64_t hidden = 0;
  int64_t heads = 0;
  int64_t layers = 0;
  int64_t semantic_hidden = 0;
  std::vector<int64_t> mlp_hidden;
  int64_t dueling = 0;  // 1 = dueling critic heads
  std::vector<int64_t> flat_mlp_hidden;
  int64_t request_features = 0;
  int64_t expert_features = 0;
  int64_t slot_features = 0;
  int64_t num_experts = 0;
  int64_t max_running = 0;
  int64_t max_waiting = 0;
  // The observation's feature groups the policy was trained with (env/feature_schema.h):
  // attribute observation_schema; files from before it existed record four on/off
  // attributes instead (lookahead_features, lookahead_value, expert_score_prior,
  // expert_aggregates), read as the layout those switches built.
  ObservationSchema schema = DefaultObservationSchema();
  // The prior policy added to the actor's logits (SacConfig::prior) and its parameters.
  std::string prior = "none";
  double prior_temperature = 0.0;
  double prior_drop_value = 0.0;
};

// The architecture an agent built from `config` has (feature counts from this build).
PolicyArchitecture ArchitectureOf(const SacConfig& config);

// Sets the architecture fields of *config to `architecture`, so that an evaluator can build
// the agent a file needs, including the optional observation features it was trained with.
// Throws UserError if the file's feature layout is not this build's.
void ApplyArchitecture(const PolicyArchitecture& architecture, const std::string& path,
                       SacConfig* config);

// The first field in which `file` and `wanted` differ, as "<field>=<file> but the config asks
// for <wanted>", or "" when they agree in every field that shapes the parameters. The HAN's
// expert count and slots are compared only with pin_layout (checkpoints: their replay and
// simulators have those shapes) or for the flat encoder.
std::string ArchitectureDifference(const PolicyArchitecture& file, const PolicyArchitecture& wanted,
                                   bool pin_layout);

// The architecture as attributes of `group` (an existing group: "/" in policy files,
// "/architecture" in checkpoints).
void WriteArchitecture(h5::Writer& w, const std::string& group, const PolicyArchitecture& a);
PolicyArchitecture ReadArchitecture(const h5::Reader& r, const std::string& group);

// Writes atomically: to `path`.tmp first, then renamed over `path`.
void SavePolicy(const std::string& path, const SacAgent& agent);

PolicyArchitecture ReadPolicyArchitecture(const std::string& path);

// The deviation margin (SacConfig::deviation_margin) the file was saved with: attribute
// @deviation_margin, 0 when absent (files written before it existed). Deployment, not
// architecture: loading never compares it.
double ReadPolicyDeviationMargin(const std::string& path);

// Copies every parameter from `path` into *agent after checking that the architectures agree.
void LoadPolicy(const std::string& path, SacAgent* agent);

}  // namespace qosroute
