#pragma once
// Iteration-time models beyond the linear default (env/expert_config.h): the calibrated form
// fitted to measured 7B serving (shared/spec/serving-calibration.md section 1) and a table of
// measured iterations read from CSV, in the spirit of Vidur's profiles (docs/SIMULATOR.md).
#include <memory>
#include <string>
#include <vector>

#include "env/expert_config.h"

namespace qosroute {

// t = max(c0, c1 + k1 x tokens processed) + k2 x decoding context + k3 x sequences, plus for
// a prefill k4 x the sum over its sequences of prompt^2. A prefill processes its prompt tokens
// (no decoding context); a decode processes one token per sequence over the batch's whole
// context. The max is the weights pass versus compute: a small batch pays c0 for reading the
// weights, a large prefill pays for its FLOPs; c1 is the fixed part of a compute-bound pass
// (measured MLP times are an offset line above ~128 tokens, not k1 x P). k4 is prefill
// attention, whose work grows with the square of the prompt (P^2 / 2 query-key pairs per
// layer); a prefill of several sequences is priced as equal prompts, P^2 / sequences.
class CalibratedIterationTimeModel final : public IterationTimeModel {
 public:
  CalibratedIterationTimeModel(double c0, double k1, double k2, double k3, double k4 = 0.0,
                               double c1 = 0.0)
      : c0_(c0), k1_(k1), k2_(k2), k3_(k3), k4_(k4), c1_(c1) {}
  double PrefillSeconds(long prefill_tokens, int num_seqs) const override {
    const double tokens = static_cast<double>(prefill_tokens);
    const double compute = c1_ + k1_ * tokens;
    const double attention = num_seqs > 0 ? k4_ * tokens * tokens / num_seqs : 0.0;
    return (compute > c0_ ? compute : c0_) + k3_ * num_seqs + attention;
  }
  double DecodeSeconds(long context_tokens, int num_seqs) const override {
    const double compute = c1_ + k1_ * num_seqs;
    return (compute > c0_ ? compute : c0_) + k2_ * static_cast<double>(context_tokens) +
           k3_ * num_seqs;
  }
  void AddDecodeRun(long context_tokens, int num_seqs, long steps, double* clock) const override {
    AddDecodeRunOf(*this, context_tokens, num_seqs, steps, clock);
  }

 private:
  double c0_, k1_, k2_, k3_, k4_, c1_;
};

// Measured iterations of one phase at one batch size: seconds against tokens (prefill tokens
// for a prefill, total context tokens for a decode), tokens strictly increasing.
struct ProfileRow {
  int batch_size = 1;
  std::vector<double> tokens;
  std::vector<double> seconds;
};

// A profile CSV (format in docs/SIMULATOR.md): rows of batch_size, prefill_tokens,
// context_tokens, seconds. Rows with prefill_tokens > 0 are prefill iterations, rows with
// prefill_tokens = 0 decode iterations; each phase is a grid sorted by batch size, then tokens.
struct ProfileTable {
  std::string source;
  std::vector<ProfileRow> prefill;  // batch sizes strictly increasing
  std::vector<ProfileRow> decode;
};

// Reads and validates a profile CSV; throws UserError naming the file (and line) for an empty
// file, a missing column, a non-numeric or negative value, a non-monotone grid or a missing
// phase.
std::shared_ptr<const ProfileTable> LoadProfileTable(const std::string& path);
// The same from text; `source` names it in errors.
std::shared_ptr<const ProfileTable> ParseProfileTable(const std::string& text,
                                                      const std::string& source);

// Piecewise-linear interpolation on the grid: linear in tokens within a batch row, then linear
// in batch size between rows. Below the first grid point a value is held at the first point;
// beyond the last it is extrapolated along the last segment (never with a negative slope), so
// that contexts larger than the measured ones keep costing more.
double InterpolateProfile(const std::vector<ProfileRow>& rows, int batch_size, double tokens);

class TableIterationTimeModel final : public IterationTimeModel {
 public:
  explicit TableIterationTimeModel(std::shared_ptr<const ProfileTable> table)
      : table_(std::move(table)) {}
  double PrefillSeconds(long prefill_tokens, int num_seqs) const override {
    return InterpolateProfile(table_->prefill, num_seqs, static_cast<double>(prefill_tokens));
  }
  double DecodeSeconds(long context_tokens, int num_seqs) const override {
    return InterpolateProfile(table_->decode, num_seqs, static_cast<double>(context_tokens));
  }

 private:
  std::shared_ptr<const ProfileTable> table_;
};

}  // namespace qosroute
