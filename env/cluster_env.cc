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
    : discount_(discount), workload_(std::move(workload)) {
  ValidateEnvConfig(config);
  QR_CHECK_MSG(discount >= 0.0 && discount <= 1.0, "discount outside [0, 1]");
  auto setup = std::make_shared<Setup>();
  setup->config = config;
  setup->schema = ObservationSchema::For(config);
  for (const ObservationSchema::Entry& entry : setup->schema.entries())
    setup->feature_groups.push_back(FindFeatureGroup(entry.name));
  // The Observation's slot rows are fixed-size (observation.h).
  QR_CHECK(setup->schema.Width(FeatureNode::kSlot) == kSlotFeatures);
  setup->schema_id = setup->schema.Id();
  QR_CHECK(workload_ != nullptr);
  if (workload_->records.empty())
    throw UserError("workload " + workload_->source + " holds no records");
  const int n = static_cast<int>(config.experts.size());
  const std::vector<std::string> models = ModelNames(config.experts);
  setup->candidate_index = CandidateIndex(*workload_, models);
  for (int e = 0; e < n; ++e) {
    setup->model_first.push_back(
        static_cast<int>(std::find(models.begin(), models.end(), models[e]) - models.begin()));
  }
  const std::vector<int>& candidate_index = setup->candidate_index;
  // The expert's mean response score over the workload: what a router knows of a model's
  // average quality before any request (the spec's "mean BERTScore on mix-instruct").
  std::vector<double> sums(n, 0.0);
  for (size_t r = 0; r < workload_->records.size(); ++r) {
    for (int e = 0; e < n; ++e)
      sums[e] += workload_->records[r].candidates[candidate_index[r * n + e]].score;
  }
  for (int e = 0; e < n; ++e) {
    setup->expert_mean_score.push_back(static_cast<float>(sums[e] / workload_->records.size()));
  }
  setup_ = std::move(setup);
  for (int e = 0; e < n; ++e) experts_.emplace_back(e, config.experts[e]);
}

void ClusterEnv::SetUpEpisode(uint64_t seed) {
  current_potential_.reset();
  const int n = static_cast<int>(setup_->config.experts.size());
  const int count = setup_->config.requests_per_episode;
  Rng arrival_rng(StreamSeed(seed, 1));
  Rng sample_rng(StreamSeed(seed, 2));
  Rng predictor_rng(StreamSeed(seed, 3));
  auto episode = std::make_shared<EpisodeData>();
  EpisodeData& d = *episode;
  d.Resize(count, n);
  d.arrivals = GenerateArrivals(setup_->config.arrivals, count, arrival_rng);
  QR_CHECK(d.size() == count);
  const size_t num_records = workload_->records.size();
  for (int i = 0; i < count; ++i) {
    const size_t rec =
        setup_->config.sampling == "sequential" ? i % num_records : sample_rng.Below(num_records);
    const WorkloadRecord& record = workload_->records[rec];
    d.prompt_tokens[i] = record.prompt_tokens;
    double best = 0.0;
    for (int e = 0; e < n; ++e) {
      const CandidateRecord& c = record.candidates[setup_->candidate_index[rec * n + e]];
      const size_t k = d.At(i, e);
      d.true_output[k] = c.output_tokens;
      d.true_score[k] = static_cast<float>(c.score);
      if (setup_->model_first[e] != e) {  // a replica: its model's prediction, no new draw
        const size_t first = d.At(i, setup_->model_first[e]);
        d.pred_score[k] = d.pred_score[first];
        d.pred_output[k] = d.pred_output[first];
        continue;
      }
      Prediction p = Predict(setup_->config.predictor, c.score, c.output_tokens, predictor_rng);
      if (setup_->config.predictor.use_data_predictions && c.pred_score >= 0 &&
          c.pred_output_tokens > 0) {
        p = Prediction{c.pred_score, c.pred_output_tokens};
      }
      d.pred_score[k] = static_cast<float>(p.score);
      d.pred_output[k] = p.output_tokens;
      best = std::max(best, c.score);
    }
    d.upper_bound_sum += best;
  }
  episode_ = std::move(episode);
  future_.reset();
  future_from_ = 0;
}

