#include "learner/selection_keeper.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "checkpoint/hdf5_file.h"
#include "common/error.h"
#include "learner/policy_io.h"
#include "telemetry/run_reporter.h"

namespace qosroute {

namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Written to a temporary name and renamed, so that a crash never leaves half a file.
void WriteFileBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) throw UserError("cannot write " + temporary);
  }
  fs::rename(temporary, path);
}

}  // namespace

void WriteSelectionState(h5::Writer& w, const SelectionState& s) {
  if (s.csv.empty()) return;
  w.Text("/metrics/select_csv", s.csv);
  w.Group("/selection");
  w.Attribute("/selection", "updates", static_cast<int64_t>(s.updates));
  w.Attribute("/selection", "frames", static_cast<int64_t>(s.frames));
  w.Attribute("/selection", "mean_gain", s.mean_gain);
  w.Attribute("/selection", "min_gain", s.min_gain);
  w.Attribute("/selection", "margin", s.margin);
  if (s.updates >= 0) w.Write("/selection/policy_file", s.policy);
}

SelectionState ReadSelectionState(const h5::Reader& r) {
  SelectionState s;
  if (!r.Has("/selection")) return s;
  s.csv = r.Text("/metrics/select_csv");
  s.updates = r.IntAttribute("/selection", "updates");
  s.frames = r.IntAttribute("/selection", "frames");
  s.mean_gain = r.DoubleAttribute("/selection", "mean_gain");
  s.min_gain = r.DoubleAttribute("/selection", "min_gain");
  s.margin = r.DoubleAttribute("/selection", "margin");
  if (s.updates >= 0) {
    h5::Dims dims;
    s.policy = r.ReadAnyShape<uint8_t>("/selection/policy_file", &dims);
    if (dims.size() != 1 || s.policy.empty()) {
      throw UserError("checkpoint " + r.path() +
                      " has /selection/policy_file that is not a non-empty byte string");
    }
  }
  return s;
}

SelectionKeeper::SelectionKeeper(const EnvConfig& env_config,
                                 std::shared_ptr<const Workload> workload,
                                 const GreedyQosOptions& greedy,
                                 const PolicySelectionOptions& options, const std::string& run_dir,
                                 bool write_files)
    : selector_(env_config, std::move(workload), greedy, options),
      selected_path_((fs::path(run_dir) / "policy_selected.h5").string()),
      csv_path_((fs::path(run_dir) / "metrics" / "select.csv").string()),
      write_files_(write_files && !run_dir.empty()) {}

void SelectionKeeper::Open(SelectionState carried) {
  if (!enabled()) {
    state_ = SelectionState();
    return;
  }
  state_ = std::move(carried);
  // A checkpoint from before selection was turned on starts the file here.
  if (state_.csv.empty()) state_.csv = PolicySelector::CsvHeader();
  if (write_files_) {
    fs::create_directories(fs::path(csv_path_).parent_path());
    // A resumed run puts the selected snapshot back, wherever its run directory now is.
    if (!state_.policy.empty()) WriteFileBytes(selected_path_, state_.policy);
  }
  csv_.Open(write_files_ ? csv_path_ : "", state_.csv);
  state_.csv.clear();
}

void SelectionKeeper::Select(SacAgent& agent, long frames, long updates, RunReporter* reporter) {
  QR_CHECK_MSG(write_files_, "model selection runs where the run's files are written");
  const std::vector<SelectionScore> scores = selector_.Score(agent, frames, updates);
  const double tolerance = selector_.options().tolerance;
  const size_t best = PolicySelector::Best(scores, tolerance);
  const SelectionScore& score = scores[best];
  SelectionScore incumbent;
  incumbent.mean_gain = state_.mean_gain;
  incumbent.min_gain = state_.min_gain;
  const bool take = state_.updates < 0 || PreferCandidate(score, incumbent, tolerance);
  for (size_t i = 0; i < scores.size(); ++i) {
    std::string gains;
    for (size_t k = 0; k < scores[i].rates.size(); ++k) {
      gains += fmt::format(" {:g}: {:+.4f} ± {:.4f}", scores[i].rates[k], scores[i].gain[k],
                           scores[i].gain_ci95[k]);
    }
    spdlog::info(
        "validation vs greedy-qos at {} updates, margin {:g}:{} | mean {:+.4f}, worst {:+.4f}{}",
        updates, scores[i].margin, gains, scores[i].mean_gain, scores[i].min_gain,
        take && i == best ? " | selected" : "");
  }
  if (take) {
    // The selected file carries its margin; the agent goes on with its own.
    const double own_margin = agent.config().deviation_margin;
    agent.set_deviation_margin(score.margin);
    SavePolicy(selected_path_, agent);
    agent.set_deviation_margin(own_margin);
    state_.policy = ReadFileBytes(selected_path_);
    state_.margin = score.margin;
    state_.updates = updates;
    state_.frames = frames;
    state_.mean_gain = score.mean_gain;
    state_.min_gain = score.min_gain;
  }
  for (size_t i = 0; i < scores.size(); ++i)
    csv_.Append(PolicySelector::CsvRows(scores[i], take && i == best));
  csv_.Flush();
  if (reporter == nullptr) return;
  // The best candidate of this snapshot, selected or not: the validation learning curve.
  for (size_t k = 0; k < score.rates.size(); ++k) {
    reporter->Scalar(fmt::format("validation/vs_greedy_qos/rate_{:g}", score.rates[k]),
                     score.gain[k], updates);
  }
  reporter->Flush();
}

SelectionState SelectionKeeper::Snapshot() const {
  SelectionState s = state_;
  if (enabled()) s.csv = csv_.text();
  return s;
}

}  // namespace qosroute
