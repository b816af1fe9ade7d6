#pragma once
// Scalars for TensorBoard without torch or TensorFlow: one event file per writer,
// <dir>/events.out.tfevents.<unix_seconds>.<hostname>, as TensorBoard expects to find it.
//
// Why the protobuf wire format is encoded by hand instead of with libprotobuf: the file needs
// three message types (Event, Summary, Summary.Value) and seven fields, about sixty lines to
// write; libprotobuf would add generated code, protoc at build time and a dependency that
// could clash with the protobuf some LibTorch builds carry, for no gain. Field numbers follow
// tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto:
//   Event:         wall_time = 1 (double), step = 2 (int64), file_version = 3 (string),
//                  summary = 5 (Summary)
//                  session_log = 6 (SessionLog: status = 1, START = 1)
//   Summary:       value = 1 (repeated Summary.Value)
//   Summary.Value: tag = 1 (string), simple_value = 2 (float)
// Each Event is framed as a TFRecord: uint64 length, masked CRC32C of the length, the bytes,
// masked CRC32C of the bytes (all little endian). common/tensorboard_reader.h reads it back.
//
// Not thread-safe: one writer belongs to one thread (the learner's metrics loop).
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace qosroute {

class TensorBoardWriter {
 public:
  // Seconds since the Unix epoch; injectable so tests get exact wall_time values.
  using Clock = std::function<double()>;
  static double SystemClock();

  // Creates `dir` when missing and the event file in it, then writes and flushes the
  // file_version record, so the file is valid from the start. If a file of that name exists
  // (two writers in one second), ".1", ".2", ... is appended rather than overwriting it.
  // Throws UserError naming the path when the folder or file cannot be created.
  explicit TensorBoardWriter(const std::string& dir, Clock clock = &TensorBoardWriter::SystemClock);
  // Flushes and closes; errors here are logged, not thrown (destructors must not throw).
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // Appends Event{wall_time, step, summary{value{tag, simple_value = float(value)}}}.
  // Buffered: call Flush() for TensorBoard to see it before the writer is destroyed.
  void AddScalar(const std::string& tag, double value, int64_t step);
  // Appends Event{wall_time, step, session_log{status: START}}. TensorBoard then discards
  // the events of earlier files whose step is >= `step`: a run resumed from a checkpoint at
  // `step` writes this first, so the rows the first process wrote after that checkpoint (and
  // the resumed run writes again) are not shown twice.
  void AddSessionStart(int64_t step);
  void Flush();

  const std::string& path() const { return path_; }

 private:
  void WriteRecord(const std::string& data);
  [[noreturn]] void Fail(const std::string& what) const;

  Clock clock_;
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace qosroute
