#pragma once
// One name table per enumerated choice (routing policies, priors, warm-up policies, encoders,
// time models): names are parsed once, where they enter (config, command line, files), into
// the enum; code compares enums; help texts and error messages list the table's names.
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace qosroute {

template <typename E>
class NameTable {
 public:
  struct Entry {
    E value;
    const char* name;
  };

  // `what` names the choice in messages ("routing policy", "sac.prior").
  NameTable(const char* what, std::initializer_list<Entry> entries)
      : what_(what), entries_(entries) {}

  // The value named `name`; UserError "<where>: unknown <what> '<name>'; known: a, b" else.
  E Parse(const std::string& name, const std::string& where) const {
    for (const Entry& e : entries_)
      if (name == e.name) return e.value;
    throw UserError(where + ": unknown " + what_ + " '" + name + "'; known: " + List());
  }
  bool Has(const std::string& name) const {
    for (const Entry& e : entries_)
      if (name == e.name) return true;
    return false;
  }
  const char* Name(E value) const {
    for (const Entry& e : entries_)
      if (e.value == value) return e.name;
    return "?";
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const Entry& e : entries_) names.emplace_back(e.name);
    return names;
  }
  std::vector<E> Values() const {
    std::vector<E> values;
    for (const Entry& e : entries_) values.push_back(e.value);
    return values;
  }
  // "a, b, c" (or with another separator): for help texts and messages.
  std::string List(const char* separator = ", ") const {
    std::string out;
    for (const Entry& e : entries_) out += (out.empty() ? "" : separator) + std::string(e.name);
    return out;
  }

 private:
  std::string what_;
  std::vector<Entry> entries_;
};

}  // namespace qosroute
