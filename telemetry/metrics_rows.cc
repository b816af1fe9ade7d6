#include "telemetry/metrics_rows.h"

#include <fmt/format.h>

namespace qosroute {

namespace {

// "{:.<digits>f}" of a value, or "" when absent.
std::string Cell(const std::optional<double>& value, int digits = 6) {
  return value ? fmt::format("{:.{}f}", *value, digits) : std::string();
}

}  // namespace

const char* TrainCsvHeader() {
  return "kind,frames,updates,episodes,wall_s,frames_per_s,updates_per_s,episode_qos,critic_loss,"
         "actor_loss,alpha,entropy,q_mean,policy_lag,rolling_qos,rolling_requests\n";
}

const char* EvalCsvHeader() {
  return "frames,updates,policy,episodes,avg_qos,avg_qos_ci95,sla_attainment,drop_rate,"
         "latency_per_token_mean,greedy_qos,vs_greedy_qos,vs_greedy_qos_ci95\n";
}

std::string FormatTrainRow(const TrainRow& r) {
  return fmt::format("{},{},{},{},{:.3f},{},{},{},{},{},{},{},{},{},{},{}\n", r.kind, r.frames,
                     r.updates, r.episodes, r.wall_s, Cell(r.frames_per_s, 2),
                     Cell(r.updates_per_s, 3), Cell(r.episode_qos), Cell(r.critic_loss),
                     Cell(r.actor_loss), Cell(r.alpha), Cell(r.entropy), Cell(r.q_mean),
                     Cell(r.policy_lag, 3), Cell(r.rolling_qos),
                     r.rolling_requests ? std::to_string(*r.rolling_requests) : std::string());
}

std::string FormatEvalRow(const EvalRow& r) {
  return fmt::format("{},{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{},{},{}\n", r.frames,
                     r.updates, r.policy, r.episodes, r.avg_qos, r.avg_qos_ci95, r.sla_attainment,
                     r.drop_rate, r.latency_per_token_mean, Cell(r.greedy_qos),
                     Cell(r.vs_greedy_qos), Cell(r.vs_greedy_qos_ci95));
}

}  // namespace qosroute
