#pragma once
// What a training run reports, written once for both trainers (the single-process loop and
// learner 0 of a distributed job): metrics/train.csv and metrics/eval.csv in one schema
// (telemetry/metrics_rows.h), TensorBoard scalars in <run>/tb/, and the progress line.
//
// TensorBoard tags (step = the update count):
//   train/frames_per_s train/updates_per_s train/critic_loss train/actor_loss train/alpha
//   train/entropy train/q_mean train/policy_lag train/rolling_qos train/episode_qos
//   eval/avg_qos eval/greedy_qos eval/vs_greedy_qos
//   validation/vs_greedy_qos/rate_<r> (model selection, the candidate it selected or the best)
// A resumed run opens a new event file whose first event is a SessionLog START at the resumed
// step, so TensorBoard drops the events the first process wrote after that checkpoint.
#include <chrono>
#include <memory>
#include <string>

#include "common/tensorboard_writer.h"
#include "telemetry/metrics_file.h"
#include "telemetry/metrics_rows.h"

namespace qosroute {

class RunReporter {
 public:
  // Files go to <run_dir>/metrics and <run_dir>/tb; with write_files false nothing is
  // written (the text is still kept for checkpoints).
  RunReporter(std::string run_dir, bool write_files);

  // Starts the CSVs with the text a checkpoint carried ("" = a fresh run: headers only) and
  // the rate window at (frames, updates). A carried text with another header (a checkpoint
  // written before this schema) is replaced by the header, with a warning.
  void Open(const std::string& train_text, const std::string& eval_text, long frames, long updates,
            bool resumed);

  // Frames/s and updates/s since the previous call (or since Open: after a resume, the rates
  // cover only this process's part of the interval).
  struct Rates {
    double frames_per_s = 0.0;
    double updates_per_s = 0.0;
  };
  Rates TakeRates(long frames, long updates);

  void Log(const TrainRow& row);      // train.csv + TensorBoard
  void Episode(const TrainRow& row);  // train.csv + train/episode_qos
  void Eval(const EvalRow& row);      // eval.csv + TensorBoard
  void Scalar(const std::string& tag, double value, long step);
  void Flush();

  const std::string& train_text() const { return train_.text(); }
  const std::string& eval_text() const { return eval_.text(); }

 private:
  using Clock = std::chrono::steady_clock;
  std::string run_dir_;
  bool write_files_;
  MetricsFile train_, eval_;
  std::unique_ptr<TensorBoardWriter> tb_;
  Clock::time_point rate_time_ = Clock::now();
  long rate_frames_ = 0, rate_updates_ = 0;
};

// The progress line both trainers print, e.g.
// "frames 12000/28000 | 1850 frames/s | 14.2 updates/s | QoS 0.7012 (last 3321 requests) |
//  alpha 0.0100 | entropy 0.412 | critic 0.0123 | ETA 0:00:09" ("no update yet" instead of
// the losses during warm-up); `extra` (policy lag, weight version) goes before the ETA.
std::string FormatProgressLine(const TrainRow& row, long total_frames, const std::string& extra);

// "H:MM:SS".
std::string FormatDuration(double seconds);

}  // namespace qosroute
