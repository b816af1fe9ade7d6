#pragma once
// The edge cluster as an episodic environment: one decision per arriving request (route to
// an expert or drop it), the reward of spec section 2 (credited QoS minus the impact
// penalty), the graph observation, metrics, and a complete byte snapshot of its state.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/rng.h"
#include "env/arrivals.h"
#include "env/environment.h"
#include "env/episode_data.h"
#include "env/expert_server.h"
#include "env/feature_schema.h"
#include "env/metrics.h"
#include "env/predictor.h"
#include "env/workload.h"

namespace qosroute {

struct EnvConfig {
  std::vector<ExpertConfig> experts;
  ArrivalConfig arrivals;
  PredictorConfig predictor;
  int requests_per_episode = 5000;
  std::string sampling = "random";  // random: records drawn with replacement per episode seed;
                                    // sequential: records 0.. in file order (the ref's choice)
  double sla = 0.03;                // latency-per-token SLA, seconds per token
  int max_running_slots = 10;       // R
  int max_waiting_slots = 10;       // W
  bool allow_drop = true;
  bool impact_penalty = true;
  // Expert features 7 and 8 (observation.h): the greedy-qos look-ahead per expert. Ours, not
  // the ref's; costs a short simulation per expert per decision.
  bool lookahead_features = false;
  double lookahead_sharpness = 0.03;  // as GreedyQosOptions::sharpness
  // With lookahead_features, also expert features 10 and 11: greedy-qos's value of each
  // expert and its margin to the best one (observation.h). The value is a function of
  // features 4, 7 and 8, but a steep one (the SLA probability's sigmoid), and the margins that
  // decide between experts of similar quality are ~0.01; given directly, both are easy to read.
  bool lookahead_value = true;
  // Expert feature 9 (observation.h): the expert's mean response score over the workload.
  // Ours, not the ref's. With it a policy can learn how far to trust the predictor: given a
  // noisy predicted score, the expected true score lies between the prediction and the
  // expert's mean, and the learned router can weigh the two where greedy-qos cannot.
  bool expert_score_prior = false;
  // Expert features 12-18 (observation.h): per-expert aggregates over all running and
  // waiting requests (work queued and ahead, worst latency so far, requests past the SLA, KV
  // held beyond the slots). Ours. With dozens of requests per expert the R/W slots show only
  // the first R and W; these keep the rest visible. Widens the HAN's expert input.
  bool expert_aggregates = false;
  // Optional feature groups switched on by name (env/feature_schema.h: the groups without a
  // key of their own, e.g. request.choice, expert.speed, expert.relative_work).
  std::vector<std::string> feature_groups;
  // Potential-based reward shaping (Ng, Harada and Russell 1999; ours, not the ref's): adds
  // gamma * Phi(s') - Phi(s) to every reward, where Phi is the sum of the predicted scores of
  // the requests routed but not yet credited. Routing a request to an expert then pays its
  // predicted score there at once, and its completion pays only the surprise (score minus
  // prediction, or minus the prediction when it misses the SLA), instead of the whole
  // score several decisions later. Such shaping leaves the optimal policies unchanged;
  // metrics never include it. gamma is the learner's discount, handed to the env at
  // construction (ClusterEnv's `discount`), not a config value of its own.
  bool potential_shaping = false;
  // Phi of potential_shaping:
  //  predicted  the sum above: every routed request is expected to meet the SLA;
  //  lookahead  each queued request's predicted score x its probability of meeting the SLA
  //             under greedy-qos's look-ahead (predicted lengths, no later arrivals), plus the
  //             predicted scores of finished, not yet credited requests that met it. Routing
  //             then pays at once about what greedy-qos values the choice at: the new
  //             request's expected score minus what it costs the requests queued before it,
  //             so harm to others is charged at the decision instead of when they finish
  //             late. Still a potential, so the optimal policies are unchanged; the learner
  //             is left to learn where the look-ahead is wrong.
  std::string shaping_potential = "predicted";
  // Ours, not the ref's. The metric values a request's score the same whenever it completes;
  // a discounted return does not: a score credited k decisions after its routing is worth
  // gamma^k at the decision (0.86 for 15 decisions at gamma 0.99), so with plain crediting
  // the learner prefers experts that finish sooner, by as much as the 1-4% of score that
  // separates the experts. With undiscounted_credit each credited score, and each request's
  // term in the shaping potential, is divided by discount^k, k = decisions since the
  // request was routed: the return then values every routed request at its score, and
  // discounting applies only to the decisions still to come. The potential's terms grow at
  // exactly 1/gamma per decision, so the shaping pays the value at the decision and then
  // nothing until the request's credit pays (score - value) / gamma^k.
  bool undiscounted_credit = false;
  // Energy-aware QoS (ours; the paper's QoS counts energy): a request served within the SLA
  // is credited score - energy_weight x its energy per output token (J/token, its share of
  // the iterations it took part in), in the reward and in EpisodeMetrics::avg_energy_qos.
  // 0 = the paper's QoS. At 0.36 J/token on a loaded RTX 4090, 0.05 costs ~0.02 per request.
  double energy_weight = 0.0;
};

// Throws UserError naming the key when a value is out of range.
void ValidateEnvConfig(const EnvConfig& config);

// What a router may know about the arrived request: predictions only, never the truth.
struct ArrivedRequestView {
  int id = 0;
  double arrival = 0.0;
  int prompt_tokens = 0;
  std::vector<float> pred_score;        // per expert
  std::vector<int> pred_output_tokens;  // per expert
};

class ClusterEnv final : public Environment {
 public:
  // The workload must hold a candidate for every configured expert in every record.
  // `discount`: the learner's discount, which the reward's shaping (gamma * Phi(s') - Phi(s))
  // and undiscounted credit (gamma^-k) use; trainers hand over theirs (MakeTrainingEnv,
  // learner/sac_hyperparameters.h), its one owner being sac.gamma. Envs that only measure
  // (evaluation, serve) use no reward and keep 1.
  ClusterEnv(const EnvConfig& config, std::shared_ptr<const Workload> workload,
             double discount = 1.0);
  double discount() const { return discount_; }

