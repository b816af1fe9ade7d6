#include "telemetry/metrics_file.h"

#include "common/error.h"

namespace qosroute {

void MetricsFile::Open(const std::string& path, const std::string& text) {
  text_ = text;
  if (path.empty()) return;
  out_.open(path, std::ios::out | std::ios::trunc);
  if (!out_) throw UserError("cannot write metrics file " + path);
  out_ << text_;
  out_.flush();
}

void MetricsFile::Append(const std::string& row) {
  text_ += row;
  if (out_.is_open()) out_ << row;
}

void MetricsFile::Flush() {
  if (out_.is_open()) out_.flush();
}

}  // namespace qosroute
