// Arrival processes: Poisson rate, MMPP burstiness, trace replay, and config/trace errors.
#include "env/arrivals.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"

namespace qosroute {
namespace {

std::string WriteFile(const std::string& name, const std::string& text) {
  // The pid keeps files of tests that CTest runs in parallel apart.
  const std::string path = testing::TempDir() + std::to_string(getpid()) + "_" + name;
  std::ofstream(path) << text;
  return path;
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

// Variance / mean of arrival counts in fixed windows: 1 for Poisson, larger when bursty.
double IndexOfDispersion(const std::vector<double>& times, double window) {
  const int n = static_cast<int>(times.back() / window);
  std::vector<double> counts(n, 0.0);
  for (double t : times) {
    const int k = static_cast<int>(t / window);
    if (k < n) counts[k] += 1.0;
  }
  double mean = 0.0, var = 0.0;
  for (double c : counts) mean += c / n;
  for (double c : counts) var += (c - mean) * (c - mean) / (n - 1);
  return var / mean;
}

void ExpectNonDecreasing(const std::vector<double>& t) {
  for (size_t i = 1; i < t.size(); ++i) ASSERT_LE(t[i - 1], t[i]) << i;
}

TEST(PoissonArrivals, MeanInterArrivalIsOneOverRate) {
  ArrivalConfig c;
  c.rate = 3.0;
  Rng rng(1);
  const auto t = GenerateArrivals(c, 20000, rng);
  ASSERT_EQ(t.size(), 20000u);
  ExpectNonDecreasing(t);
  EXPECT_GT(t.front(), 0.0);
  EXPECT_NEAR(t.back() / t.size(), 1.0 / 3.0, 0.01);
  EXPECT_NEAR(IndexOfDispersion(t, 10.0), 1.0, 0.25);
}

TEST(PoissonArrivals, AreDeterministicPerSeed) {
  ArrivalConfig c;
  Rng a(9), b(9), d(10);
  const auto x = GenerateArrivals(c, 100, a);
  EXPECT_EQ(x, GenerateArrivals(c, 100, b));
  EXPECT_NE(x, GenerateArrivals(c, 100, d));
}

TEST(PoissonArrivals, EpisodeRatesDrawOneRatePerEpisode) {
  ArrivalConfig c;
  c.episode_rates = {2.0, 8.0};
  int low = 0, high = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    Rng rng(seed);
    const auto t = GenerateArrivals(c, 2000, rng);
    const double rate = (t.size() - 1) / (t.back() - t.front());
    // Each episode runs at one of the two rates (2000 arrivals: within ~10% of it).
    if (std::fabs(rate - 2.0) < 0.2) {
      ++low;
    } else {
      EXPECT_NEAR(rate, 8.0, 0.8) << "seed " << seed;
      ++high;
    }
  }
  EXPECT_GT(low, 8);
  EXPECT_GT(high, 8);
  Rng a(3), b(3);
  EXPECT_EQ(GenerateArrivals(c, 100, a), GenerateArrivals(c, 100, b));
  c.process = "mmpp";
  EXPECT_THROW(ValidateArrivalConfig(c), UserError);
  c.process = "poisson";
  c.episode_rates = {2.0, -1.0};
  EXPECT_THROW(ValidateArrivalConfig(c), UserError);
}

TEST(MmppArrivals, LongRunRateLiesBetweenLowAndHighNearTheStationaryMix) {
  ArrivalConfig c;
  c.process = "mmpp";  // defaults: 2 and 8 req/s, mean sojourns 60 s and 20 s
  Rng rng(2);
  const auto t = GenerateArrivals(c, 40000, rng);
  ASSERT_EQ(t.size(), 40000u);
  ExpectNonDecreasing(t);
  const double rate = t.size() / t.back();
  EXPECT_GT(rate, c.mmpp_rate_low);
  EXPECT_LT(rate, c.mmpp_rate_high);
  const double stationary = (2.0 * 60.0 + 8.0 * 20.0) / 80.0;  // 3.5 req/s
  EXPECT_NEAR(rate, stationary, 0.15 * stationary);
}

TEST(MmppArrivals, AreBurstierThanPoisson) {
  ArrivalConfig c;
  c.process = "mmpp";
  Rng rng(3);
  const auto t = GenerateArrivals(c, 20000, rng);
  EXPECT_GT(IndexOfDispersion(t, 10.0), 2.0);
}

TEST(TraceArrivals, ReplayShiftsTheFirstArrivalToZero) {
  const std::string path =
      WriteFile("trace_ok.txt",
                "# seconds since start\n\n100.5\n101.0  # two at once\n101.0\n  103.25\n107\n");
  ArrivalConfig c;
  c.process = "trace";
  c.trace_path = path;
  Rng rng(0);
  const auto t = GenerateArrivals(c, 4, rng);
  EXPECT_EQ(t, (std::vector<double>{0.0, 0.5, 0.5, 2.75}));
  EXPECT_EQ(LoadArrivalTrace(path).size(), 5u);
}

TEST(TraceArrivals, TraceShorterThanTheEpisodeIsAnError) {
  ArrivalConfig c;
  c.process = "trace";
  c.trace_path = WriteFile("trace_short.txt", "1\n2\n");
  Rng rng(0);
  const std::string msg = ErrorOf([&] { GenerateArrivals(c, 3, rng); });
  EXPECT_NE(msg.find("trace_short.txt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("holds 2 arrivals"), std::string::npos) << msg;
}

TEST(TraceArrivals, DecreasingTimestampNamesFileAndLine) {
  const std::string path = WriteFile("trace_dec.txt", "# header\n1.0\n2.0\n1.5\n");
  const std::string msg = ErrorOf([&] { LoadArrivalTrace(path); });
  EXPECT_NE(msg.find(path + ":4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("non-decreasing"), std::string::npos) << msg;
}

TEST(TraceArrivals, BadNumbersNameFileAndLine) {
  const std::string text_path = WriteFile("trace_text.txt", "1.0\nsoon\n");
  EXPECT_NE(ErrorOf([&] { LoadArrivalTrace(text_path); }).find(text_path + ":2"),
            std::string::npos);
  const std::string two_path = WriteFile("trace_two.txt", "1.0 2.0\n");
  EXPECT_NE(ErrorOf([&] { LoadArrivalTrace(two_path); }).find(two_path + ":1"), std::string::npos);
  const std::string inf_path = WriteFile("trace_inf.txt", "1.0\ninf\n");
  const std::string msg = ErrorOf([&] { LoadArrivalTrace(inf_path); });
  EXPECT_NE(msg.find(inf_path + ":2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not finite"), std::string::npos) << msg;
}

TEST(TraceArrivals, EmptyOrMissingTraceIsAnError) {
  const std::string empty = WriteFile("trace_empty.txt", "# nothing\n\n");
  EXPECT_NE(ErrorOf([&] { LoadArrivalTrace(empty); }).find("trace_empty.txt"), std::string::npos);
  const std::string missing = testing::TempDir() + "no_such_trace.txt";
  EXPECT_NE(ErrorOf([&] { LoadArrivalTrace(missing); }).find("no_such_trace.txt"),
            std::string::npos);
}

TEST(ArrivalConfigValidation, NamesTheOffendingKey) {
  ArrivalConfig c;
  c.rate = -1.0;
  EXPECT_EQ(ErrorOf([&] { ValidateArrivalConfig(c); }), "workload.rate must be > 0, got -1");
  c.rate = NAN;
  EXPECT_NE(ErrorOf([&] { ValidateArrivalConfig(c); }).find("workload.rate"), std::string::npos);
  c.rate = INFINITY;
  EXPECT_NE(ErrorOf([&] { ValidateArrivalConfig(c); }).find("workload.rate must be finite"),
            std::string::npos);

  ArrivalConfig m;
  m.process = "mmpp";
  m.mmpp_rate_high = 0.0;
  EXPECT_NE(ErrorOf([&] { ValidateArrivalConfig(m); }).find("workload.mmpp_rate_high"),
            std::string::npos);
  m = ArrivalConfig{};
  m.process = "mmpp";
  m.mmpp_mean_low_s = -5.0;
  EXPECT_NE(ErrorOf([&] { ValidateArrivalConfig(m); }).find("workload.mmpp_mean_low_s"),
            std::string::npos);

  ArrivalConfig t;
  t.process = "trace";
  EXPECT_NE(ErrorOf([&] { ValidateArrivalConfig(t); }).find("workload.trace"), std::string::npos);

  ArrivalConfig u;
  u.process = "weibull";
  EXPECT_NE(ErrorOf([&] { ValidateArrivalConfig(u); }).find("workload.arrival"), std::string::npos);

  Rng rng(0);
  EXPECT_THROW(GenerateArrivals(u, 10, rng), UserError);
  EXPECT_NO_THROW(ValidateArrivalConfig(ArrivalConfig{}));
}

}  // namespace
}  // namespace qosroute
