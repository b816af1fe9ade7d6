// `qosroute inspect CKPT`: what a checkpoint holds, without loading any network.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "checkpoint/inspect.h"
#include "common/error.h"
#include "launch/command_line.h"
#include "launch/commands.h"

namespace po = boost::program_options;

namespace qosroute {

int RunInspectCommand(const Args& args) {
  std::string path;
  bool show_config = true;
  po::options_description desc(
      "qosroute inspect CHECKPOINT: format version, counters, architecture, the size of each part, "
      "and the config");
  desc.add_options()("help,h", "show this help")("checkpoint", po::value(&path),
                                                 "checkpoint file (.h5)")(
      "config", po::value(&show_config)->default_value(true), "also print the resolved config");
  po::positional_options_description positional;
  positional.add("checkpoint", 1);
  if (!ParseCommandLine(args, desc, &positional)) return 0;
  if (path.empty())
    throw UserError(
        "inspect needs a checkpoint file: qosroute inspect runs/NAME/checkpoints/ckpt_N.h5");
  const std::string summary = DescribeCheckpoint(path, show_config);
  std::fwrite(summary.data(), 1, summary.size(), stdout);
  return 0;
}

}  // namespace qosroute
