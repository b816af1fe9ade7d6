#include "env/arrivals.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <string_view>

#include "common/error.h"

namespace qosroute {
namespace {

void RequirePositive(const char* key, double value) {
  if (!(value > 0.0)) throw UserError(fmt::format("{} must be > 0, got {}", key, value));
  if (!std::isfinite(value)) throw UserError(fmt::format("{} must be finite, got {}", key, value));
}

std::vector<double> Poisson(double rate, int count, Rng& rng) {
  std::vector<double> times;
  times.reserve(static_cast<size_t>(count));
  double t = 0.0;
  for (int i = 0; i < count; ++i) {
    t += rng.Exponential(rate);
    times.push_back(t);
  }
  return times;
}

// Two-state MMPP: exponential sojourns in a calm and a burst state, Poisson arrivals at the
// state's rate. The first state is drawn from the stationary law so that short episodes are
// not biased toward either state.
std::vector<double> Mmpp(const ArrivalConfig& c, int count, Rng& rng) {
  const double rates[2] = {c.mmpp_rate_low, c.mmpp_rate_high};
  const double mean_sojourn[2] = {c.mmpp_mean_low_s, c.mmpp_mean_high_s};
  const double p_low = c.mmpp_mean_low_s / (c.mmpp_mean_low_s + c.mmpp_mean_high_s);
  int state = rng.Uniform() < p_low ? 0 : 1;
  double state_end = rng.Exponential(1.0 / mean_sojourn[state]);

  std::vector<double> times;
  times.reserve(static_cast<size_t>(count));
  double t = 0.0;
  while (static_cast<int>(times.size()) < count) {
    const double next = t + rng.Exponential(rates[state]);
    if (next < state_end) {
      t = next;
      times.push_back(t);
    } else {
      // The exponential is memoryless: restart the clock at the switch in the new state.
      t = state_end;
      state = 1 - state;
      state_end = t + rng.Exponential(1.0 / mean_sojourn[state]);
    }
  }
  return times;
}

std::vector<double> Trace(const std::string& path, int count) {
  std::vector<double> trace = LoadArrivalTrace(path);
  if (trace.size() < static_cast<size_t>(count)) {
    throw UserError(fmt::format(
        "arrival trace '{}' (workload.trace) holds {} arrivals but the episode needs {}.", path,
        trace.size(), count));
  }
  trace.resize(static_cast<size_t>(count));
  const double first = trace.empty() ? 0.0 : trace.front();
  for (double& t : trace) t -= first;
  return trace;
}

std::string_view Trim(std::string_view s) {
  const char* kSpace = " \t\r\n\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

}  // namespace

void ValidateArrivalConfig(const ArrivalConfig& config) {
  // Only the keys the chosen process reads are checked: the others are unused.
  if (config.process == "poisson") {
    RequirePositive("workload.rate", config.rate);
    for (double r : config.episode_rates) RequirePositive("workload.episode_rates", r);
  } else if (config.process == "mmpp") {
    RequirePositive("workload.mmpp_rate_low", config.mmpp_rate_low);
    RequirePositive("workload.mmpp_rate_high", config.mmpp_rate_high);
    RequirePositive("workload.mmpp_mean_low_s", config.mmpp_mean_low_s);
    RequirePositive("workload.mmpp_mean_high_s", config.mmpp_mean_high_s);
  } else if (config.process == "trace") {
    if (config.trace_path.empty()) {
      throw UserError("workload.trace must name a trace file when workload.arrival is 'trace'");
    }
  } else {
    throw UserError(fmt::format("workload.arrival must be one of poisson, mmpp, trace, got '{}'",
                                config.process));
  }
  if (config.process != "poisson" && !config.episode_rates.empty()) {
    throw UserError("workload.episode_rates applies to workload.arrival = poisson only");
  }
}

std::vector<double> GenerateArrivals(const ArrivalConfig& config, int count, Rng& rng) {
  ValidateArrivalConfig(config);
  if (count < 0) throw UserError(fmt::format("the number of arrivals must be >= 0, got {}", count));
  if (config.process == "poisson") {
    const std::vector<double>& rates = config.episode_rates;
    const double rate = rates.empty() ? config.rate : rates[rng.Below(rates.size())];
    return Poisson(rate, count, rng);
  }
  if (config.process == "mmpp") return Mmpp(config, count, rng);
  return Trace(config.trace_path, count);
}

std::vector<double> LoadArrivalTrace(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw UserError(fmt::format("cannot open arrival trace '{}' (workload.trace): {}.", path,
                                std::strerror(errno)));
  }
  std::vector<double> times;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    std::string_view text = line;
    text = Trim(text.substr(0, text.find('#')));
    if (text.empty()) continue;
    // from_chars is locale-independent, unlike strtod.
    double t = 0.0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), t);
    if (ec != std::errc() || end != text.data() + text.size()) {
      throw UserError(fmt::format("{}:{}: expected one timestamp in seconds, got '{}'.", path,
                                  line_number, text));
    }
    if (!std::isfinite(t)) {
      throw UserError(fmt::format("{}:{}: timestamp '{}' is not finite.", path, line_number, text));
    }
    if (!times.empty() && t < times.back()) {
      throw UserError(fmt::format(
          "{}:{}: timestamp {} is earlier than the previous one ({}); timestamps must be "
          "non-decreasing.",
          path, line_number, t, times.back()));
    }
    times.push_back(t);
  }
  if (in.bad()) throw UserError(fmt::format("cannot read arrival trace '{}'.", path));
  if (times.empty()) {
    throw UserError(fmt::format("arrival trace '{}' holds no timestamps.", path));
  }
  return times;
}

}  // namespace qosroute
