#pragma once
// The INI keys of a config, each bound to the field it sets (Boost.Program_options), with a
// printer per key for the resolved config that every run writes (config.cfg).
#include <boost/program_options.hpp>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/name_table.h"

namespace qosroute {

// Registers typed keys bound to config fields and remembers how to print each value back.
class KeyTable {
 public:
  explicit KeyTable(boost::program_options::options_description* desc) : desc_(desc) {}

  template <typename T>
  void Add(const std::string& key, T* field, const char* help) {
    desc_->add_options()(key.c_str(),
                         boost::program_options::value<T>(field)->default_value(*field), help);
    printers_[key] = [field] {
      std::ostringstream s;
      s << *field;
      return s.str();
    };
  }
  void AddBool(const std::string& key, bool* field, const char* help) {
    desc_->add_options()(key.c_str(),
                         boost::program_options::value<bool>(field)->default_value(*field), help);
    printers_[key] = [field] { return std::string(*field ? "true" : "false"); };
  }
  template <typename Int>
  void AddIntList(const std::string& key, std::vector<Int>* field, std::string* text,
                  const char* help) {
    std::string joined;
    for (Int v : *field) joined += (joined.empty() ? "" : ",") + std::to_string(v);
    *text = joined;
    desc_->add_options()(
        key.c_str(), boost::program_options::value<std::string>(text)->default_value(joined), help);
    printers_[key] = [text] { return *text; };
  }
  // A choice from a name table: read as text, parsed once by ParseChoices (after the keys are
  // stored) into the enum; the help text lists the table's names.
  template <typename E>
  void AddChoice(const std::string& key, E* field, const NameTable<E>& table, const char* help) {
    auto text = std::make_shared<std::string>(table.Name(*field));
    const std::string described = std::string(help) + ": " + table.List(" | ");
    desc_->add_options()(
        key.c_str(), boost::program_options::value<std::string>(text.get())->default_value(*text),
        described.c_str());
    printers_[key] = [field, &table] { return std::string(table.Name(*field)); };
    parsers_.push_back([key, field, &table, text](const std::string& where) {
      *field = table.Parse(*text, where + ": " + key);
    });
  }
  // Parses every AddChoice key; UserError "<where>: <key>: unknown ... known: ..." for a name
  // its table lacks.
  void ParseChoices(const std::string& where) const {
    for (const auto& parse : parsers_) parse(where);
  }
  std::map<std::string, std::string> Resolved() const {
    std::map<std::string, std::string> out;
    for (const auto& [key, print] : printers_) out[key] = print();
    return out;
  }

 private:
  boost::program_options::options_description* desc_;
  std::map<std::string, std::function<std::string()>> printers_;
  std::vector<std::function<void(const std::string&)>> parsers_;
};

}  // namespace qosroute
