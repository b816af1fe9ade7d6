// The groups of the reference layout (request 3, expert 12, slot 6 features), in the positions
// every policy file and checkpoint written before the schema has them. The switched ones
// among them keep their columns, as zeros, while off (FeatureGroup::Presence::kZerosWhenOff).
#include <algorithm>
#include <limits>

#include "env/cluster_env.h"
#include "env/feature_schema.h"
#include "env/features/request_timing.h"
#include "env/heuristics.h"

namespace qosroute {

using features::ExpertRow;

const FeatureGroup& RequestArrivedGroup() {
  static const FeatureGroup group{
      "request.arrived",
      FeatureNode::kRequest,
      1,
      {{"prompt", "arrived request's prompt tokens / 128"},
       {"mean_pred_score", "its predicted score, mean over the experts"},
       {"mean_pred_output", "its predicted output tokens / 128, mean over the experts"}},
      FeatureGroup::Presence::kAlways,
      nullptr,
      nullptr,
      [](const FeatureContext& c, Observation* obs, int offset) {
        const ArrivedRequestView& a = c.env.arrived();
        const int n = static_cast<int>(a.pred_score.size());
        float mean_score = 0.0f, mean_output = 0.0f;
        for (int e = 0; e < n; ++e) {
          mean_score += a.pred_score[e];
          mean_output += a.pred_output_tokens[e];
        }
        obs->request[offset + 0] = a.prompt_tokens / kTokenScale;
        obs->request[offset + 1] = mean_score / n;
        obs->request[offset + 2] = mean_output / n / kTokenScale;
      }};
  return group;
}

const FeatureGroup& ExpertLoadGroup() {
  static const FeatureGroup group{"expert.load",
                                  FeatureNode::kExpert,
                                  1,
                                  {{"kv_used", "fraction of the expert's KV blocks in use"},
                                   {"running", "running requests / 10"},
                                   {"waiting", "waiting requests / 10"}},
                                  FeatureGroup::Presence::kAlways,
                                  nullptr,
                                  nullptr,
                                  [](const FeatureContext& c, Observation* obs, int offset) {
                                    for (int e = 0; e < obs->num_experts; ++e) {
                                      const ExpertServer& s = c.env.experts()[e];
                                      float* f = ExpertRow(obs, e) + offset;
                                      f[0] = s.blocks_used() * (1.0f / s.num_blocks());
                                      f[1] = s.running().size() / kCountScale;
                                      f[2] = s.waiting().size() / kCountScale;
                                    }
                                  }};
  return group;
}

const FeatureGroup& ExpertArrivedGroup() {
  static const FeatureGroup group{
      "expert.arrived",
      FeatureNode::kExpert,
      1,
      {{"prompt", "arrived request's prompt tokens / 128"},
       {"pred_score", "its predicted score on this expert"},
       {"pred_output", "its predicted output tokens on this expert / 128"}},
      FeatureGroup::Presence::kAlways,
      nullptr,
      nullptr,
      [](const FeatureContext& c, Observation* obs, int offset) {
        const ArrivedRequestView& a = c.env.arrived();
        for (int e = 0; e < obs->num_experts; ++e) {
          float* f = ExpertRow(obs, e) + offset;
          f[0] = a.prompt_tokens / kTokenScale;
          f[1] = a.pred_score[e];
          f[2] = a.pred_output_tokens[e] / kTokenScale;
        }
      }};
  return group;
}

const FeatureGroup& ExpertIterationGroup() {
  static const FeatureGroup group{
      "expert.iteration",
      FeatureNode::kExpert,
      1,
      {{"decode_iteration", "current decode iteration time (running batch) / SLA"}},
      FeatureGroup::Presence::kAlways,
      nullptr,
      nullptr,
      [](const FeatureContext& c, Observation* obs, int offset) {
        for (int e = 0; e < obs->num_experts; ++e) {
          const ExpertServer& s = c.env.experts()[e];
          const double iteration = s.time_model().DecodeSeconds(
              s.running_context_tokens(), static_cast<int>(s.running().size()));
          ExpertRow(obs, e)[offset] = static_cast<float>(iteration / c.env.config().sla);
        }
      }};
  return group;
}

const FeatureGroup& ExpertLookaheadGroup() {
  static const FeatureGroup group{
      "expert.lookahead",
      FeatureNode::kExpert,
      1,
      {{"lookahead_latency",
        "greedy-qos look-ahead of the arrived request's latency per token here / SLA, clipped "
        "to 10 (predicted lengths)"},
       {"lookahead_harm",
        "predicted scores of queued requests that routing here would push past the SLA (soft)"}},
      FeatureGroup::Presence::kZerosWhenOff,
      [](const EnvConfig& c) { return c.lookahead_features; },
      [](EnvConfig* c, bool on) { c->lookahead_features = on; },
      [](const FeatureContext& c, Observation* obs, int offset) {
        const double sla = c.env.config().sla;
        for (int e = 0; e < obs->num_experts; ++e) {
          const LookaheadEstimate& estimate = c.Lookahead(e);
          float* f = ExpertRow(obs, e) + offset;
          f[0] =
              std::min(kLatencyClip, static_cast<float>(estimate.arrived_latency_per_token / sla));
          f[1] = static_cast<float>(estimate.harm);
        }
      }};
  return group;
}

const FeatureGroup& ExpertScorePriorGroup() {
  static const FeatureGroup group{
      "expert.score_prior",
      FeatureNode::kExpert,
      1,
      {{"mean_score", "the expert's mean response score over the workload (a static prior)"}},
      FeatureGroup::Presence::kZerosWhenOff,
      [](const EnvConfig& c) { return c.expert_score_prior; },
      [](EnvConfig* c, bool on) { c->expert_score_prior = on; },
      [](const FeatureContext& c, Observation* obs, int offset) {
        for (int e = 0; e < obs->num_experts; ++e)
          ExpertRow(obs, e)[offset] = c.env.expert_mean_scores()[e];
      }};
  return group;
}

const FeatureGroup& ExpertGreedyValueGroup() {
  static const FeatureGroup group{
      "expert.greedy_value",
      FeatureNode::kExpert,
      1,
      {{"greedy_value",
        "greedy-qos's value of routing here: predicted score x P(meets the SLA) - harm"},
       {"greedy_margin",
        "(value - the best expert's value) / 0.05, clipped to -10: 0 for greedy-qos's choice"}},
      FeatureGroup::Presence::kZerosWhenOff,
      [](const EnvConfig& c) { return c.lookahead_features && c.lookahead_value; },
      [](EnvConfig* c, bool on) { c->lookahead_value = on; },
      [](const FeatureContext& c, Observation* obs, int offset) {
        const EnvConfig& config = c.env.config();
        const ArrivedRequestView& a = c.env.arrived();
        float best = -std::numeric_limits<float>::infinity();
        for (int e = 0; e < obs->num_experts; ++e) {
          const LookaheadEstimate& estimate = c.Lookahead(e);
          const float value = static_cast<float>(
              a.pred_score[e] * MeetProbability(estimate.arrived_latency_per_token, config.sla,
                                                config.lookahead_sharpness) -
              estimate.harm);
          ExpertRow(obs, e)[offset] = value;
          best = std::max(best, value);
        }
        // The margin puts the small differences that decide between experts of similar
        // quality (~0.01) at O(1).
        for (int e = 0; e < obs->num_experts; ++e) {
          float* f = ExpertRow(obs, e) + offset;
          f[1] = std::max(-kValueMarginClip, (f[0] - best) / kValueMarginScale);
        }
      }};
  return group;
}

namespace {

// The first `slots` requests of a queue as slot features; the slots past its end are zero
// and masked out. Requests beyond `slots` are not shown (docs/SIMULATOR.md: observation).
template <typename Queue>
void FillSlots(const Queue& queue, int slots, double now, float sla, float inv_blocks, float* dst,
               uint8_t* mask) {
  const int shown = std::min<int>(slots, static_cast<int>(queue.size()));
  for (int s = 0; s < shown; ++s) {
    const ActiveRequest& r = queue[s];
    float* f = dst + static_cast<size_t>(s) * kSlotFeatures;
    f[0] = r.prompt_tokens / kTokenScale;
    f[1] = r.pred_score;
    f[2] = r.pred_output_tokens / kTokenScale;
    f[3] = r.blocks * inv_blocks;
    f[4] = r.generated / kTokenScale;
    const double lpt = features::CurrentLatencyPerToken(r, now);
    f[5] = std::min(kLatencyClip, static_cast<float>(lpt / sla));
  }
  std::fill(dst + static_cast<size_t>(shown) * kSlotFeatures,
            dst + static_cast<size_t>(slots) * kSlotFeatures, 0.0f);
  std::fill(mask, mask + slots, 0);
  std::fill(mask, mask + shown, 1);
}

}  // namespace

const FeatureGroup& SlotRequestGroup() {
  static const FeatureGroup group{
      "slot.request",
      FeatureNode::kSlot,
      1,
      {{"prompt", "prompt tokens / 128"},
       {"pred_score", "predicted score"},
       {"pred_output", "predicted output tokens / 128"},
       {"kv_share", "fraction of the expert's KV blocks this request holds"},
       {"generated", "output tokens generated so far / 128"},
       {"latency", "current latency per token / SLA (elapsed / max(1, generated)), clipped to 10"}},
      FeatureGroup::Presence::kAlways,
      nullptr,
      nullptr,
      [](const FeatureContext& c, Observation* obs, int) {
        const int r = obs->max_running, w = obs->max_waiting;
        const float sla = static_cast<float>(c.env.config().sla);
        for (int e = 0; e < obs->num_experts; ++e) {
          const ExpertServer& s = c.env.experts()[e];
          const float inv_blocks = 1.0f / s.num_blocks();
          FillSlots(s.running(), r, c.env.now(), sla, inv_blocks,
                    obs->running.data() + static_cast<size_t>(e) * r * kSlotFeatures,
                    obs->running_mask.data() + static_cast<size_t>(e) * r);
          FillSlots(s.waiting(), w, c.env.now(), sla, inv_blocks,
                    obs->waiting.data() + static_cast<size_t>(e) * w * kSlotFeatures,
                    obs->waiting_mask.data() + static_cast<size_t>(e) * w);
        }
      }};
  return group;
}

}  // namespace qosroute