const Observation& ClusterEnv::Reset(uint64_t seed) {
  SetUpEpisode(seed);
  experts_.clear();
  for (size_t e = 0; e < setup_->config.experts.size(); ++e)
    experts_.emplace_back(static_cast<int>(e), setup_->config.experts[e]);
  pending_.clear();
  metrics_.Reset();
  step_ = 0;
  done_ = false;
  live_ = false;
  now_ = episode_->arrivals.front();
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
  const bool shaping = setup_->config.potential_shaping && !planning_;
  if (shaping) {
    if (!current_potential_) current_potential_ = ShapingPotential();
    potential_before = *current_potential_;
  }
  if (action == n) {
    metrics_.AddDrop();
  } else {
    if (setup_->config.impact_penalty && !planning_) result.penalty = ImpactPenalty(action);
    const RequestRow row = Row(step_);
    const EpisodeData& d = *row.data;
    const size_t k = d.At(row.row, action);
    ActiveRequest r;
    r.id = step_;
    r.arrival = d.arrivals[row.row];
    r.prompt_tokens = d.prompt_tokens[row.row];
    r.output_tokens = d.true_output[k];
    r.score = d.true_score[k];
    r.pred_score = d.pred_score[k];
    r.pred_output_tokens = d.pred_output[k];
    experts_[action].Enqueue(r, now_);
  }
  ++step_;
  if (step_ < num_requests()) {
    now_ = ArrivalOf(step_);
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
  if (shaping) {
    // Everything is credited at the end of an episode: Phi(terminal) = 0.
    const double potential_after = done_ ? 0.0 : ShapingPotential();
    current_potential_ = potential_after;
    result.shaping = discount_ * potential_after - potential_before;
  }
  result.reward = result.credited - result.penalty + result.shaping;
  result.done = done_;
  if (!done_) {
    UpdateArrivedView();
    if (BuildsObservations()) BuildObservation();
  }
  return result;
}

void ClusterEnv::UpdateArrivedView() {
  const int n = static_cast<int>(experts_.size());
  arrived_.id = step_;
  const RequestRow row = Row(step_);
  const EpisodeData& d = *row.data;
  arrived_.arrival = d.arrivals[row.row];
  arrived_.prompt_tokens = d.prompt_tokens[row.row];
  arrived_.pred_score.assign(d.pred_score.begin() + d.At(row.row, 0),
                             d.pred_score.begin() + d.At(row.row, n));
  arrived_.pred_output_tokens.assign(d.pred_output.begin() + d.At(row.row, 0),
                                     d.pred_output.begin() + d.At(row.row, n));
}

void ClusterEnv::BuildObservation() {
  const int n = static_cast<int>(experts_.size());
  const int width = setup_->schema.Width(FeatureNode::kExpert);
  const int request_width = setup_->schema.Width(FeatureNode::kRequest);
  Observation& obs = observation_;
  if (obs.num_experts != n || obs.max_running != setup_->config.max_running_slots ||
      obs.max_waiting != setup_->config.max_waiting_slots || obs.expert_features != width ||
      obs.request_features != request_width) {
    obs.Resize(n, setup_->config.max_running_slots, setup_->config.max_waiting_slots, width,
               request_width);
  }
  // Every group of the schema in layout order; a switched-off group's columns are zeros.
  const FeatureContext context(*this);
  for (size_t g = 0; g < setup_->feature_groups.size(); ++g) {
    const ObservationSchema::Entry& entry = setup_->schema.entries()[g];
    if (entry.on) {
      setup_->feature_groups[g]->fill(context, &obs, entry.offset);
      continue;
    }
    QR_CHECK(entry.node == FeatureNode::kExpert);  // only expert groups can be off
    for (int e = 0; e < n; ++e) {
      float* row = obs.expert.data() + static_cast<size_t>(e) * width + entry.offset;
      std::fill(row, row + entry.width, 0.0f);
    }
  }
  std::fill(obs.action_mask.begin(), obs.action_mask.end(), 1);
  obs.action_mask[n] = setup_->config.allow_drop ? 1 : 0;
  obs.schema_id = setup_->schema_id;
}

ClusterEnv::EpisodeRequest ClusterEnv::Request(int index) const {
  QR_CHECK_MSG(index >= 0 && index < num_requests(), "request index out of the episode");
  const RequestRow row = Row(index);
  const EpisodeData& d = *row.data;
  const size_t n = experts_.size(), first = d.At(row.row, 0);
  EpisodeRequest r;
  r.arrival = d.arrivals[row.row];
  r.prompt_tokens = d.prompt_tokens[row.row];
  r.true_output_tokens.assign(d.true_output.begin() + first, d.true_output.begin() + first + n);
  r.true_score.assign(d.true_score.begin() + first, d.true_score.begin() + first + n);
  r.pred_output_tokens.assign(d.pred_output.begin() + first, d.pred_output.begin() + first + n);
  r.pred_score.assign(d.pred_score.begin() + first, d.pred_score.begin() + first + n);
  return r;
}

const Observation& ClusterEnv::ObserveLive(double now, const ArrivedRequestView& arrived,
                                           const std::vector<LiveExpert>& experts,
                                           const std::vector<uint8_t>& available) {
  const size_t n = setup_->config.experts.size();
  QR_CHECK(experts.size() == n && available.size() == n);
  QR_CHECK(arrived.pred_score.size() == n && arrived.pred_output_tokens.size() == n);
  if (experts_.size() != n) {
    experts_.clear();
    for (size_t e = 0; e < n; ++e)
      experts_.emplace_back(static_cast<int>(e), setup_->config.experts[e]);
  }
  for (size_t e = 0; e < n; ++e)
    experts_[e].SetLiveQueues(std::max(now, experts[e].busy_until), experts[e].running,
                              experts[e].waiting, experts[e].other_blocks);
  now_ = now;
  arrived_ = arrived;
  live_ = true;
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
  const int requests = num_requests();
  return metrics_.Finish(requests, UpperBoundSum() / requests, end_time_ - ArrivalOf(0), experts_);
}

}  // namespace qosroute
