#pragma once
// `qosroute inspect`: a human summary of a checkpoint file. No torch, so that the summary
// never needs the networks it describes.
#include <string>

namespace qosroute {

// Format and version, counters, architecture, each part's datasets, values and bytes (in
// memory and as stored), and (optionally) the resolved config. UserError for a file that is
// not a readable qosroute checkpoint.
std::string DescribeCheckpoint(const std::string& path, bool include_config = true);

}  // namespace qosroute
