// Comparison tables: the paired difference against greedy-qos on the same seeds.
#include "launch/report.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace qosroute {
namespace {

// Episodes with the given average QoS; upper_bound stands for the seed (a pairing check).
PolicyResult Result(const std::string& name, const std::vector<double>& qos,
                    double seed_offset = 0.0) {
  PolicyResult r;
  r.policy = name;
  for (size_t i = 0; i < qos.size(); ++i) {
    EpisodeMetrics m;
    m.avg_qos = qos[i];
    m.upper_bound = 0.7 + 0.01 * static_cast<double>(i) + seed_offset;
    r.episodes.push_back(m);
  }
  return r;
}

// The CSV field `column` of the row of `policy`.
std::string CsvField(const std::string& csv, const std::string& policy, const std::string& column) {
  std::istringstream lines(csv);
  std::string header, line;
  std::getline(lines, header);
  auto split = [](const std::string& text) {
    std::vector<std::string> fields;
    std::string field;
    std::istringstream in(text);
    while (std::getline(in, field, ',')) fields.push_back(field);
    if (!text.empty() && text.back() == ',') fields.push_back("");
    return fields;
  };
  const std::vector<std::string> names = split(header);
  while (std::getline(lines, line)) {
    const std::vector<std::string> fields = split(line);
    if (fields.at(0) != policy) continue;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == column) return fields.at(i);
    }
  }
  ADD_FAILURE() << "no " << column << " for " << policy;
  return "";
}

TEST(Report, PairedDifferenceAgainstGreedyRemovesTheSharedSeedSpread) {
  // Seeds differ a lot; the learned policy is exactly 0.002 above greedy on each of them.
  const std::vector<double> greedy = {0.70, 0.74, 0.68, 0.72, 0.71};
  std::vector<double> better;
  for (double g : greedy) better.push_back(g + 0.002);
  const std::vector<PolicyResult> results = {Result("round-robin", {0.6, 0.6, 0.6, 0.6, 0.6}),
                                             Result("greedy-qos", greedy), Result("sac", better)};
  const std::string csv = FormatComparisonCsv(results);
  EXPECT_NEAR(std::stod(CsvField(csv, "sac", "paired_vs_greedy_qos")), 0.002, 1e-9);
  EXPECT_NEAR(std::stod(CsvField(csv, "sac", "paired_vs_greedy_qos_ci95")), 0.0, 1e-9);
  EXPECT_NEAR(std::stod(CsvField(csv, "round-robin", "paired_vs_greedy_qos")), -0.11, 1e-9);
  EXPECT_EQ(CsvField(csv, "greedy-qos", "paired_vs_greedy_qos"), "");
  // The unpaired interval of greedy itself is wide: pairing is what resolves the 0.002.
  EXPECT_GT(std::stod(CsvField(csv, "greedy-qos", "avg_qos_ci95")), 0.02);

  const std::string table = FormatComparisonTable(results);
  EXPECT_NE(table.find("vs greedy (paired)"), std::string::npos) << table;
  EXPECT_NE(table.find("+0.0020 ±0.0000"), std::string::npos) << table;
}

TEST(Report, NoPairingWithoutGreedyOrOnOtherSeeds) {
  const std::string alone = FormatComparisonCsv({Result("sac", {0.7, 0.71})});
  EXPECT_EQ(CsvField(alone, "sac", "paired_vs_greedy_qos"), "");
  // Other seeds (other upper bounds) or another episode count are never paired.
  const std::string other_seeds = FormatComparisonCsv(
      {Result("greedy-qos", {0.7, 0.71}), Result("sac", {0.72, 0.73}, /*seed_offset=*/0.05)});
  EXPECT_EQ(CsvField(other_seeds, "sac", "paired_vs_greedy_qos"), "");
  const std::string other_count =
      FormatComparisonCsv({Result("greedy-qos", {0.7, 0.71}), Result("sac", {0.72, 0.73, 0.74})});
  EXPECT_EQ(CsvField(other_count, "sac", "paired_vs_greedy_qos"), "");
}

// With the hindsight bound in the table, each router's share of its gain over greedy-qos.
TEST(Report, HeadroomColumnIsTheShareOfTheHindsightGain) {
  const std::vector<double> greedy = {0.60, 0.64, 0.62};
  std::vector<double> rollout, hindsight;
  for (double g : greedy) {
    rollout.push_back(g + 0.01);
    hindsight.push_back(g + 0.04);
  }
  const std::string table = FormatComparisonTable(
      {Result("greedy-qos", greedy), Result("rollout", rollout), Result("hindsight", hindsight)});
  EXPECT_NE(table.find("headroom"), std::string::npos) << table;
  EXPECT_NE(table.find("+0.0100 ±0.0000       25%"), std::string::npos) << table;
  EXPECT_NE(table.find("+0.0400 ±0.0000      100%"), std::string::npos) << table;
  // Without the bound there is no such column.
  EXPECT_EQ(FormatComparisonTable({Result("greedy-qos", greedy), Result("rollout", rollout)})
                .find("headroom"),
            std::string::npos);
}

TEST(Report, RequestLatencyCsvHasEveryRequestWithDropsLeftEmpty) {
  PolicyResult r{"greedy-qos", {}};
  EpisodeMetrics m;
  m.requests = 3;
  m.latencies_per_token = {0.02, 0.035};
  r.episodes.push_back(m);
  EpisodeMetrics n;
  n.requests = 1;
  n.latencies_per_token = {0.01};
  r.episodes.push_back(n);
  EXPECT_EQ(FormatRequestLatencyCsv({r}, 0.03),
            "policy,episode,latency_per_token_s,sla_s\n"
            "greedy-qos,0,0.02,0.03\n"
            "greedy-qos,0,0.035,0.03\n"
            "greedy-qos,0,,0.03\n"
            "greedy-qos,1,0.01,0.03\n");
}

}  // namespace
}  // namespace qosroute
