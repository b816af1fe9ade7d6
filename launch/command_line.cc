#include "launch/command_line.h"

#include <iostream>

namespace po = boost::program_options;

namespace qosroute {

std::optional<po::variables_map> ParseCommandLine(
    const Args& args, const po::options_description& desc,
    const po::positional_options_description* positional) {
  po::command_line_parser parser(args);
  parser.options(desc);
  if (positional != nullptr) parser.positional(*positional);
  po::variables_map vm;
  po::store(parser.run(), vm);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return std::nullopt;
  }
  po::notify(vm);
  return vm;
}

}  // namespace qosroute