  const Observation& Reset(uint64_t seed) override;
  const Observation& observation() const override { return observation_; }
  bool done() const override { return done_; }
  std::vector<uint8_t> SaveState() const override;
  void LoadState(const std::vector<uint8_t>& bytes) override;

  // For heuristic routers: the cluster state and the arrived request's predictions.
  const EnvConfig& config() const { return setup_->config; }
  const std::vector<ExpertServer>& experts() const { return experts_; }
  const ArrivedRequestView& arrived() const { return arrived_; }
  double now() const { return now_; }
  int step_index() const { return step_; }
  int num_requests() const {
    return future_ ? future_from_ + future_->size() : episode_ ? episode_->size() : 0;
  }

  // Planning: a fork is a copy that shares the episode's requests, the workload and the
  // setup, and copies only what stepping changes (queues, clocks, pending completions,
  // metrics): docs/PERFORMANCE.md measures it against SaveState + LoadState. A fork steps on
  // exactly as the original would.
  ClusterEnv Fork() const { return *this; }
  // The same into an existing env of this config (a planner's reused slot): its buffers are
  // reused, so a fork allocates nothing once the slots have grown to the queues' sizes.
  void ForkInto(ClusterEnv* fork) const { *fork = *this; }
  // Replaces the requests from the arrived one (step_index()) on by `future`'s rows 0..: the
  // episode then ends after them. Row 0 must arrive now (the arrived request); its
  // predictions become the arrived view, and the observation is rebuilt. For a planner's
  // sampled futures and a hindsight bound's true one. On a live env (ObserveLive, no episode)
  // the requests in flight become the episode's past (one row each, by arrival) and the
  // future its rest, from step_index() = their count on, with the metrics from zero: `serve`
  // plans on forks of the live cluster.
  void ReplaceFuture(std::shared_ptr<const EpisodeData> future);
  // Calls `set(expert, request)` on every request queued or running, whose truth (output
  // tokens, score) a planner may replace by a sample; the output must stay above the tokens
  // generated so far (checked). `set_pending(completion, predicted score)` may replace the
  // score of each completion not yet credited.
  void ResampleInFlight(
      const std::function<void(int expert, ActiveRequest* request)>& set,
      const std::function<void(Completion* completion, float predicted_score)>& set_pending = {});
  // Makes this env a planner's rollout fork: its steps compute only what a rollout values
  // (the credit; no impact penalty, no shaping) and build no observation (observation()
  // keeps the last one built, with its action mask), while the arrived view stays current
  // for the heuristics. Forks made from it keep the mode. `observe`: it still builds each
  // observation, for a base policy that decides from observations (a learned one).
  void MakePlanningFork(bool observe = false) {
    planning_ = true;
    planning_observes_ = observe;
  }
  bool planning_fork() const { return planning_; }
  // Built by ObserveLive and never reset: the cluster as `serve` sees it, with no episode.
  bool live() const { return live_; }
  // Forgets the credit counted so far (the metrics restart), so that CreditedQos() counts
  // from here on: a planner values a fork's rollout by what it credits, which then does not
  // depend on the truth of requests credited before.
  void RestartCreditCount() { metrics_.Reset(); }
  // The observation's layout (the feature groups in force).
  const ObservationSchema& schema() const { return setup_->schema; }
  // Each expert's mean response score over the workload (the expert.score_prior group).
  const std::vector<float>& expert_mean_scores() const { return setup_->expert_mean_score; }

