#pragma once
// The trainer's checkpointed state that both topologies share (the single-process loop's
// TrainerState and learner 0's LearnerZeroState extend it), with its one HDF5 form: the
// counters, when the next progress row and evaluation are due, the rolling QoS's open
// interval, the metrics files up to here, the resolved config and model selection.
#include <cstdint>
#include <string>

#include "checkpoint/hdf5_file.h"
#include "learner/sac.h"
#include "learner/selection_keeper.h"

namespace qosroute {

// When the next progress row and evaluation are due, and what the last ones said.
struct ReportSchedule {
  long next_log_frames = 0;
  long next_eval_frames = 0;
  long last_log_frames = 0;
  long last_log_updates = 0;
  double last_eval_qos = 0.0;
  double last_episode_qos = 0.0;
  SacLosses last_losses;
};

struct TrainerCoreState {
  long updates = 0;
  long episodes = 0;  // finished training episodes
  int64_t weight_version = 0;
  uint64_t seed = 0;
  ReportSchedule schedule;
  double elapsed_seconds = 0.0;  // training wall time so far, so that wall_s continues
  // The rolling QoS's open interval (telemetry/rolling_qos.h): QoS and requests credited
  // since the last progress row. Absent in older checkpoints (read as 0).
  double rolling_qos_sum = 0.0;
  long rolling_requests = 0;
  std::string train_csv, eval_csv;  // metrics files up to here, header included
  std::string config_text;          // the resolved config
  // Model selection (learner/selection_keeper.h): the snapshot chosen so far, its score, its
  // policy file's bytes and metrics/select.csv ("" when selection is off).
  SelectionState selection;
};

// Groups /counters (with `frames`, the run's total), /loop, /rolling, /metrics, /config's
// reader and the selection's own groups. The writer leaves /loop open for the trainer's
// own attributes.
void WriteTrainerCore(h5::Writer& w, const TrainerCoreState& s, long frames);
void ReadTrainerCore(const h5::Reader& r, TrainerCoreState* s);

}  // namespace qosroute
