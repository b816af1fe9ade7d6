#pragma once
// The flag parsing every subcommand shares (Boost.Program_options).
#include <boost/program_options.hpp>
#include <optional>

#include "launch/commands.h"

namespace qosroute {

// Parses a command's flags into the variables its options are bound to and returns what was
// given. With --help it prints the options and returns nothing: the command then exits 0.
// Unknown flags and bad values throw boost::program_options::error (main reports it once).
std::optional<boost::program_options::variables_map> ParseCommandLine(
    const Args& args, const boost::program_options::options_description& desc,
    const boost::program_options::positional_options_description* positional = nullptr);

}  // namespace qosroute
