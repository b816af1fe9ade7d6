#pragma once
// Shared by the SAC test suites: random observations and minibatches, and a small agent
// configuration that keeps every test fast.
#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/rng.h"
#include "env/cluster_env.h"
#include "env/observation.h"
#include "learner/graph_batch.h"
#include "learner/sac.h"

namespace qosroute::sac_test_util {

// The observation layout an EnvConfig with these group switches builds (env/feature_schema.h).
inline ObservationSchema Layout(bool lookahead, bool value = true, bool score_prior = false,
                                bool aggregates = false) {
  EnvConfig env;
  env.lookahead_features = lookahead;
  env.lookahead_value = value;
  env.expert_score_prior = score_prior;
  env.expert_aggregates = aggregates;
  return ObservationSchema::For(env);
}

inline Observation RandomObservation(Rng& rng, int n, int r, int w, bool allow_drop,
                                     int expert_features = kExpertFeatures) {
  Observation o;
  o.Resize(n, r, w, expert_features);
  for (float& v : o.request) v = static_cast<float>(rng.Uniform());
  for (float& v : o.expert) v = static_cast<float>(rng.Uniform());
  for (float& v : o.running) v = static_cast<float>(rng.Normal());
  for (float& v : o.waiting) v = static_cast<float>(rng.Normal());
  for (auto& m : o.running_mask) m = rng.Uniform() < 0.6 ? 1 : 0;
  for (auto& m : o.waiting_mask) m = rng.Uniform() < 0.4 ? 1 : 0;
  o.action_mask[n] = allow_drop ? 1 : 0;
  return o;
}

// A replay-like minibatch with valid random actions, rewards in [0, 1] and some terminals.
struct Transitions {
  std::vector<Observation> obs, next_obs;
  GraphBatch obs_batch, next_batch;
  torch::Tensor actions, rewards, dones;
};

inline GraphBatch Batch(const std::vector<Observation>& observations) {
  std::vector<const Observation*> ptrs;
  for (const auto& o : observations) ptrs.push_back(&o);
  return BatchObservations(ptrs);
}

inline Transitions RandomTransitions(uint64_t seed, int count, int n, int r, int w,
                                     int expert_features = kExpertFeatures) {
  Rng rng(seed);
  Transitions t;
  std::vector<int64_t> actions;
  std::vector<float> rewards, dones;
  for (int i = 0; i < count; ++i) {
    t.obs.push_back(RandomObservation(rng, n, r, w, /*allow_drop=*/i % 3 != 0, expert_features));
    t.next_obs.push_back(
        RandomObservation(rng, n, r, w, /*allow_drop=*/i % 4 != 0, expert_features));
    const Observation& o = t.obs.back();
    int a;
    do {
      a = static_cast<int>(rng.Below(o.num_actions()));
    } while (!o.action_mask[a]);
    actions.push_back(a);
    rewards.push_back(static_cast<float>(rng.Uniform()));
    dones.push_back(i % 5 == 4 ? 1.0f : 0.0f);
  }
  t.obs_batch = Batch(t.obs);
  t.next_batch = Batch(t.next_obs);
  t.actions = torch::tensor(actions, torch::kInt64);
  t.rewards = torch::tensor(rewards);
  t.dones = torch::tensor(dones);
  return t;
}

inline SacConfig SmallConfig(const std::string& encoder) {
  SacConfig c;
  c.encoder = Encoders().Parse(encoder, "test");
  c.han.hidden(32).heads(4).layers(2).semantic_hidden(16);
  c.flat_hidden = 32;
  c.flat_mlp_hidden = {32, 32};
  c.mlp_hidden = {32, 32};
  c.num_experts = 3;
  c.max_running = 4;
  c.max_waiting = 3;
  c.seed = 11;
  return c;
}

// Zeroes the output layer (the highest-numbered one) of both actor MLPs: the actor then adds 0
// to every logit, so a policy with a prior acts as the prior. Returns false when the agent
// has no such layers.
inline bool SilenceActor(SacAgent& agent) {
  torch::NoGradGuard no_grad;
  for (const std::string mlp : {"actor.expert_mlp.", "actor.drop_mlp."}) {
    int last = -1;
    for (const auto& [name, p] : agent.NamedParameters()) {
      if (name.rfind(mlp, 0) == 0) last = std::max(last, std::stoi(name.substr(mlp.size())));
    }
    if (last < 0) return false;
    const std::string prefix = mlp + std::to_string(last) + ".";
    for (const auto& [name, p] : agent.NamedParameters()) {
      if (name.rfind(prefix, 0) == 0) p.zero_();
    }
  }
  return true;
}

}  // namespace qosroute::sac_test_util
