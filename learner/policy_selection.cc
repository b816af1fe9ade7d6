#include "learner/policy_selection.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "common/error.h"
#include "env/evaluation.h"
#include "env/metrics.h"
#include "learner/agent_evaluation.h"

namespace qosroute {

bool IsAdmissible(const SelectionScore& score, double tolerance) {
  return score.min_gain >= -tolerance;
}

bool PreferCandidate(const SelectionScore& candidate, const SelectionScore& incumbent,
                     double tolerance) {
  const bool candidate_ok = IsAdmissible(candidate, tolerance);
  const bool incumbent_ok = IsAdmissible(incumbent, tolerance);
  if (candidate_ok != incumbent_ok) return candidate_ok;
  if (candidate_ok) return candidate.mean_gain > incumbent.mean_gain;
  return candidate.min_gain > incumbent.min_gain;
}

PolicySelector::PolicySelector(const EnvConfig& env_config,
                               std::shared_ptr<const Workload> workload,
                               const GreedyQosOptions& greedy, PolicySelectionOptions options)
    : env_config_(env_config),
      workload_(std::move(workload)),
      greedy_(greedy),
      options_(std::move(options)) {}

EnvConfig PolicySelector::ConfigAtRate(double rate) const {
  EnvConfig c = env_config_;
  c.arrivals.process = "poisson";
  c.arrivals.rate = rate;
  c.arrivals.episode_rates.clear();
  if (options_.requests_per_episode > 0) c.requests_per_episode = options_.requests_per_episode;
  return c;
}

std::vector<SelectionScore> PolicySelector::Score(SacAgent& agent, long frames, long updates) {
  QR_CHECK(enabled());
  if (greedy_episode_qos_.empty()) {
    // greedy-qos is deterministic: its validation episodes are the same at every snapshot.
    const GreedyQosOptions greedy = greedy_;
    for (double rate : options_.rates) {
      const auto episodes = EvaluatePolicy(
          ConfigAtRate(rate), workload_,
          [greedy] { return MakeHeuristic(Heuristic::kGreedyQos, greedy); }, options_.seed_base,
          options_.seeds, options_.threads);
      std::vector<double> qos;
      for (const auto& m : episodes) qos.push_back(m.avg_qos);
      greedy_episode_qos_.push_back(std::move(qos));
    }
  }
  const double own_margin = agent.config().deviation_margin;
  std::vector<SelectionScore> scores;
  try {
    for (double margin : options_.margins)
      scores.push_back(ScoreAtMargin(agent, frames, updates, margin));
  } catch (...) {
    agent.set_deviation_margin(own_margin);
    throw;
  }
  agent.set_deviation_margin(own_margin);
  return scores;
}

size_t PolicySelector::Best(const std::vector<SelectionScore>& scores, double tolerance) {
  QR_CHECK(!scores.empty());
  size_t best = 0;
  for (size_t i = 1; i < scores.size(); ++i) {
    if (PreferCandidate(scores[i], scores[best], tolerance)) best = i;
  }
  return best;
}

SelectionScore PolicySelector::ScoreAtMargin(SacAgent& agent, long frames, long updates,
                                             double margin) {
  agent.set_deviation_margin(margin);
  const size_t num_rates = options_.rates.size();
  SelectionScore score;
  score.frames = frames;
  score.updates = updates;
  score.margin = margin;
  score.rates = options_.rates;
  score.min_gain = std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < num_rates; ++k) {
    const auto episodes = EvaluateAgent(agent, ConfigAtRate(options_.rates[k]), workload_,
                                        options_.seed_base, options_.seeds);
    std::vector<double> qos, diff;
    for (size_t e = 0; e < episodes.size(); ++e) {
      qos.push_back(episodes[e].avg_qos);
      diff.push_back(episodes[e].avg_qos - greedy_episode_qos_[k][e]);
    }
    const MeanCi gain = MeanWithCi95(diff);
    score.agent_qos.push_back(MeanWithCi95(qos).mean);
    score.greedy_qos.push_back(MeanWithCi95(greedy_episode_qos_[k]).mean);
    score.gain.push_back(gain.mean);
    score.gain_ci95.push_back(gain.ci95);
    score.mean_gain += gain.mean / static_cast<double>(num_rates);
    score.min_gain = std::min(score.min_gain, gain.mean);
  }
  return score;
}

const char* PolicySelector::CsvHeader() {
  return "frames,updates,margin,rate,agent_qos,greedy_qos,paired_gain,paired_gain_ci95,mean_gain,"
         "min_gain,selected\n";
}

std::string PolicySelector::CsvRows(const SelectionScore& score, bool selected) {
  std::string rows;
  for (size_t k = 0; k < score.rates.size(); ++k) {
    rows += fmt::format("{},{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{}\n", score.frames,
                        score.updates, score.margin, score.rates[k], score.agent_qos[k],
                        score.greedy_qos[k], score.gain[k], score.gain_ci95[k], score.mean_gain,
                        score.min_gain, selected ? 1 : 0);
  }
  return rows;
}

}  // namespace qosroute
