#include "learner/trainer_core_state.h"

#include <type_traits>

namespace qosroute {
namespace {

constexpr char kCounters[] = "/counters";
constexpr char kLoop[] = "/loop";

// Every field of the schedule with its attribute name, for both directions.
template <typename Schedule, typename Visit>
void ForEachScheduleField(Schedule& s, Visit visit) {
  visit("next_log_frames", s.next_log_frames);
  visit("next_eval_frames", s.next_eval_frames);
  visit("last_log_frames", s.last_log_frames);
  visit("last_log_updates", s.last_log_updates);
  visit("last_eval_qos", s.last_eval_qos);
  visit("last_episode_qos", s.last_episode_qos);
  visit("loss_critic", s.last_losses.critic);
  visit("loss_actor", s.last_losses.actor);
  visit("loss_alpha", s.last_losses.alpha_loss);
  visit("alpha", s.last_losses.alpha);
  visit("entropy", s.last_losses.entropy);
  visit("q_mean", s.last_losses.q_mean);
}

}  // namespace

void WriteTrainerCore(h5::Writer& w, const TrainerCoreState& s, long frames) {
  w.Group(kCounters);
  w.Attribute(kCounters, "frames", static_cast<int64_t>(frames));
  w.Attribute(kCounters, "updates", static_cast<int64_t>(s.updates));
  w.Attribute(kCounters, "episodes", static_cast<int64_t>(s.episodes));
  w.Attribute(kCounters, "weight_version", s.weight_version);
  w.Attribute(kCounters, "seed", static_cast<int64_t>(s.seed));

  w.Group(kLoop);
  ForEachScheduleField(s.schedule, [&](const char* name, auto value) {
    if constexpr (std::is_integral_v<decltype(value)>) {
      w.Attribute(kLoop, name, static_cast<int64_t>(value));
    } else {
      w.Attribute(kLoop, name, static_cast<double>(value));
    }
  });
  w.Attribute(kLoop, "elapsed_seconds", s.elapsed_seconds);

  w.Group("/rolling");
  w.Attribute("/rolling", "qos_sum", s.rolling_qos_sum);
  w.Attribute("/rolling", "requests", static_cast<int64_t>(s.rolling_requests));
  w.Group("/metrics");
  w.Text("/metrics/train_csv", s.train_csv);
  w.Text("/metrics/eval_csv", s.eval_csv);
  WriteSelectionState(w, s.selection);
}

void ReadTrainerCore(const h5::Reader& r, TrainerCoreState* s) {
  s->updates = r.IntAttribute(kCounters, "updates");
  s->episodes = r.IntAttribute(kCounters, "episodes");
  s->weight_version = r.IntAttribute(kCounters, "weight_version");
  s->seed = static_cast<uint64_t>(r.IntAttribute(kCounters, "seed"));

  ForEachScheduleField(s->schedule, [&](const char* name, auto& value) {
    if constexpr (std::is_integral_v<std::remove_reference_t<decltype(value)>>) {
      value = r.IntAttribute(kLoop, name);
    } else {
      value = r.DoubleAttribute(kLoop, name);
    }
  });
  s->elapsed_seconds = r.DoubleAttribute(kLoop, "elapsed_seconds");
  if (r.Has("/rolling")) {  // written since the rolling QoS exists
    s->rolling_qos_sum = r.DoubleAttribute("/rolling", "qos_sum");
    s->rolling_requests = r.IntAttribute("/rolling", "requests");
  }
  s->train_csv = r.Text("/metrics/train_csv");
  s->eval_csv = r.Text("/metrics/eval_csv");
  s->config_text = r.Text("/config");
  s->selection = ReadSelectionState(r);
}

}  // namespace qosroute
