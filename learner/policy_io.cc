#include "learner/policy_io.h"

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <sstream>
#include <utility>

#include "checkpoint/hdf5_file.h"
#include "common/error.h"
#include "env/cluster_env.h"

namespace qosroute {
namespace {

constexpr char kFormat[] = "qosroute-policy";
// 2: expert features 9-11 (the expert's mean score, greedy-qos value and margin), the
// dueling attribute, the optional-feature attributes and the prior policy.
constexpr int64_t kFormatVersion = 2;
constexpr char kParameters[] = "/parameters";
// The observation's layout (ObservationSchema::Text). Files from before it record the
// switches of the groups that existed then instead (LegacySchema below).
constexpr char kSchemaAttribute[] = "observation_schema";

std::string ToString(const std::vector<int64_t>& values) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < values.size(); ++i) out << (i > 0 ? ", " : "") << values[i];
  out << "]";
  return out.str();
}

// Every architecture field of format version 2 with its attribute name, for both directions
// and both file kinds (later optional ones are read and written after it).
template <typename Architecture, typename Visit>
void ForEachArchitectureField(Architecture& a, Visit visit) {
  visit("encoder", a.encoder);
  visit("hidden", a.hidden);
  visit("heads", a.heads);
  visit("layers", a.layers);
  visit("semantic_hidden", a.semantic_hidden);
  visit("mlp_hidden", a.mlp_hidden);
  visit("dueling", a.dueling);
  visit("flat_mlp_hidden", a.flat_mlp_hidden);
  visit("request_features", a.request_features);
  visit("expert_features", a.expert_features);
  visit("slot_features", a.slot_features);
  visit("num_experts", a.num_experts);
  visit("max_running", a.max_running);
  visit("max_waiting", a.max_waiting);
  visit("prior", a.prior);
  visit("prior_temperature", a.prior_temperature);
  visit("prior_drop_value", a.prior_drop_value);
}

void ReadAttribute(const h5::Reader& r, const std::string& g, const char* name, int64_t* v) {
  *v = r.IntAttribute(g, name);
}
void ReadAttribute(const h5::Reader& r, const std::string& g, const char* name, double* v) {
  *v = r.DoubleAttribute(g, name);
}
void ReadAttribute(const h5::Reader& r, const std::string& g, const char* name, std::string* v) {
  *v = r.StringAttribute(g, name);
}
void ReadAttribute(const h5::Reader& r, const std::string& g, const char* name,
                   std::vector<int64_t>* v) {
  *v = r.IntsAttribute(g, name);
}

// Opens a policy file and checks its format and version.
std::unique_ptr<h5::Reader> OpenPolicy(const std::string& path) {
  auto r = std::make_unique<h5::Reader>(path, "policy " + path);
  if (!r->HasAttribute("/", "format")) {
    throw UserError("policy " + path +
                    " lacks the attribute 'format' (not a qosroute policy file?)");
  }
  const std::string format = r->StringAttribute("/", "format");
  if (format != kFormat) {
    throw UserError("policy " + path + " has format '" + format + "' where '" + kFormat +
                    "' is expected");
  }
  const int64_t version = r->IntAttribute("/", "format_version");
  if (version != kFormatVersion) {
    throw UserError("policy " + path + " has format_version=" + std::to_string(version) +
                    " but this build reads " + std::to_string(kFormatVersion));
  }
  return r;
}

// The layout a file without kSchemaAttribute was written with: its group switches (format
// version 2 has the first three; expert_aggregates came later, absent = off).
ObservationSchema LegacySchema(const h5::Reader& r, const std::string& group) {
  EnvConfig env;
  env.lookahead_features = r.IntAttribute(group, "lookahead_features") != 0;
  env.lookahead_value = r.IntAttribute(group, "lookahead_value") != 0;
  env.expert_score_prior = r.IntAttribute(group, "expert_score_prior") != 0;
  env.expert_aggregates = r.IntAttributeOr(group, "expert_aggregates", 0) != 0;
  return ObservationSchema::For(env);
}

}  // namespace

