// Construction, episode set-up, stepping the engines and the clock, the observation's assembly,
// live serving and the metrics. Elsewhere: ValidateEnvConfig (env_config.cc), the reward and its
// shaping (cluster_reward.cc), the byte snapshot (cluster_state.cc), the features (env/features/).
#include "env/cluster_env.h"

#include <algorithm>

#include "common/error.h"
#include "env/feature_schema.h"

namespace qosroute {

namespace {

// Independent random streams per purpose, so that changing one part of the config (say the
// predictor noise) leaves the arrivals and the sampled requests of a seed unchanged.
uint64_t StreamSeed(uint64_t seed, uint64_t stream) {
  return seed * 0x9E3779B97F4A7C15ULL + stream;
}

}  // namespace

ClusterEnv::ClusterEnv(const EnvConfig& config, std::shared_ptr<const Workload> workload,
                       double discount)
    : config_(config), discount_(discount), workload_(std::move(workload)) {
  ValidateEnvConfig(config_);
  QR_CHECK_MSG(discount >= 0.0 && discount <= 1.0, "discount outside [0, 1]");
  schema_ = ObservationSchema::For(config_);
  for (const ObservationSchema::Entry& entry : schema_.entries())
    feature_groups_.push_back(FindFeatureGroup(entry.name));
  // The Observation's request and slot rows are fixed-size (observation.h).
  QR_CHECK(schema_.Width(FeatureNode::kRequest) == kRequestFeatures);
  QR_CHECK(schema_.Width(FeatureNode::kSlot) == kSlotFeatures);
  QR_CHECK(workload_ != nullptr);
  if (workload_->records.empty())
    throw UserError("workload " + workload_->source + " holds no records");
  const int n = static_cast<int>(config_.experts.size());
  candidate_index_.resize(workload_->records.size() * n);
  for (size_t r = 0; r < workload_->records.size(); ++r) {
    const WorkloadRecord& record = workload_->records[r];
    for (int e = 0; e < n; ++e) {
      const std::string& model = config_.experts[e].name;
      int found = -1;
      for (size_t c = 0; c < record.candidates.size(); ++c) {
        if (record.candidates[c].model == model) found = static_cast<int>(c);
      }
      if (found < 0) {
        throw UserError("workload " + workload_->source + " record " + std::to_string(r) +
                        " (id '" + record.id + "') has no candidate for expert '" + model + "'");
      }
      candidate_index_[r * n + e] = found;
    }
  }
  // The expert's mean response score over the workload: what a router knows of a model's
  // average quality before any request (the spec's "mean BERTScore on mix-instruct").
  std::vector<double> sums(n, 0.0);
  for (size_t r = 0; r < workload_->records.size(); ++r) {
    for (int e = 0; e < n; ++e) {
      sums[e] += workload_->records[r].candidates[candidate_index_[r * n + e]].score;
    }
  }
  for (int e = 0; e < n; ++e) {
    expert_mean_score_.push_back(static_cast<float>(sums[e] / workload_->records.size()));
  }
  for (int e = 0; e < n; ++e) experts_.emplace_back(e, config_.experts[e]);
}

void ClusterEnv::SetUpEpisode(uint64_t seed) {
  current_potential_.reset();
  const int n = static_cast<int>(config_.experts.size());
  const int count = config_.requests_per_episode;
  Rng arrival_rng(StreamSeed(seed, 1));
  Rng sample_rng(StreamSeed(seed, 2));
  Rng predictor_rng(StreamSeed(seed, 3));
  arrivals_ = GenerateArrivals(config_.arrivals, count, arrival_rng);
  QR_CHECK(static_cast<int>(arrivals_.size()) == count);
  prompt_tokens_.assign(count, 0);
  true_output_.assign(static_cast<size_t>(count) * n, 0);
  true_score_.assign(static_cast<size_t>(count) * n, 0.0f);
  pred_output_.assign(static_cast<size_t>(count) * n, 0);
  pred_score_.assign(static_cast<size_t>(count) * n, 0.0f);
  upper_bound_sum_ = 0.0;
  const size_t num_records = workload_->records.size();
  for (int i = 0; i < count; ++i) {
    const size_t rec =
        config_.sampling == "sequential" ? i % num_records : sample_rng.Below(num_records);
    const WorkloadRecord& record = workload_->records[rec];
    prompt_tokens_[i] = record.prompt_tokens;
    double best = 0.0;
    for (int e = 0; e < n; ++e) {
      const CandidateRecord& c = record.candidates[candidate_index_[rec * n + e]];
      const size_t k = static_cast<size_t>(i) * n + e;
      true_output_[k] = c.output_tokens;
      true_score_[k] = static_cast<float>(c.score);
      Prediction p = Predict(config_.predictor, c.score, c.output_tokens, predictor_rng);
      if (config_.predictor.use_data_predictions && c.pred_score >= 0 && c.pred_output_tokens > 0) {
        p = Prediction{c.pred_score, c.pred_output_tokens};
      }
      pred_score_[k] = static_cast<float>(p.score);
      pred_output_[k] = p.output_tokens;
      best = std::max(best, c.score);
    }
    upper_bound_sum_ += best;
  }
}

const Observation& ClusterEnv::Reset(uint64_t seed) {
  SetUpEpisode(seed);
  experts_.clear();
  for (size_t e = 0; e < config_.experts.size(); ++e)
    experts_.emplace_back(static_cast<int>(e), config_.experts[e]);
  pending_.clear();
  metrics_.Reset();
  step_ = 0;
  done_ = false;
  now_ = arrivals_.front();
  end_time_ = now_;
  AdvanceAllTo(now_);
  UpdateArrivedView();
  BuildObservation();
  return observation_;
}

void ClusterEnv::AdvanceAllTo(double time) {
  for (ExpertServer& e : experts_) e.AdvanceTo(time, &pending_);
}

StepResult ClusterEnv::DoStep(int action) {
  const int n = static_cast<int>(experts_.size());
  StepResult result;
  double potential_before = 0.0;
  if (config_.potential_shaping) {
    if (!current_potential_) current_potential_ = ShapingPotential();
    potential_before = *current_potential_;
  }
  if (action == n) {
    metrics_.AddDrop();
  } else {
    if (config_.impact_penalty) result.penalty = ImpactPenalty(action);
    const size_t k = static_cast<size_t>(step_) * n + action;
    ActiveRequest r;
    r.id = step_;
    r.arrival = arrivals_[step_];
    r.prompt_tokens = prompt_tokens_[step_];
    r.output_tokens = true_output_[k];
    r.score = true_score_[k];
    r.pred_score = pred_score_[k];
    r.pred_output_tokens = pred_output_[k];
    experts_[action].Enqueue(r, now_);
  }
  ++step_;
  if (step_ < static_cast<int>(arrivals_.size())) {
    now_ = arrivals_[step_];
    AdvanceAllTo(now_);
    // The decision just taken is step_ - 1.
    result.credited = CreditUpTo(now_, false, step_ - 1);
  } else {
    // The last decision also collects everything that completes while the cluster drains.
    end_time_ = now_;
    for (ExpertServer& e : experts_) {
      e.Drain(&pending_);
      end_time_ = std::max(end_time_, e.clock());
    }
    result.credited = CreditUpTo(0.0, true, step_ - 1);
    done_ = true;
  }
  if (config_.potential_shaping) {
    // Everything is credited at the end of an episode: Phi(terminal) = 0.
    const double potential_after = done_ ? 0.0 : ShapingPotential();
    current_potential_ = potential_after;
    result.shaping = discount_ * potential_after - potential_before;
  }
  result.reward = result.credited - result.penalty + result.shaping;
  result.done = done_;
  if (!done_) {
    UpdateArrivedView();
    BuildObservation();
  }
  return result;
}

void ClusterEnv::UpdateArrivedView() {
  const int n = static_cast<int>(experts_.size());
  arrived_.id = step_;
  arrived_.arrival = arrivals_[step_];
  arrived_.prompt_tokens = prompt_tokens_[step_];
  arrived_.pred_score.assign(pred_score_.begin() + static_cast<size_t>(step_) * n,
                             pred_score_.begin() + static_cast<size_t>(step_ + 1) * n);
  arrived_.pred_output_tokens.assign(pred_output_.begin() + static_cast<size_t>(step_) * n,
                                     pred_output_.begin() + static_cast<size_t>(step_ + 1) * n);
}

void ClusterEnv::BuildObservation() {
  const int n = static_cast<int>(experts_.size());
  const int width = schema_.Width(FeatureNode::kExpert);
  Observation& obs = observation_;
  if (obs.num_experts != n || obs.max_running != config_.max_running_slots ||
      obs.max_waiting != config_.max_waiting_slots || obs.expert_features != width) {
    obs.Resize(n, config_.max_running_slots, config_.max_waiting_slots, width);
  }
  // Every group of the schema in layout order; a switched-off group's columns are zeros.
  const FeatureContext context(*this);
  for (size_t g = 0; g < feature_groups_.size(); ++g) {
    const ObservationSchema::Entry& entry = schema_.entries()[g];
    if (entry.on) {
      feature_groups_[g]->fill(context, &obs, entry.offset);
      continue;
    }
    QR_CHECK(entry.node == FeatureNode::kExpert);  // only expert groups can be off
    for (int e = 0; e < n; ++e) {
      float* row = obs.expert.data() + static_cast<size_t>(e) * width + entry.offset;
      std::fill(row, row + entry.width, 0.0f);
    }
  }
  std::fill(obs.action_mask.begin(), obs.action_mask.end(), 1);
  obs.action_mask[n] = config_.allow_drop ? 1 : 0;
  obs.schema_id = schema_.Id();
}

ClusterEnv::EpisodeRequest ClusterEnv::Request(int index) const {
  QR_CHECK_MSG(index >= 0 && index < num_requests(), "request index out of the episode");
  const size_t n = experts_.size(), first = static_cast<size_t>(index) * n;
  EpisodeRequest r;
  r.arrival = arrivals_[index];
  r.prompt_tokens = prompt_tokens_[index];
  r.true_output_tokens.assign(true_output_.begin() + first, true_output_.begin() + first + n);
  r.true_score.assign(true_score_.begin() + first, true_score_.begin() + first + n);
  r.pred_output_tokens.assign(pred_output_.begin() + first, pred_output_.begin() + first + n);
  r.pred_score.assign(pred_score_.begin() + first, pred_score_.begin() + first + n);
  return r;
}

const Observation& ClusterEnv::ObserveLive(double now, const ArrivedRequestView& arrived,
                                           const std::vector<LiveExpert>& experts,
                                           const std::vector<uint8_t>& available) {
  const size_t n = config_.experts.size();
  QR_CHECK(experts.size() == n && available.size() == n);
  QR_CHECK(arrived.pred_score.size() == n && arrived.pred_output_tokens.size() == n);
  if (experts_.size() != n) {
    experts_.clear();
    for (size_t e = 0; e < n; ++e) experts_.emplace_back(static_cast<int>(e), config_.experts[e]);
  }
  for (size_t e = 0; e < n; ++e)
    experts_[e].SetLiveQueues(std::max(now, experts[e].busy_until), experts[e].running,
                              experts[e].waiting, experts[e].other_blocks);
  now_ = now;
  arrived_ = arrived;
  current_potential_.reset();
  BuildObservation();
  for (size_t e = 0; e < n; ++e) observation_.action_mask[e] = available[e] ? 1 : 0;
  return observation_;
}

ClusterEnv::Counts ClusterEnv::CountRequests() const {
  Counts c;
  c.decided = step_;
  c.completed = metrics_.completed();
  c.dropped = metrics_.dropped();
  for (const Completion& p : pending_) (p.rejected ? c.dropped : c.completed) += 1;
  for (const ExpertServer& e : experts_) c.in_flight += e.running().size() + e.waiting().size();
  return c;
}

EpisodeMetrics ClusterEnv::Metrics() const {
  QR_CHECK_MSG(done_, "metrics are complete only at the end of an episode");
  const double n = static_cast<double>(arrivals_.size());
  return metrics_.Finish(static_cast<long>(arrivals_.size()), upper_bound_sum_ / n,
                         end_time_ - arrivals_.front(), experts_);
}

}  // namespace qosroute
