#pragma once
// The rows of metrics/train.csv and metrics/eval.csv: one schema for the single-process
// trainer and the distributed learner. A value a row does not have is an empty cell, never a
// stand-in 0 (a plot of 0 would show a router that earns nothing).
#include <optional>
#include <string>

namespace qosroute {

// kind "log": a progress row; kind "episode": a finished training episode.
struct TrainRow {
  std::string kind = "log";
  long frames = 0;
  long updates = 0;
  long episodes = 0;  // finished training episodes so far
  double wall_s = 0.0;
  std::optional<double> frames_per_s, updates_per_s;
  // The last finished training episode's average QoS (log rows), or this episode's.
  std::optional<double> episode_qos;
  std::optional<double> critic_loss, actor_loss, alpha, entropy, q_mean;
  std::optional<double> policy_lag;
  // Average QoS of the training requests resolved (completed or dropped) since the previous
  // log row, over every environment: a progress figure that does not wait for episodes.
  std::optional<double> rolling_qos;
  std::optional<long> rolling_requests;
};

// The periodic held-out evaluation of the current policy, paired with greedy-qos on the same
// episodes.
struct EvalRow {
  long frames = 0;
  long updates = 0;
  std::string policy = "sac";
  long episodes = 0;
  double avg_qos = 0.0;
  double avg_qos_ci95 = 0.0;
  double sla_attainment = 0.0;
  double drop_rate = 0.0;
  double latency_per_token_mean = 0.0;
  std::optional<double> greedy_qos;                         // greedy-qos on the same episodes
  std::optional<double> vs_greedy_qos, vs_greedy_qos_ci95;  // paired difference
};

const char* TrainCsvHeader();
const char* EvalCsvHeader();
std::string FormatTrainRow(const TrainRow& row);
std::string FormatEvalRow(const EvalRow& row);

}  // namespace qosroute
