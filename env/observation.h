#pragma once
// The routing observation as plain structs: a heterogeneous graph with fixed-size, masked
// slots, laid out contiguously so that batching into tensors is a memcpy per field.
//
//   arrived request (1 node) <-> every expert (N nodes)
//   expert e <-> its running requests (up to R slots, mask says which exist)
//   expert e <-> its waiting requests (up to W slots)
//
// The per-expert values of the arrived request (its predicted score and length on that
// expert) sit on the expert node (the arrived->expert edge), so one policy serves any N and
// any ordering of experts. All features are normalised to O(1).
#include <cstdint>
#include <vector>

namespace qosroute {

// Feature scales shared by every producer of observations.
constexpr float kTokenScale = 128.0f;  // tokens / 128
constexpr float kCountScale = 10.0f;   // queue lengths / 10
constexpr float kLatencyClip = 10.0f;  // latency / SLA, clipped

// Arrived-request node, reference layout: prompt tokens/128, mean predicted score over
// experts, mean predicted output tokens/128 over experts. Request groups switched on by
// env.feature_groups add columns after these (Observation::request_features).
constexpr int kRequestFeatures = 3;

// Expert node (edge features of arrived->expert included):
//  0 KV-block utilisation (fraction of blocks in use)
//  1 running requests / 10
//  2 waiting requests / 10
//  3 arrived request's prompt tokens / 128
//  4 arrived request's predicted score on this expert
//  5 arrived request's predicted output tokens on this expert / 128
//  6 current decode iteration time (c0 + k2 x context tokens of the running batch) / SLA
//  7 look-ahead estimate of the arrived request's latency per token on this expert / SLA,
//    clipped to 10 (the greedy-qos simulation with predicted lengths; 0 when
//    env.lookahead_features is off)
//  8 look-ahead estimate of the harm: predicted scores of queued requests that routing here
//    would push past the SLA (soft, as greedy-qos weighs it; 0 when off)
//  9 the expert's mean response score over the workload (0 when env.expert_score_prior is
//    off): a static prior for reading feature 4, whose predictor is noisy
// 10 greedy-qos's value of routing here: feature 4 x P(meets the SLA | feature 7) - feature 8
//    (0 when env.lookahead_features is off)
// 11 (feature 10 - the largest feature 10 over the experts) / 0.05, clipped to -10: 0 for
//    greedy-qos's choice, negative for the others (0 when off)
constexpr int kExpertFeatures = 12;
constexpr int kGreedyValueFeature = 10;  // read by the learner's greedy-qos prior
// With env.expert_aggregates, 7 more expert features over ALL the expert's running and
// waiting requests, so that what the R and W slots cannot show still reaches the policy
// when dozens of requests run per expert (features 0-2 already count all of them and their
// whole KV use):
// 12 predicted output tokens still to generate by the running requests (sum over them of
//    max(0, predicted output - generated)) / (128 x 10): the decode work ahead
// 13 prompt tokens of the waiting requests / (128 x 10): the prefill work queued
// 14 predicted output tokens of the waiting requests / (128 x 10)
// 15 worst current latency per token among the running requests / SLA (slot feature 5's
//    formula), clipped to 10
// 16 running requests whose current latency per token is past the SLA / 10
// 17 worst current latency per token among the waiting requests / SLA, clipped to 10 (for a
//    request never run: its time in the queue)
// 18 fraction of the expert's KV blocks held by running requests beyond the R slots
// The learner's input width follows (policy files record it); the flat baseline keeps the
// reference layout and does not read them, as it does not read features 6-11.
constexpr int kAggregateFeatures = 7;
constexpr int kFirstAggregateFeature = kExpertFeatures;
// Expert features per node: kExpertFeatures, plus kAggregateFeatures with the aggregates.
inline int ExpertFeatureWidth(bool aggregates) {
  return kExpertFeatures + (aggregates ? kAggregateFeatures : 0);
}
constexpr float kValueMarginScale = 0.05f;
constexpr float kValueMarginClip = 10.0f;

// Running or waiting request slot (spec: prompt tokens, predicted score, predicted output
// tokens, KV fraction held, output tokens so far, current latency per token):
//  0 prompt tokens / 128
//  1 predicted score
//  2 predicted output tokens / 128
//  3 fraction of the expert's KV blocks this request holds
//  4 output tokens generated so far / 128
//  5 current latency per token / SLA (elapsed / max(1, generated)), clipped to 10
constexpr int kSlotFeatures = 6;

// Width of the reference flat encoding per expert: 3 arrived + 3 expert + (R + W) x 6 slots.
// With R = W = 10 this is the ref's 126 values per expert.
inline int FlatWidthPerExpert(int max_running, int max_waiting) {
  return 6 + (max_running + max_waiting) * kSlotFeatures;
}

struct Observation {
  int num_experts = 0;
  int max_running = 0;                      // R
  int max_waiting = 0;                      // W
  int expert_features = kExpertFeatures;    // F: the schema's expert width
  int request_features = kRequestFeatures;  // Q: the schema's request width
  std::vector<float> request = std::vector<float>(kRequestFeatures, 0.0f);  // [Q]
  std::vector<float> expert;                                                // [N][F]
  std::vector<float> running;                                               // [N][R][kSlotFeatures]
  std::vector<uint8_t> running_mask;  // [N][R], 1 = slot holds a request
  std::vector<float> waiting;         // [N][W][kSlotFeatures]
  std::vector<uint8_t> waiting_mask;  // [N][W]
  std::vector<uint8_t> action_mask;   // [N + 1]; action N = drop
  // ObservationSchema::Id() of the layout that built it (env/feature_schema.h); 0 where no
  // schema built it (decoded from replay records, the toy environment).
  uint64_t schema_id = 0;

  int num_actions() const { return num_experts + 1; }
  int drop_action() const { return num_experts; }

  // Sizes every buffer for N experts, R/W slots, F expert and Q request features, zero-filled.
  void Resize(int n, int r, int w, int f = kExpertFeatures, int q = kRequestFeatures);
  bool SameLayout(const Observation& o) const {
    return num_experts == o.num_experts && max_running == o.max_running &&
           max_waiting == o.max_waiting && expert_features == o.expert_features &&
           request_features == o.request_features;
  }

  // The reference flat encoding (126 values per expert for R = W = 10), written into *out.
  // Per expert: [prompt/128, pred score, pred output/128, KV util, running/10, waiting/10,
  // R running slots x 6, W waiting slots x 6]; absent slots are zeros.
  void FlatView(std::vector<float>* out) const;
};

}  // namespace qosroute
