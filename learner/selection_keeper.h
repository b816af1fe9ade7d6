#pragma once
// Model selection as a trainer runs it, one implementation for both trainers (the
// single-process loop and learner 0 of a distributed job): at every periodic evaluation the
// current policy is scored on validation episodes (learner/policy_selection.h), the best
// candidate so far is kept as <run_dir>/policy_selected.h5 and every candidate's score goes
// to metrics/select.csv. Its state rides in both kinds of checkpoint (the /selection group),
// so a resumed run, in the same folder or another, ends with the same selection.
#include <memory>
#include <string>
#include <vector>

#include "learner/policy_selection.h"
#include "telemetry/metrics_file.h"

namespace qosroute {

namespace h5 {
class Writer;
class Reader;
}  // namespace h5
class RunReporter;

struct SelectionState {
  long updates = -1;  // the selected snapshot's update count; -1 while none is selected
  long frames = 0;
  double mean_gain = 0.0;  // its validation gain over greedy-qos, mean over the rates
  double min_gain = 0.0;   // and at its worst rate
  double margin = 0.0;     // the deviation margin it is deployed with
  // The selected policy file's bytes, kept from the selection on so that a checkpoint never
  // rereads (or depends on) the file.
  std::vector<uint8_t> policy;
  std::string csv;  // metrics/select.csv so far; "" when selection is off
};

// The /selection group and /metrics/select_csv of a checkpoint; nothing when selection is
// off (state.csv empty). Reading a file without the group gives the empty state.
void WriteSelectionState(h5::Writer& w, const SelectionState& state);
SelectionState ReadSelectionState(const h5::Reader& r);

class SelectionKeeper {
 public:
  // Selection is on when options.rates is not empty. With write_files false (learners other
  // than learner 0) nothing is written.
  SelectionKeeper(const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
                  const GreedyQosOptions& greedy, const PolicySelectionOptions& options,
                  const std::string& run_dir, bool write_files);

  bool enabled() const { return selector_.enabled(); }
  const std::string& selected_path() const { return selected_path_; }
  const SelectionState& state() const { return state_; }

  // Starts metrics/select.csv with the rows a checkpoint carried (a fresh run: the header)
  // and puts a resumed run's selected policy file back. A run with selection off drops what
  // a checkpoint carried.
  void Open(SelectionState carried);

  // Scores `agent` (at frames, updates), keeps it when it beats the selection so far, logs
  // each candidate, appends to select.csv and reports the best candidate's per-rate gains to
  // the reporter's TensorBoard file (validation/vs_greedy_qos/rate_<r>).
  void Select(SacAgent& agent, long frames, long updates, RunReporter* reporter);

  // The state with select.csv's text, for a checkpoint.
  SelectionState Snapshot() const;

 private:
  PolicySelector selector_;
  std::string selected_path_, csv_path_;
  bool write_files_;
  SelectionState state_;  // csv text lives in csv_ between Open and Snapshot
  MetricsFile csv_;
};

}  // namespace qosroute
