#pragma once
// Model selection on validation episodes: at every periodic evaluation the trainer scores
// the current policy against greedy-qos at a few arrival rates, on validation seeds that are
// disjoint from the training and the evaluation seeds, and keeps the best-scoring policy as
// <run_dir>/policy_selected.h5 beside the final policy.h5.
//
// Why: the learned router's gain over greedy-qos changes with training and with load (it
// grows where the cluster is loaded and can drift below zero where it is idle), so "the
// policy after the last update" is not always the one to deploy. Choosing among the periodic
// snapshots on episodes the final evaluation never sees is the honest way to pick one.
//
// A candidate is a snapshot deployed with one deviation margin (SacConfig::deviation_margin:
// with a greedy-qos prior, the router keeps greedy-qos's choice unless it prefers another
// action by more than the margin in nats). Its score is its paired gain over greedy-qos per
// validation rate (the mean, over the same seeds, of the per-episode difference in average
// QoS). A candidate is admissible when its gain at every rate is at least -tolerance; among
// admissible candidates the one with the highest mean gain over the rates wins; while none is
// admissible, the one with the highest worst-rate gain is kept. Ties keep the earlier
// snapshot, and within a snapshot the margin listed first.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "learner/sac.h"
#include "learner/train_schedule.h"

namespace qosroute {

// One snapshot's validation result.
struct SelectionScore {
  long frames = 0;
  long updates = 0;
  double margin = 0.0;  // the deviation margin it was deployed with
  std::vector<double> rates;
  std::vector<double> agent_qos, greedy_qos;  // mean avg QoS per rate
  std::vector<double> gain, gain_ci95;        // paired agent - greedy-qos per rate
  double mean_gain = 0.0;                     // mean of gain over the rates
  double min_gain = 0.0;                      // worst rate's gain
};

bool IsAdmissible(const SelectionScore& score, double tolerance);

// True when `candidate` should replace `incumbent` under the rule above.
bool PreferCandidate(const SelectionScore& candidate, const SelectionScore& incumbent,
                     double tolerance);

// Scores snapshots; greedy-qos's validation episodes are run once and reused.
class PolicySelector {
 public:
  PolicySelector(const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
                 const GreedyQosOptions& greedy, PolicySelectionOptions options);

  bool enabled() const { return !options_.rates.empty(); }
  const PolicySelectionOptions& options() const { return options_; }

  // Validates `agent` (greedy actions) at every rate, once per margin (in the order of
  // options.margins); the agent's own margin is put back afterwards.
  std::vector<SelectionScore> Score(SacAgent& agent, long frames, long updates);

  // The index of the best of `scores` under the rule (the first among equals).
  static size_t Best(const std::vector<SelectionScore>& scores, double tolerance);

  // The CSV header and the rows of one score (one row per rate).
  static const char* CsvHeader();
  static std::string CsvRows(const SelectionScore& score, bool selected);

 private:
  EnvConfig ConfigAtRate(double rate) const;
  SelectionScore ScoreAtMargin(SacAgent& agent, long frames, long updates, double margin);

  EnvConfig env_config_;
  std::shared_ptr<const Workload> workload_;
  GreedyQosOptions greedy_;
  PolicySelectionOptions options_;
  std::vector<std::vector<double>> greedy_episode_qos_;  // per rate, per seed; empty until run
};

}  // namespace qosroute
