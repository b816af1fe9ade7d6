#include "env/time_models.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/text.h"

namespace qosroute {

namespace {

const char* const kColumns[] = {"batch_size", "prefill_tokens", "context_tokens", "seconds"};

bool IsBlankOrComment(const std::string& line) {
  const auto b = line.find_first_not_of(" \t\r");
  return b == std::string::npos || line[b] == '#';
}

// Appends one measured point to its phase, checking the grid order: batch sizes never
// decrease, and within a batch size the tokens strictly increase.
void AddPoint(std::vector<ProfileRow>* rows, int batch, double tokens, double seconds,
              const std::string& where, const char* phase) {
  if (!rows->empty() && rows->back().batch_size > batch) {
    throw UserError(where + ": " + phase + " grid is not monotone: batch_size " +
                    std::to_string(batch) + " after " + std::to_string(rows->back().batch_size) +
                    " (sort rows by batch_size, then by tokens)");
  }
  if (rows->empty() || rows->back().batch_size != batch) {
    rows->push_back(ProfileRow{batch, {}, {}});
  }
  ProfileRow& row = rows->back();
  if (!row.tokens.empty() && !(tokens > row.tokens.back())) {
    std::ostringstream s;
    s << where << ": " << phase << " grid is not monotone: at batch_size " << batch << " tokens "
      << tokens << " after " << row.tokens.back() << " (tokens must strictly increase)";
    throw UserError(s.str());
  }
  row.tokens.push_back(tokens);
  row.seconds.push_back(seconds);
}

// Linear interpolation in one row; held below the first point, extrapolated above the last.
double InterpolateRow(const ProfileRow& row, double tokens) {
  const auto& x = row.tokens;
  const auto& y = row.seconds;
  if (x.size() == 1 || tokens <= x.front()) return y.front();
  size_t hi = std::upper_bound(x.begin(), x.end(), tokens) - x.begin();
  if (hi >= x.size()) {
    const size_t n = x.size();
    const double slope = std::max(0.0, (y[n - 1] - y[n - 2]) / (x[n - 1] - x[n - 2]));
    return y[n - 1] + slope * (tokens - x[n - 1]);
  }
  const size_t lo = hi - 1;
  return y[lo] + (y[hi] - y[lo]) * (tokens - x[lo]) / (x[hi] - x[lo]);
}

}  // namespace

std::shared_ptr<const ProfileTable> ParseProfileTable(const std::string& text,
                                                      const std::string& source) {
  auto table = std::make_shared<ProfileTable>();
  table->source = source;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  std::vector<int> index;  // position of each required column in the header
  size_t num_fields = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (IsBlankOrComment(line)) continue;
    const std::vector<std::string> fields = SplitCommas(line, EmptyItems::kKeep);
    const std::string where = "profile " + source + " line " + std::to_string(line_no);
    if (index.empty()) {
      for (const char* column : kColumns) {
        const auto it = std::find(fields.begin(), fields.end(), column);
        if (it == fields.end()) {
          throw UserError("profile " + source + ": missing column '" + column +
                          "' in the header (needs batch_size,prefill_tokens,context_tokens,"
                          "seconds)");
        }
        index.push_back(static_cast<int>(it - fields.begin()));
      }
      num_fields = fields.size();
      continue;
    }
    if (fields.size() != num_fields) {
      throw UserError(where + ": " + std::to_string(fields.size()) + " fields, the header has " +
                      std::to_string(num_fields));
    }
    double v[4];
    for (int c = 0; c < 4; ++c) {
      const std::string& f = fields[index[c]];
      char* end = nullptr;
      v[c] = f.empty() ? NAN : std::strtod(f.c_str(), &end);
      if (f.empty() || *end != '\0' || !std::isfinite(v[c])) {
        throw UserError(where + ": " + kColumns[c] + " is not a number: '" + f + "'");
      }
      if (v[c] < 0) throw UserError(where + ": " + kColumns[c] + " is negative: " + f);
    }
    if (v[0] < 1 || v[0] != std::floor(v[0]) || v[0] > 1e6) {
      throw UserError(where + ": batch_size must be a whole number >= 1, got " + fields[index[0]]);
    }
    if (!(v[3] > 0)) throw UserError(where + ": seconds must be > 0, got " + fields[index[3]]);
    const int batch = static_cast<int>(v[0]);
    if (v[1] > 0 && v[2] > 0) {
      throw UserError(where +
                      ": a row has both prefill_tokens and context_tokens; the engine runs "
                      "prefill and decode iterations separately (give one, the other 0)");
    }
    if (v[1] > 0) {
      AddPoint(&table->prefill, batch, v[1], v[3], where, "prefill");
    } else {
      AddPoint(&table->decode, batch, v[2], v[3], where, "decode");
    }
  }
  if (index.empty() || (table->prefill.empty() && table->decode.empty())) {
    throw UserError("profile " + source + " holds no rows (header and measured iterations)");
  }
  if (table->prefill.empty())
    throw UserError("profile " + source + " has no prefill rows (prefill_tokens > 0)");
  if (table->decode.empty())
    throw UserError("profile " + source + " has no decode rows (prefill_tokens = 0)");
  return table;
}

std::shared_ptr<const ProfileTable> LoadProfileTable(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError("cannot open profile " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return ParseProfileTable(s.str(), path);
}

double InterpolateProfile(const std::vector<ProfileRow>& rows, int batch_size, double tokens) {
  if (rows.size() == 1 || batch_size <= rows.front().batch_size) {
    return InterpolateRow(rows.front(), tokens);
  }
  size_t hi = 1;
  while (hi < rows.size() && rows[hi].batch_size < batch_size) ++hi;
  if (hi < rows.size() && rows[hi].batch_size == batch_size)
    return InterpolateRow(rows[hi], tokens);
  // Beyond the largest batch: extrapolate along the last two rows, never downwards.
  const bool beyond = hi >= rows.size();
  if (beyond) hi = rows.size() - 1;
  const ProfileRow& a = rows[hi - 1];
  const ProfileRow& b = rows[hi];
  const double ya = InterpolateRow(a, tokens);
  const double yb = InterpolateRow(b, tokens);
  double slope = (yb - ya) / (b.batch_size - a.batch_size);
  if (beyond) slope = std::max(0.0, slope);
  return ya + slope * (batch_size - a.batch_size);
}

}  // namespace qosroute
