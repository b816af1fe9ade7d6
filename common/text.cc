#include "common/text.h"

#include <sstream>

namespace qosroute {

std::vector<std::string> SplitCommas(const std::string& text, EmptyItems empty) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(" \t\r");
    const auto e = item.find_last_not_of(" \t\r");
    if (b != std::string::npos) {
      out.push_back(item.substr(b, e - b + 1));
    } else if (empty == EmptyItems::kKeep) {
      out.emplace_back();
    }
  }
  // getline yields no item after a trailing comma: a CSV row "a," still has two columns.
  if (empty == EmptyItems::kKeep && !text.empty() && text.back() == ',') out.emplace_back();
  return out;
}

}  // namespace qosroute