  // The impact penalty of routing the arrived request to `expert` (spec section 2; uses the
  // truth, so it is for the reward only).
  double ImpactPenalty(int expert) const;
  // Phi of potential_shaping (EnvConfig::shaping_potential) in the current state.
  double ShapingPotential() const;
  // The "predicted" potential: predicted scores of the routed requests not yet credited.
  double UncreditedPredictedScore() const;
  // The "lookahead" potential.
  double LookaheadPotential() const;

  // Request accounting so far: every decided request is completed, dropped (by the router
  // or rejected by an engine) or still in flight.
  struct Counts {
    long decided = 0;
    long completed = 0;
    long dropped = 0;
    long in_flight = 0;
  };
  Counts CountRequests() const;
  // What the episode's metrics have credited so far: the QoS of the requests served within
  // the SLA, and how many requests that covers (credited completions plus drops). Trainers
  // take the change across a step for their rolling QoS (telemetry/rolling_qos.h).
  double CreditedQos() const { return metrics_.total_qos(); }
  long CreditedRequests() const { return metrics_.completed() + metrics_.dropped(); }

  // Metrics of the finished episode (valid once done()).
  EpisodeMetrics Metrics() const;

  // One request of the episode drawn at Reset, truth and predictions per expert: what a load
  // generator replays against live servers (serve/loadgen) so that live and simulated runs
  // see the same requests for the same seed.
  struct EpisodeRequest {
    double arrival = 0.0;
    int prompt_tokens = 0;
    std::vector<int> true_output_tokens;  // per expert
    std::vector<float> true_score;
    std::vector<int> pred_output_tokens;
    std::vector<float> pred_score;
  };
  EpisodeRequest Request(int index) const;

  // Serving (serve/): the cluster as a router sees it live. Replaces every expert's queues
  // and the arrived request, and builds the observation with the code training uses, so that
  // heuristics and trained policies decide on live traffic exactly as in simulation. Experts
  // whose `available` entry is 0 (unhealthy backends) are masked out of the action mask.
  struct LiveExpert {
    std::vector<ActiveRequest> running;  // admission order
    std::vector<ActiveRequest> waiting;  // FCFS
    int other_blocks = 0;  // KV blocks of requests the router does not know of (other clients)
    // When the engine's iteration in progress ends, where known (the simulator's state);
    // a router does not know it and leaves 0: the look-ahead then starts at `now`.
    double busy_until = 0.0;
  };
  const Observation& ObserveLive(double now, const ArrivedRequestView& arrived,
                                 const std::vector<LiveExpert>& experts,
                                 const std::vector<uint8_t>& available);

