#pragma once
// The cluster.* and expert.<name>.* keys of a run config: which experts, on which GPU
// profile, with which time and power models (docs/SIMULATOR.md sections 1 and 9). Split from
// launch/config.cc, which calls it; only launch/ parses.
#include <boost/program_options.hpp>
#include <map>
#include <string>
#include <vector>

#include "env/expert_config.h"

namespace qosroute {

// Keys read before the others: the experts' sections are only known once their names are.
struct ClusterPrelude {
  std::vector<std::string> names;
  std::string experts_text = "alpaca-native,chatglm-6b,mpt-7b-instruct";
  std::string gpu = "none";
};

class ClusterKeys {
 public:
  // Registers every cluster.* key and expert.<name>.* key of `prelude.names` on `desc`.
  ClusterKeys(const ClusterPrelude& prelude, boost::program_options::options_description* desc);

  // After the variables map is notified: one ExpertConfig per name. Catalog experts start
  // from the catalog, others from their keys (kv_bytes_per_token and weights_gb required, and
  // mean_score when `synthetic` names no model of that name); then the GPU profile, the
  // explicit cluster.* keys and the expert.<name>.* keys, in that order. Profiles are read
  // relative to `base_dir`. Throws UserError "<where>: ..." naming the expert and key.
  std::vector<ExpertConfig> Build(const boost::program_options::variables_map& vm,
                                  const std::string& where, const std::string& base_dir,
                                  const std::vector<std::string>& synthetic_models) const;

  // Adds the resolved cluster.* and expert.<name>.* values of `experts` to `resolved`.
  void AddResolved(const std::vector<ExpertConfig>& experts,
                   std::map<std::string, std::string>* resolved) const;

 private:
  ClusterPrelude prelude_;
  ExpertConfig shared_;  // cluster-wide values, bound to the cluster.* keys
  std::string profile_path_;
  std::string time_model_text_;  // cluster.time_model as given, parsed by Build
};

}  // namespace qosroute
