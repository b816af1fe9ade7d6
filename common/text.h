#pragma once
// Splitting a comma-separated line, the one way config lists and profile CSVs are read.
#include <string>
#include <vector>

namespace qosroute {

enum class EmptyItems { kKeep, kDrop };

// The items of `text` between commas, each trimmed of spaces, tabs and carriage returns.
// kKeep keeps empty items (a CSV row's columns stay in place, "a,,b" has 3, "a," has 2);
// kDrop leaves them out (a list "a, b," is {a, b}).
std::vector<std::string> SplitCommas(const std::string& text, EmptyItems empty);

}  // namespace qosroute