std::string ArchitectureDifference(const PolicyArchitecture& file, const PolicyArchitecture& wanted,
                                   bool pin_layout) {
  std::string difference;
  auto check = [&difference](const char* field, const std::string& in_file,
                             const std::string& asked, const char* asker) {
    if (difference.empty() && in_file != asked) {
      difference = std::string(field) + "=" + in_file + " but " + asker + " " + asked;
    }
  };
  const char* config = "the config asks for";
  const char* build = "this build uses";
  auto str = [](int64_t v) { return std::to_string(v); };
  // The feature groups first: they set the input widths, so a differing width is theirs to
  // name, and every group that differs is named.
  const std::vector<std::string> groups =
      ObservationSchema::Differences(file.schema, wanted.schema);
  if (!groups.empty()) {
    difference = "observation feature groups that differ from this run's: ";
    for (size_t i = 0; i < groups.size(); ++i) difference += (i > 0 ? "; " : "") + groups[i];
  }
  check("request_features", str(file.request_features), str(wanted.request_features), build);
  check("expert_features", str(file.expert_features), str(wanted.expert_features), build);
  check("slot_features", str(file.slot_features), str(wanted.slot_features), build);
  check("encoder", file.encoder, wanted.encoder, config);
  check("hidden", str(file.hidden), str(wanted.hidden), config);
  check("mlp_hidden", ToString(file.mlp_hidden), ToString(wanted.mlp_hidden), config);
  check("dueling", str(file.dueling), str(wanted.dueling), config);
  check("prior", file.prior, wanted.prior, config);
  if (wanted.prior != "none") {
    auto num = [](double v) { return fmt::format("{}", v); };
    check("prior_temperature", num(file.prior_temperature), num(wanted.prior_temperature), config);
    check("prior_drop_value", num(file.prior_drop_value), num(wanted.prior_drop_value), config);
  }
  if (pin_layout || wanted.encoder != "han") {
    check("num_experts", str(file.num_experts), str(wanted.num_experts), config);
    check("max_running", str(file.max_running), str(wanted.max_running), config);
    check("max_waiting", str(file.max_waiting), str(wanted.max_waiting), config);
  }
  if (wanted.encoder == "han") {
    check("heads", str(file.heads), str(wanted.heads), config);
    check("layers", str(file.layers), str(wanted.layers), config);
    check("semantic_hidden", str(file.semantic_hidden), str(wanted.semantic_hidden), config);
  } else {
    check("flat_mlp_hidden", ToString(file.flat_mlp_hidden), ToString(wanted.flat_mlp_hidden),
          config);
  }
  return difference;
}

void WriteArchitecture(h5::Writer& w, const std::string& group, const PolicyArchitecture& a) {
  ForEachArchitectureField(
      a, [&](const char* name, const auto& value) { w.Attribute(group, name, value); });
  w.Attribute(group, kSchemaAttribute, a.schema.Text());
}

PolicyArchitecture ReadArchitecture(const h5::Reader& r, const std::string& group) {
  PolicyArchitecture a;
  ForEachArchitectureField(
      a, [&](const char* name, auto& value) { ReadAttribute(r, group, name, &value); });
  a.schema = r.HasAttribute(group, kSchemaAttribute)
                 ? ObservationSchema::Parse(r.StringAttribute(group, kSchemaAttribute),
                                            r.path() + ": " + group + "@" + kSchemaAttribute)
                 : LegacySchema(r, group);
  return a;
}

PolicyArchitecture ArchitectureOf(const SacConfig& config) {
  PolicyArchitecture a;
  a.encoder = Encoders().Name(config.encoder);
  a.hidden = config.encoder_hidden();
  a.heads = config.han.heads();
  a.layers = config.han.layers();
  a.semantic_hidden = config.han.semantic_hidden();
  a.mlp_hidden = config.mlp_hidden;
  a.dueling = config.dueling ? 1 : 0;
  a.flat_mlp_hidden = config.flat_mlp_hidden;
  a.request_features = config.schema.Width(FeatureNode::kRequest);
  a.expert_features = config.schema.Width(FeatureNode::kExpert);
  a.slot_features = config.schema.Width(FeatureNode::kSlot);
  a.num_experts = config.num_experts;
  a.max_running = config.max_running;
  a.max_waiting = config.max_waiting;
  a.schema = config.schema;
  a.prior = Priors().Name(config.prior);
  a.prior_temperature = config.prior_temperature;
  a.prior_drop_value = config.prior_drop_value;
  return a;
}

