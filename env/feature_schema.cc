#include "env/feature_schema.h"

#include <algorithm>
#include <sstream>

#include "common/error.h"
#include "env/cluster_env.h"
#include "env/heuristics.h"

namespace qosroute {

// The registry: one line per group (its function, defined in its own file under
// env/features/, is the name here plus "Group"). Order is layout order within each node type;
// groups that predate the schema keep their positions.
#define QOSROUTE_FEATURE_GROUPS(X) \
  X(RequestArrived)                \
  X(RequestChoice)                 \
  X(ExpertLoad)                    \
  X(ExpertArrived)                 \
  X(ExpertIteration)               \
  X(ExpertLookahead)               \
  X(ExpertScorePrior)              \
  X(ExpertGreedyValue)             \
  X(ExpertAggregates)              \
  X(ExpertSpeed)                   \
  X(ExpertRelativeWork)            \
  X(SlotRequest)

#define QOSROUTE_DECLARE_GROUP(name) const FeatureGroup& name##Group();
QOSROUTE_FEATURE_GROUPS(QOSROUTE_DECLARE_GROUP)
#undef QOSROUTE_DECLARE_GROUP

const std::vector<const FeatureGroup*>& FeatureGroups() {
#define QOSROUTE_LIST_GROUP(name) &name##Group(),
  static const std::vector<const FeatureGroup*> groups = {
      QOSROUTE_FEATURE_GROUPS(QOSROUTE_LIST_GROUP)};
#undef QOSROUTE_LIST_GROUP
  return groups;
}

namespace {

bool Listed(const EnvConfig& config, const std::string& name) {
  return std::find(config.feature_groups.begin(), config.feature_groups.end(), name) !=
         config.feature_groups.end();
}

std::string Columns(int width) {
  return std::to_string(width) + (width == 1 ? " column" : " columns");
}

std::string Describe(const ObservationSchema::Entry* e) {
  if (e == nullptr) return "does not";
  return "has it" + std::string(e->on ? "" : " switched off (zeros)") + ", v" +
         std::to_string(e->version) + ", " + Columns(e->width);
}

}  // namespace

FeatureContext::FeatureContext(const ClusterEnv& e)
    : env(e), lookahead_(e.experts().size()), have_lookahead_(e.experts().size(), 0) {}

FeatureContext::~FeatureContext() = default;

const LookaheadEstimate& FeatureContext::Lookahead(int expert) const {
  if (!have_lookahead_[expert]) {
    lookahead_[expert] = EstimateRouting(env, expert, env.config().lookahead_sharpness);
    have_lookahead_[expert] = 1;
  }
  return lookahead_[expert];
}

const FeatureGroup* FindFeatureGroup(const std::string& name) {
  for (const FeatureGroup* g : FeatureGroups())
    if (name == g->name) return g;
  return nullptr;
}

bool FeatureGroupIsOn(const FeatureGroup& group, const EnvConfig& config) {
  if (group.presence == FeatureGroup::Presence::kAlways) return true;
  return group.is_on != nullptr ? group.is_on(config) : Listed(config, group.name);
}

void ObservationSchema::Add(Entry entry) {
  entry.offset = Width(entry.node);
  entries_.push_back(std::move(entry));
  // FNV-1a over the text form.
  id_ = 1469598103934665603ULL;
  for (const char ch : Text()) id_ = (id_ ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
}

ObservationSchema ObservationSchema::For(const EnvConfig& config) {
  ObservationSchema schema;
  for (const FeatureGroup* g : FeatureGroups()) {
    const bool on = FeatureGroupIsOn(*g, config);
    if (!on && g->presence == FeatureGroup::Presence::kOnlyWhenOn) continue;
    schema.Add({g->name, g->node, g->version, g->width(), on, 0});
  }
  return schema;
}

int ObservationSchema::Width(FeatureNode node) const {
  int width = 0;
  for (const Entry& e : entries_)
    if (e.node == node) width += e.width;
  return width;
}

const ObservationSchema::Entry* ObservationSchema::Find(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

bool ObservationSchema::IsOn(const std::string& name) const {
  const Entry* e = Find(name);
  return e != nullptr && e->on;
}

std::string ObservationSchema::Text() const {
  std::string text;
  for (const Entry& e : entries_) {
    if (!text.empty()) text += "; ";
    text += e.name + "/" + std::to_string(e.version) + "/" + std::to_string(e.width);
    if (!e.on) text += "/off";
  }
  return text;
}

ObservationSchema ObservationSchema::Parse(const std::string& text, const std::string& where) {
  ObservationSchema schema;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ';')) {
    item.erase(0, item.find_first_not_of(' '));
    std::vector<std::string> parts;
    std::istringstream fields(item);
    for (std::string f; std::getline(fields, f, '/');) parts.push_back(f);
    const FeatureGroup* group = parts.empty() ? nullptr : FindFeatureGroup(parts[0]);
    const bool well_formed = (parts.size() == 3 || (parts.size() == 4 && parts[3] == "off")) &&
                             parts[1].find_first_not_of("0123456789") == std::string::npos &&
                             parts[2].find_first_not_of("0123456789") == std::string::npos &&
                             !parts[1].empty() && !parts[2].empty() && parts[1].size() < 6 &&
                             parts[2].size() < 6;
    if (!well_formed) {
      throw UserError(where + ": malformed observation schema entry '" + item +
                      "' (want name/version/width[/off])");
    }
    if (group == nullptr) {
      throw UserError(where + ": feature group " + parts[0] +
                      " is unknown to this build (written by a newer qosroute?)");
    }
    schema.Add(
        {parts[0], group->node, std::stoi(parts[1]), std::stoi(parts[2]), parts.size() == 3, 0});
  }
  return schema;
}

std::vector<std::string> ObservationSchema::Differences(const ObservationSchema& file,
                                                        const ObservationSchema& run) {
  std::vector<std::string> names;
  for (const auto* s : {&file, &run})
    for (const Entry& e : s->entries_)
      if (std::find(names.begin(), names.end(), e.name) == names.end()) names.push_back(e.name);
  std::vector<std::string> out;
  for (const std::string& name : names) {
    const Entry* a = file.Find(name);
    const Entry* b = run.Find(name);
    if (a != nullptr && b != nullptr && a->on == b->on && a->version == b->version &&
        a->width == b->width) {
      continue;
    }
    out.push_back(name + " (the file " + Describe(a) + "; this run " + Describe(b) + ")");
  }
  // Same groups in another order: a layout this build never writes.
  if (out.empty() && file.Text() != run.Text()) out.push_back("the order of the groups");
  return out;
}

void ObservationSchema::Apply(EnvConfig* config) const {
  for (const Entry& e : entries_) {
    const FeatureGroup* g = FindFeatureGroup(e.name);
    QR_CHECK(g != nullptr);  // Parse admits only known groups
    if (g->version != e.version || g->width() != e.width) {
      throw UserError("feature group " + e.name + " v" + std::to_string(e.version) + " (" +
                      Columns(e.width) + ") cannot be built by this qosroute, which has v" +
                      std::to_string(g->version) + " (" + Columns(g->width()) + ")");
    }
  }
  config->feature_groups.clear();
  for (const FeatureGroup* g : FeatureGroups()) {
    if (g->presence == FeatureGroup::Presence::kAlways) continue;
    const bool on = IsOn(g->name);
    if (g->set_on != nullptr) {
      g->set_on(config, on);
    } else if (on) {
      config->feature_groups.push_back(g->name);
    }
  }
  const ObservationSchema built = For(*config);
  if (built != *this) {
    throw UserError("observation schema '" + Text() +
                    "' is not a layout this qosroute builds (it would build '" + built.Text() +
                    "')");
  }
}

ObservationSchema DefaultObservationSchema() {
  return ObservationSchema::For(EnvConfig{});
}

void ValidateFeatureGroups(const EnvConfig& config) {
  for (const std::string& name : config.feature_groups) {
    const FeatureGroup* g = FindFeatureGroup(name);
    if (g == nullptr || g->is_on != nullptr || g->presence == FeatureGroup::Presence::kAlways) {
      std::string known;
      for (const FeatureGroup* o : FeatureGroups()) {
        if (o->is_on == nullptr && o->presence != FeatureGroup::Presence::kAlways)
          known += (known.empty() ? "" : ", ") + std::string(o->name);
      }
      throw UserError("env.feature_groups: " + name +
                      (g == nullptr ? " is not a feature group"
                                    : " is not switched by this key (it has a key of its own)") +
                      "; the groups it switches: " + known);
    }
  }
}

}  // namespace qosroute
