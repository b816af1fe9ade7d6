#include "env/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace qosroute {

void MetricsAccumulator::Reset() {
  *this = MetricsAccumulator();
}

double RequestCredit(const Completion& c, double sla, double energy_weight) {
  if (c.rejected || !(c.latency_per_token() < sla)) return 0.0;
  return energy_weight == 0.0 ? c.score : c.score - energy_weight * c.energy_per_token_j();
}

void MetricsAccumulator::AddCompletion(const Completion& c, double sla, double energy_weight) {
  if (c.rejected) {
    ++dropped_;
    return;
  }
  const double lpt = c.latency_per_token();
  latencies_.push_back(lpt);
  if (c.ttft() >= 0.0) ttfts_.push_back(c.ttft());
  score_sum_ += c.score;
  output_tokens_ += c.output_tokens;
  if (lpt < sla) {
    ++met_sla_;
    total_qos_ += c.score;
    energy_qos_ += RequestCredit(c, sla, energy_weight);
  }
}

EpisodeMetrics MetricsAccumulator::Finish(long requests, double upper_bound, double makespan_s,
                                          const std::vector<ExpertServer>& experts) const {
  EpisodeMetrics m;
  m.requests = requests;
  m.completed = completed();
  m.dropped = dropped_;
  m.met_sla = met_sla_;
  m.total_qos = total_qos_;
  m.avg_qos = requests > 0 ? total_qos_ / requests : 0.0;
  m.avg_score = m.completed > 0 ? score_sum_ / m.completed : 0.0;
  m.sla_attainment = requests > 0 ? static_cast<double>(met_sla_) / requests : 0.0;
  if (!latencies_.empty()) {
    m.latency_per_token_mean =
        std::accumulate(latencies_.begin(), latencies_.end(), 0.0) / latencies_.size();
    std::vector<double> sorted = latencies_;
    std::sort(sorted.begin(), sorted.end());
    m.latency_per_token_p50 = Percentile(sorted, 50);
    m.latency_per_token_p95 = Percentile(sorted, 95);
    m.latency_per_token_p99 = Percentile(sorted, 99);
    m.latencies_per_token = latencies_;
  }
  if (!ttfts_.empty()) {
    m.ttft_mean = std::accumulate(ttfts_.begin(), ttfts_.end(), 0.0) / ttfts_.size();
    m.ttft_p95 = Percentile(ttfts_, 95);
  }
  double kv_sum = 0.0;
  for (const ExpertServer& e : experts) {
    const double u = makespan_s > 0 ? e.block_seconds() / (e.num_blocks() * makespan_s) : 0.0;
    m.kv_utilization_per_expert.push_back(u);
    kv_sum += u;
    m.preemptions += e.preemptions();
    const double energy = e.EnergyJ(makespan_s);
    const long tokens = e.completed_output_tokens();
    m.energy_j_per_expert.push_back(energy);
    m.mean_power_w_per_expert.push_back(makespan_s > 0 ? energy / makespan_s : 0.0);
    m.energy_per_token_j_per_expert.push_back(tokens > 0 ? energy / tokens : 0.0);
    m.energy_j += energy;
  }
  m.mean_power_w = makespan_s > 0 ? m.energy_j / makespan_s : 0.0;
  m.energy_per_token_j = output_tokens_ > 0 ? m.energy_j / output_tokens_ : 0.0;
  m.avg_energy_qos = requests > 0 ? energy_qos_ / requests : 0.0;
  m.kv_utilization = experts.empty() ? 0.0 : kv_sum / experts.size();
  m.makespan_s = makespan_s;
  m.throughput_tokens_per_s = makespan_s > 0 ? output_tokens_ / makespan_s : 0.0;
  m.drop_rate = requests > 0 ? static_cast<double>(dropped_) / requests : 0.0;
  m.upper_bound = upper_bound;
  return m;
}

template <typename Self, typename F>
void MetricsAccumulator::VisitSums(Self& s, F&& f) {
  f(s.score_sum_), f(s.total_qos_), f(s.met_sla_), f(s.dropped_), f(s.output_tokens_);
}

void MetricsAccumulator::Save(ByteWriter* out) const {
  out->PutVector(latencies_);
  VisitSums(*this, PutEach{out});
  out->Put(energy_qos_);
  out->PutVector(ttfts_);
}

void MetricsAccumulator::Load(ByteReader* in, uint32_t version) {
  latencies_ = in->GetVector<double>();
  VisitSums(*this, GetEach{in});
  // Before version 2 nothing counted energy: the energy-aware sum is the plain one.
  energy_qos_ = version >= 2 ? in->Get<double>() : total_qos_;
  // Before version 4 nothing measured TTFT: it counts from the restore on.
  ttfts_ = version >= 4 ? in->GetVector<double>() : std::vector<double>();
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0.0;
  if (!std::is_sorted(values.begin(), values.end())) std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * (values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (rank - lo) * (values[hi] - values[lo]);
}

MeanCi MeanWithCi95(const std::vector<double>& values) {
  MeanCi r;
  if (values.empty()) return r;
  const double n = values.size();
  r.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  if (values.size() < 2) return r;
  double ss = 0.0;
  for (double v : values) ss += (v - r.mean) * (v - r.mean);
  const double sd = std::sqrt(ss / (n - 1));
  // Two-sided 97.5% Student t quantiles for 1..30 degrees of freedom, then the normal one.
  static const double kT[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                              2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                              2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                              2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  const size_t df = values.size() - 1;
  const double t = df <= 30 ? kT[df - 1] : 1.960;
  r.ci95 = t * sd / std::sqrt(n);
  return r;
}

}  // namespace qosroute
