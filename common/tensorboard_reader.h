#pragma once
// Reads TensorBoard event files back, for tests of anything that logs through
// TensorBoardWriter (common/tensorboard_writer.h). Every record's two masked CRC32Cs are
// checked, so a test catches framing bugs, not just wrong values. Only the fields the writer
// emits are decoded; other Event and Summary.Value fields (images, histograms, ...) are
// skipped, so files written by TensorFlow or PyTorch also read.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qosroute {

struct TensorBoardEvent {
  double wall_time = 0.0;
  int64_t step = 0;
  std::string file_version;                            // "" except in the first record
  std::vector<std::pair<std::string, float>> scalars;  // (tag, simple_value)
  int session_status = 0;  // SessionLog.status when the event has one (1 = START)
};

// Every record of the file, in order. Throws UserError naming the file and the record index
// when the file cannot be read, a record is truncated, a CRC does not match, or an Event does
// not parse.
std::vector<TensorBoardEvent> ReadTensorBoardEvents(const std::string& path);

// The event files (names containing "tfevents") directly in `dir`, sorted by name; empty
// when there are none or the folder does not exist.
std::vector<std::string> ListTensorBoardEventFiles(const std::string& dir);

}  // namespace qosroute