void ApplyArchitecture(const PolicyArchitecture& architecture, const std::string& path,
                       SacConfig* config) {
  SacConfig candidate = *config;
  try {
    EnvConfig probe;  // can this build lay out the file's observations?
    architecture.schema.Apply(&probe);
  } catch (const UserError& e) {
    throw UserError("policy " + path + ": " + e.what());
  }
  candidate.encoder =
      Encoders().Parse(architecture.encoder, "policy " + path + ": attribute encoder");
  candidate.mlp_hidden = architecture.mlp_hidden;
  candidate.dueling = architecture.dueling != 0;
  candidate.schema = architecture.schema;
  candidate.prior = Priors().Parse(architecture.prior, "policy " + path + ": attribute prior");
  candidate.prior_temperature = architecture.prior_temperature;
  candidate.prior_drop_value = architecture.prior_drop_value;
  if (architecture.encoder == "han") {
    candidate.han.hidden(architecture.hidden)
        .heads(architecture.heads)
        .layers(architecture.layers)
        .semantic_hidden(architecture.semantic_hidden);
  } else {
    candidate.flat_hidden = architecture.hidden;
    candidate.flat_mlp_hidden = architecture.flat_mlp_hidden;
    candidate.num_experts = architecture.num_experts;
    candidate.max_running = architecture.max_running;
    candidate.max_waiting = architecture.max_waiting;
  }
  const std::string difference =
      ArchitectureDifference(architecture, ArchitectureOf(candidate), /*pin_layout=*/false);
  if (!difference.empty()) throw UserError("policy " + path + " has " + difference);
  *config = std::move(candidate);
}

void SavePolicy(const std::string& path, const SacAgent& agent) {
  const std::string temporary = path + ".tmp";
  {
    h5::Writer w(temporary, "policy " + temporary, /*compression_level=*/0);
    w.Attribute("/", "format", std::string(kFormat));
    w.Attribute("/", "format_version", kFormatVersion);
    WriteArchitecture(w, "/", ArchitectureOf(agent.config()));
    // Deployment, not architecture: never compared, only applied by evaluators.
    w.Attribute("/", "deviation_margin", agent.config().deviation_margin);
    w.Group(kParameters);
    for (const auto& [name, parameter] : agent.NamedParameters()) {
      const torch::Tensor values = parameter.detach().to(torch::kCPU, torch::kFloat32).contiguous();
      w.Write(std::string(kParameters) + "/" + name, values.data_ptr<float>(),
              h5::Dims(values.sizes().begin(), values.sizes().end()));
    }
    w.Close();
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) throw UserError("cannot move " + temporary + " to " + path + ": " + ec.message());
}

PolicyArchitecture ReadPolicyArchitecture(const std::string& path) {
  return ReadArchitecture(*OpenPolicy(path), "/");
}

double ReadPolicyDeviationMargin(const std::string& path) {
  const auto r = OpenPolicy(path);
  if (!r->HasAttribute("/", "deviation_margin")) return 0.0;
  const double margin = r->DoubleAttribute("/", "deviation_margin");
  if (!(margin >= 0.0 && margin <= 1e3)) {
    throw UserError("policy " + path + " has deviation_margin " + std::to_string(margin) +
                    " outside [0, 1000]");
  }
  return margin;
}

void LoadPolicy(const std::string& path, SacAgent* agent) {
  const auto r = OpenPolicy(path);
  const std::string difference = ArchitectureDifference(
      ReadArchitecture(*r, "/"), ArchitectureOf(agent->config()), /*pin_layout=*/false);
  if (!difference.empty()) throw UserError("policy " + path + " has " + difference);
  if (!r->Has(kParameters)) throw UserError("policy " + path + " lacks the group " + kParameters);
  const std::vector<NamedTensor> own = agent->NamedParameters();
  const size_t stored = r->Children(kParameters).size();
  if (stored != own.size()) {
    throw UserError("policy " + path + " holds " + std::to_string(stored) +
                    " parameters but the agent has " + std::to_string(own.size()));
  }
  std::vector<NamedTensor> loaded;
  loaded.reserve(own.size());
  for (const auto& [name, parameter] : own) {
    const std::string dataset = std::string(kParameters) + "/" + name;
    if (!r->Has(dataset)) throw UserError("policy " + path + " lacks parameter " + name);
    const std::vector<int64_t> shape = parameter.sizes().vec();
    const h5::Dims file_dims = r->Shape(dataset);
    if (std::vector<int64_t>(file_dims.begin(), file_dims.end()) != shape) {
      throw UserError("policy " + path + " stores parameter " + name + " with shape " +
                      h5::FormatDims(file_dims) + " but the agent's is " + ToString(shape));
    }
    torch::Tensor values = torch::empty(parameter.sizes(), torch::kFloat32);
    r->ReadInto(dataset, file_dims, values.data_ptr<float>());
    loaded.emplace_back(name, values);
  }
  agent->LoadParameters(loaded);
}

}  // namespace qosroute
