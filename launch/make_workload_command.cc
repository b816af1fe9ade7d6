// `qosroute make-workload`: a calibrated synthetic mix-instruct set as JSON lines.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "common/error.h"
#include "env/workload.h"
#include "launch/command_line.h"
#include "launch/commands.h"

namespace po = boost::program_options;

namespace qosroute {

int RunMakeWorkloadCommand(const Args& args) {
  std::string out;
  int requests = 5000;
  uint64_t seed = 7;
  po::options_description desc(
      "qosroute make-workload: write a calibrated synthetic workload in the mix-instruct record "
      "shape");
  desc.add_options()("help,h", "show this help")("out", po::value(&out),
                                                 "output file (JSON lines)")(
      "requests", po::value(&requests)->default_value(requests), "number of records")(
      "seed", po::value(&seed)->default_value(seed), "random seed");
  if (!ParseCommandLine(args, desc)) return 0;
  if (out.empty()) throw UserError("make-workload needs --out FILE");
  if (requests < 1) throw UserError("--requests must be >= 1, got " + std::to_string(requests));
  SyntheticOptions options;
  options.num_requests = requests;
  options.seed = seed;
  const Workload workload = GenerateSyntheticWorkload(options);
  WriteWorkloadJsonl(workload, out);
  std::printf("wrote %d synthetic records to %s\n", requests, out.c_str());
  return 0;
}

}  // namespace qosroute