 protected:
  StepResult DoStep(int action) override;

 private:
  void SetUpEpisode(uint64_t seed);
  // ReplaceFuture on a live env: the future becomes the episode (cluster_fork.cc).
  void StartLiveEpisode();
  void AdvanceAllTo(double time);
  // Feeds completions up to `time` (all with `everything`) to the metrics and returns their
  // reward: the scores within the SLA, weighted by CreditWeight for `decision`.
  double CreditUpTo(double time, bool everything, int decision);
  // 1, or discount_^-(decision - routed_at) with undiscounted_credit.
  double CreditWeight(int routed_at, int decision) const;
  void BuildObservation();
  bool BuildsObservations() const { return !planning_ || planning_observes_; }
  void UpdateArrivedView();
  // Where request `index` lives: the episode drawn at Reset, or the replaced future.
  struct RequestRow {
    const EpisodeData* data;
    int row;
  };
  RequestRow Row(int index) const {
    if (future_ && index >= future_from_) return {future_.get(), index - future_from_};
    return {episode_.get(), index};
  }
  double ArrivalOf(int index) const {
    const RequestRow r = Row(index);
    return r.data->arrivals[r.row];
  }
  float PredictedScore(const Completion& c) const {
    const RequestRow r = Row(c.id);
    return r.data->pred_score[r.data->At(r.row, c.expert)];
  }
  // Sum over the episode's requests of the best true score (the metrics' upper bound).
  double UpperBoundSum() const;
  // The requests this env runs on as one EpisodeData: episode_, or a merged copy when a
  // future replaced part of it.
  std::shared_ptr<const EpisodeData> EffectiveEpisode() const;

  // What construction sets and nothing changes after: shared by forks, not copied.
  struct Setup {
    EnvConfig config;
    ObservationSchema schema;  // the observation's layout (the feature groups in force)
    uint64_t schema_id = 0;
    std::vector<const FeatureGroup*> feature_groups;  // schema's groups, in its order
    std::vector<int> candidate_index;                 // [record][expert] -> candidate position
    std::vector<float> expert_mean_score;  // per expert, over the workload (expert.score_prior)
    // Per expert, the first expert serving the same model (itself when none before it):
    // replicas of a model share its answers and their predictions.
    std::vector<int> model_first;
  };
  std::shared_ptr<const Setup> setup_;
  double discount_ = 1.0;
  std::shared_ptr<const Workload> workload_;

  // The episode's requests, drawn at Reset (shared by forks), and a replaced future from
  // request future_from_ on (ReplaceFuture; nullptr: none).
  std::shared_ptr<const EpisodeData> episode_;
  std::shared_ptr<const EpisodeData> future_;
  int future_from_ = 0;

  std::vector<ExpertServer> experts_;
  std::vector<Completion> pending_;  // completed, not yet credited (finish after `now`)
  std::vector<Completion> scratch_;
  MetricsAccumulator metrics_;
  int step_ = 0;
  double now_ = 0.0;
  bool done_ = true;
  // Phi of the current state, kept from the previous step's Phi(s') so that each step runs
  // the potential (one look-ahead per expert) once, not twice. Cleared whenever the state is
  // replaced (new episode, LoadState).
  std::optional<double> current_potential_;
  double end_time_ = 0.0;
  bool planning_ = false;           // MakePlanningFork
  bool planning_observes_ = false;  // MakePlanningFork(observe)
  bool live_ = false;  // ObserveLive; a ReplaceFuture turns a live fork into an episode

  ArrivedRequestView arrived_;
  Observation observation_;
};

}  // namespace qosroute
