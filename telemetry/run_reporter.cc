#include "telemetry/run_reporter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

namespace qosroute {

namespace {

namespace fs = std::filesystem;

// The carried text, or the header when the text is empty or was written under another header.
std::string StartText(const std::string& carried, const char* header, const std::string& name) {
  if (carried.empty()) return header;
  if (carried.compare(0, std::string(header).size(), header) == 0) return carried;
  spdlog::warn(
      "the checkpoint's {} has the columns of an older qosroute; {} restarts with the current "
      "columns (the old rows are not carried over)",
      name, name);
  return header;
}

}  // namespace

RunReporter::RunReporter(std::string run_dir, bool write_files)
    : run_dir_(std::move(run_dir)), write_files_(write_files && !run_dir_.empty()) {}

void RunReporter::Open(const std::string& train_text, const std::string& eval_text, long frames,
                       long updates, bool resumed) {
  const std::string train = StartText(train_text, TrainCsvHeader(), "metrics/train.csv");
  const std::string eval = StartText(eval_text, EvalCsvHeader(), "metrics/eval.csv");
  std::string train_path, eval_path;
  if (write_files_) {
    const fs::path metrics = fs::path(run_dir_) / "metrics";
    fs::create_directories(metrics);
    train_path = (metrics / "train.csv").string();
    eval_path = (metrics / "eval.csv").string();
    tb_ = std::make_unique<TensorBoardWriter>((fs::path(run_dir_) / "tb").string());
    if (resumed) tb_->AddSessionStart(updates);
    tb_->Flush();
  }
  train_.Open(train_path, train);
  eval_.Open(eval_path, eval);
  rate_time_ = Clock::now();
  rate_frames_ = frames;
  rate_updates_ = updates;
}

RunReporter::Rates RunReporter::TakeRates(long frames, long updates) {
  const auto now = Clock::now();
  const double dt = std::max(1e-9, std::chrono::duration<double>(now - rate_time_).count());
  Rates rates;
  rates.frames_per_s = (frames - rate_frames_) / dt;
  rates.updates_per_s = (updates - rate_updates_) / dt;
  rate_time_ = now;
  rate_frames_ = frames;
  rate_updates_ = updates;
  return rates;
}

void RunReporter::Scalar(const std::string& tag, double value, long step) {
  if (tb_) tb_->AddScalar(tag, value, step);
}

void RunReporter::Log(const TrainRow& row) {
  train_.Append(FormatTrainRow(row));
  const long step = row.updates;
  const auto put = [&](const char* tag, const std::optional<double>& value) {
    if (value) Scalar(tag, *value, step);
  };
  put("train/frames_per_s", row.frames_per_s);
  put("train/updates_per_s", row.updates_per_s);
  put("train/critic_loss", row.critic_loss);
  put("train/actor_loss", row.actor_loss);
  put("train/alpha", row.alpha);
  put("train/entropy", row.entropy);
  put("train/q_mean", row.q_mean);
  put("train/policy_lag", row.policy_lag);
  put("train/rolling_qos", row.rolling_qos);
  Flush();
}

void RunReporter::Episode(const TrainRow& row) {
  train_.Append(FormatTrainRow(row));
  if (row.episode_qos) Scalar("train/episode_qos", *row.episode_qos, row.updates);
}

void RunReporter::Eval(const EvalRow& row) {
  eval_.Append(FormatEvalRow(row));
  Scalar("eval/avg_qos", row.avg_qos, row.updates);
  if (row.greedy_qos) Scalar("eval/greedy_qos", *row.greedy_qos, row.updates);
  if (row.vs_greedy_qos) Scalar("eval/vs_greedy_qos", *row.vs_greedy_qos, row.updates);
  Flush();
}

void RunReporter::Flush() {
  train_.Flush();
  eval_.Flush();
  if (tb_) tb_->Flush();
}

std::string FormatDuration(double seconds) {
  const long s = static_cast<long>(std::max(0.0, seconds));
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, static_cast<int>(s / 60 % 60),
                     static_cast<int>(s % 60));
}

std::string FormatProgressLine(const TrainRow& row, long total_frames, const std::string& extra) {
  const double fps = row.frames_per_s.value_or(0.0);
  const std::string qos = row.rolling_qos
                              ? fmt::format("QoS {:.4f} (last {} requests)", *row.rolling_qos,
                                            row.rolling_requests.value_or(0))
                              : std::string("QoS n/a (no request finished since the last line)");
  const std::string losses =
      row.critic_loss
          ? fmt::format("alpha {:.4f} | entropy {:.3f} | critic {:.4f}", row.alpha.value_or(0.0),
                        row.entropy.value_or(0.0), *row.critic_loss)
          : std::string("no update yet");
  const double eta = (total_frames - row.frames) / std::max(fps, 1e-9);
  return fmt::format("frames {}/{} | {:.0f} frames/s | {:.1f} updates/s | {} | {}{} | ETA {}",
                     row.frames, total_frames, fps, row.updates_per_s.value_or(0.0), qos, losses,
                     extra.empty() ? "" : " | " + extra, fps > 0 ? FormatDuration(eta) : "n/a");
}

}  // namespace qosroute
