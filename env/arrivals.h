#pragma once
// Arrival processes: when requests reach the edge site.
#include <string>
#include <vector>

#include "common/rng.h"

namespace qosroute {

struct ArrivalConfig {
  std::string process = "poisson";  // poisson | mmpp | trace
  double rate = 3.0;                // poisson: requests per second
  // poisson: when not empty, every episode draws its rate uniformly from these instead (one
  // policy trained over a range of loads); `rate` is then unused.
  std::vector<double> episode_rates;
  // Two-state Markov-modulated Poisson process: a calm and a burst state.
  double mmpp_rate_low = 2.0;
  double mmpp_rate_high = 8.0;
  double mmpp_mean_low_s = 60.0;   // mean sojourn in the calm state, seconds
  double mmpp_mean_high_s = 20.0;  // mean sojourn in the burst state, seconds
  std::string trace_path;          // trace: one arrival timestamp (seconds) per line
};

// Validates the config; throws UserError naming the key.
void ValidateArrivalConfig(const ArrivalConfig& config);

// Returns `count` non-decreasing arrival times starting near 0. A trace shorter than `count`
// is an error; a trace is shifted so that its first arrival is at 0.
std::vector<double> GenerateArrivals(const ArrivalConfig& config, int count, Rng& rng);

// Reads a trace file (one timestamp per line, '#' comments). Throws UserError with file:line.
std::vector<double> LoadArrivalTrace(const std::string& path);

}  // namespace qosroute
