#pragma once
// The observation schema: features come in named groups per node type (the arrived request,
// each expert, each running/waiting slot). A group is one unit: its name, version, a one-line
// meaning per column, how it is computed (its Fill) and how the config switches it. The
// observation's layout is the list of groups in force, in the registry's order; encoders take
// their input widths from it, and policy files and checkpoints record it (Text), so that a
// policy is always fed the features it was trained with (Differences, Apply).
//
// A new feature group is one file under env/features/ (a FeatureGroup and its Fill) plus one
// line in the registry (feature_schema.cc): it joins the layout when its name is listed in
// env.feature_groups. docs/SIMULATOR.md section 4 lists every group's columns.
#include <cstdint>
#include <string>
#include <vector>

#include "env/observation.h"

namespace qosroute {

class ClusterEnv;
struct EnvConfig;
struct LookaheadEstimate;

enum class FeatureNode { kRequest, kExpert, kSlot };

struct FeatureColumn {
  const char* name;
  const char* meaning;  // one line: what it measures and its scale
};

// What every group reads at a decision: the cluster as a router may know it (the arrived
// request's predictions, the queues with their predictions and tokens so far), never the
// truth. Values that several groups share are computed once per decision.
class FeatureContext {
 public:
  explicit FeatureContext(const ClusterEnv& env);
  ~FeatureContext();
  const ClusterEnv& env;
  // greedy-qos's look-ahead of routing the arrived request to `expert`.
  const LookaheadEstimate& Lookahead(int expert) const;

 private:
  mutable std::vector<LookaheadEstimate> lookahead_;
  mutable std::vector<char> have_lookahead_;
};

struct FeatureGroup {
  // Layout rule. kAlways: always in the layout. kZerosWhenOff: always in the layout, its
  // columns zero while its switch is off (the groups of files written before the schema had
  // fixed positions). kOnlyWhenOn: in the layout only while switched on.
  enum class Presence { kAlways, kZerosWhenOff, kOnlyWhenOn };

  const char* name;  // "<node>.<what>", e.g. "expert.speed"
  FeatureNode node;
  int version;  // bump when what the columns mean or how they are computed changes
  std::vector<FeatureColumn> columns;
  Presence presence;
  // The switch: an EnvConfig flag of the groups that predate the schema, or (both null) the
  // group's name listed in EnvConfig::feature_groups.
  bool (*is_on)(const EnvConfig&) = nullptr;
  void (*set_on)(EnvConfig*, bool) = nullptr;
  // Writes the group's columns. Expert groups: columns [offset, offset + width) of every
  // expert's row; request groups: obs->request from `offset`; slot groups: every slot and
  // mask. Called only while the group is on (zeros otherwise).
  void (*fill)(const FeatureContext& context, Observation* obs, int offset);

  int width() const { return static_cast<int>(columns.size()); }
};

// Every group this build knows, in layout order.
const std::vector<const FeatureGroup*>& FeatureGroups();
// The group named `name`, or nullptr.
const FeatureGroup* FindFeatureGroup(const std::string& name);
bool FeatureGroupIsOn(const FeatureGroup& group, const EnvConfig& config);

class ObservationSchema {
 public:
  struct Entry {
    std::string name;
    FeatureNode node = FeatureNode::kExpert;
    int version = 1;
    int width = 0;
    bool on = true;  // false: a kZerosWhenOff group's zero columns
    int offset = 0;  // its first column in its node's row
  };

  ObservationSchema() = default;
  // The layout of the groups `config` switches on.
  static ObservationSchema For(const EnvConfig& config);
  // Reads Text()'s form. UserError naming `where` for malformed text or an unknown group.
  static ObservationSchema Parse(const std::string& text, const std::string& where);

  const std::vector<Entry>& entries() const { return entries_; }
  int Width(FeatureNode node) const;
  // The entry of `name`, or nullptr when the layout does not hold it.
  const Entry* Find(const std::string& name) const;
  bool IsOn(const std::string& name) const;
  // One line: "request.arrived/1/3; expert.load/1/3; ...; expert.lookahead/1/2/off; ...".
  std::string Text() const;
  // A 64-bit digest of Text(), carried by every observation built with this layout
  // (Observation::schema_id), so that a policy can refuse observations of another layout.
  uint64_t Id() const { return id_; }
  // The groups in which `file` (a policy's or checkpoint's) and `run` differ, one phrase
  // each, e.g. "expert.aggregates (the file has it, 7 columns; this run does not)".
  static std::vector<std::string> Differences(const ObservationSchema& file,
                                              const ObservationSchema& run);
  // Switches `config`'s groups to this schema's (evaluation, simulate and serve build what a
  // policy file records). UserError naming the group when this build cannot build it (an
  // unknown group, another version or width).
  void Apply(EnvConfig* config) const;
  bool operator==(const ObservationSchema& o) const { return id_ == o.id_ && Text() == o.Text(); }
  bool operator!=(const ObservationSchema& o) const { return !(*this == o); }

 private:
  void Add(Entry entry);
  std::vector<Entry> entries_;
  uint64_t id_ = 0;
};

// The layout of a default EnvConfig (the reference 3 / 12 / 6 features, optional groups off).
ObservationSchema DefaultObservationSchema();

// UserError naming env.feature_groups for a name that is not an optional group of this build.
void ValidateFeatureGroups(const EnvConfig& config);

}  // namespace qosroute
