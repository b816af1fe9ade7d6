#include "launch/report.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

#include "common/error.h"

namespace qosroute {

namespace {

MeanCi Summarise(const std::vector<EpisodeMetrics>& episodes,
                 const std::function<double(const EpisodeMetrics&)>& get) {
  std::vector<double> values;
  for (const EpisodeMetrics& m : episodes) values.push_back(get(m));
  return MeanWithCi95(values);
}

// The paired difference of average QoS against greedy-qos on the same seeds (episode i of
// every policy ran seed i), or nothing when greedy-qos is absent, is this policy, or ran
// other seeds. Pairing removes the seed-to-seed spread that both policies share, so it tells
// apart policies whose unpaired intervals overlap.
std::optional<MeanCi> PairedVsGreedy(const PolicyResult& r,
                                     const std::vector<PolicyResult>& results) {
  for (const PolicyResult& g : results) {
    if (g.policy != PairedReference() || &g == &r) continue;
    if (g.episodes.size() != r.episodes.size() || r.policy == PairedReference()) return {};
    std::vector<double> differences;
    for (size_t i = 0; i < r.episodes.size(); ++i) {
      if (r.episodes[i].upper_bound != g.episodes[i].upper_bound) return {};  // other seeds
      differences.push_back(r.episodes[i].avg_qos - g.episodes[i].avg_qos);
    }
    return MeanWithCi95(differences);
  }
  return {};
}

// The share of the hindsight bound's gain over greedy-qos that `r` achieves (paired means on
// the same seeds), when a "hindsight" row is present and gains.
std::optional<double> HeadroomShare(const PolicyResult& r,
                                    const std::vector<PolicyResult>& results) {
  const std::optional<MeanCi> mine = PairedVsGreedy(r, results);
  for (const PolicyResult& h : results) {
    if (h.policy != "hindsight") continue;
    const std::optional<MeanCi> bound = PairedVsGreedy(h, results);
    if (!mine || !bound || bound->mean <= 0.0) return {};
    return mine->mean / bound->mean;
  }
  return {};
}

bool HasHeadroom(const std::vector<PolicyResult>& results) {
  for (const PolicyResult& r : results) {
    if (HeadroomShare(r, results)) return true;
  }
  return false;
}

}  // namespace

std::string FormatComparisonTable(const std::vector<PolicyResult>& results) {
  std::string out = fmt::format(
      "{:<22} {:>16} {:>8} {:>8} {:>8} {:>10} {:>10} {:>8} {:>8} {:>7} {:>7} {:>8} "
      "{:>8} {:>18}\n",
      "policy", "avg QoS (95% CI)", "of UB", "score", "SLA att", "lpt mean s", "lpt p95 s",
      "TTFT s", "TTFT p95", "KV use", "drop", "preempt", "J/token", "vs greedy (paired)");
  // With the hindsight bound in the table: the share of its gain over greedy-qos each takes.
  const bool headroom = HasHeadroom(results);
  if (headroom) out.insert(out.size() - 1, fmt::format(" {:>9}", "headroom"));
  double upper = 0.0;
  for (const PolicyResult& r : results) {
    const MeanCi qos = Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.avg_qos; });
    const MeanCi ub = Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.upper_bound; });
    upper = ub.mean;
    const std::optional<MeanCi> paired = PairedVsGreedy(r, results);
    out += fmt::format(
        "{:<22} {:>8.4f} ±{:<7.4f} {:>7.1f}% {:>8.4f} {:>8.3f} {:>9.4f} {:>9.4f} {:>8.3f} {:>8.3f} "
        "{:>7.3f} {:>7.3f} {:>8.1f} {:>8.3f} {:>18}\n",
        r.policy, qos.mean, qos.ci95, ub.mean > 0 ? 100.0 * qos.mean / ub.mean : 0.0,
        Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.avg_score; }).mean,
        Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.sla_attainment; }).mean,
        Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.latency_per_token_mean; })
            .mean,
        Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.latency_per_token_p95; }).mean,
        Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.ttft_mean; }).mean,
        Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.ttft_p95; }).mean,
        Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.kv_utilization; }).mean,
        Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.drop_rate; }).mean,
        Summarise(r.episodes,
                  [](const EpisodeMetrics& m) { return static_cast<double>(m.preemptions); })
            .mean,
        Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.energy_per_token_j; }).mean,
        paired ? fmt::format("{:+.4f} ±{:.4f}", paired->mean, paired->ci95) : std::string("-"));
    if (headroom) {
      const std::optional<double> share = HeadroomShare(r, results);
      out.insert(out.size() - 1,
                 share ? fmt::format(" {:>8.0f}%", 100.0 * *share) : fmt::format(" {:>9}", "-"));
    }
  }
  out += fmt::format("{:<22} {:>8.4f}  (every request served by its best expert within the SLA)\n",
                     "upper-bound", upper);
  return out;
}

