#pragma once
// A metrics CSV that also keeps its text, so that a checkpoint can carry the rows written so
// far and a resumed run can put exactly those back (rows written after the checkpoint are
// dropped; the resumed run writes them again).
#include <fstream>
#include <string>

namespace qosroute {

class MetricsFile {
 public:
  // Starts the file at `path` with `text` (a header, or the rows a checkpoint carried).
  // Without a path only the text is kept (ranks that write no files).
  void Open(const std::string& path, const std::string& text);
  void Append(const std::string& row);
  void Flush();
  const std::string& text() const { return text_; }

 private:
  std::ofstream out_;
  std::string text_;
};

}  // namespace qosroute