std::string FormatComparisonCsv(const std::vector<PolicyResult>& results) {
  std::string out =
      "policy,episodes,avg_qos,avg_qos_ci95,avg_score,sla_attainment,latency_per_token_mean,"
      "latency_per_token_p50,latency_per_token_p95,latency_per_token_p99,kv_utilization,"
      "throughput_tokens_per_s,drop_rate,preemptions,upper_bound,paired_vs_greedy_qos,"
      "paired_vs_greedy_qos_ci95,energy_per_token_j,mean_power_w,energy_j,avg_energy_qos,"
      "avg_energy_qos_ci95,latency_per_token_p95_ci95,kv_utilization_ci95,preemptions_ci95,"
      "ttft_mean_s,ttft_p95_s\n";
  for (const PolicyResult& r : results) {
    auto mean = [&](const std::function<double(const EpisodeMetrics&)>& get) {
      return Summarise(r.episodes, get).mean;
    };
    const MeanCi qos = Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.avg_qos; });
    const std::optional<MeanCi> paired = PairedVsGreedy(r, results);
    out += fmt::format(
        "{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f},{:.6f},{:.2f},"
        "{:.6f},{}\n",
        r.policy, r.episodes.size(), qos.mean, qos.ci95,
        mean([](const EpisodeMetrics& m) { return m.avg_score; }),
        mean([](const EpisodeMetrics& m) { return m.sla_attainment; }),
        mean([](const EpisodeMetrics& m) { return m.latency_per_token_mean; }),
        mean([](const EpisodeMetrics& m) { return m.latency_per_token_p50; }),
        mean([](const EpisodeMetrics& m) { return m.latency_per_token_p95; }),
        mean([](const EpisodeMetrics& m) { return m.latency_per_token_p99; }),
        mean([](const EpisodeMetrics& m) { return m.kv_utilization; }),
        mean([](const EpisodeMetrics& m) { return m.throughput_tokens_per_s; }),
        mean([](const EpisodeMetrics& m) { return m.drop_rate; }),
        mean([](const EpisodeMetrics& m) { return static_cast<double>(m.preemptions); }),
        mean([](const EpisodeMetrics& m) { return m.upper_bound; }),
        paired ? fmt::format("{:.6f},{:.6f}", paired->mean, paired->ci95) : std::string(","));
    // Appended after the paired columns so that scripts reading columns by position still work.
    const MeanCi energy_qos =
        Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.avg_energy_qos; });
    out.pop_back();  // the newline
    out += fmt::format(
        ",{:.6f},{:.3f},{:.1f},{:.6f},{:.6f},{:.6f},{:.6f},{:.2f},{:.6f},{:.6f}\n",
        mean([](const EpisodeMetrics& m) { return m.energy_per_token_j; }),
        mean([](const EpisodeMetrics& m) { return m.mean_power_w; }),
        mean([](const EpisodeMetrics& m) { return m.energy_j; }), energy_qos.mean, energy_qos.ci95,
        Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.latency_per_token_p95; }).ci95,
        Summarise(r.episodes, [](const EpisodeMetrics& m) { return m.kv_utilization; }).ci95,
        Summarise(r.episodes,
                  [](const EpisodeMetrics& m) { return static_cast<double>(m.preemptions); })
            .ci95,
        mean([](const EpisodeMetrics& m) { return m.ttft_mean; }),
        mean([](const EpisodeMetrics& m) { return m.ttft_p95; }));
  }
  return out;
}

void WriteText(const std::string& path, const std::string& text) {
  const std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw UserError("cannot write " + path);
    out << text;
    if (!out) throw UserError("cannot write " + path + " (disk full?)");
  }
  std::filesystem::rename(tmp, path);
}

std::string FormatRequestLatencyCsv(const std::vector<PolicyResult>& results, double sla_s) {
  std::string out = "policy,episode,latency_per_token_s,sla_s\n";
  const std::string sla = fmt::format("{:g}", sla_s);
  for (const PolicyResult& r : results) {
    for (size_t e = 0; e < r.episodes.size(); ++e) {
      const EpisodeMetrics& m = r.episodes[e];
      for (double latency : m.latencies_per_token)
        out += fmt::format("{},{},{:.6g},{}\n", r.policy, e, latency, sla);
      const long unserved = m.requests - static_cast<long>(m.latencies_per_token.size());
      for (long i = 0; i < unserved; ++i) out += fmt::format("{},{},,{}\n", r.policy, e, sla);
    }
  }
  return out;
}

}  // namespace qosroute
