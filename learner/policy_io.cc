#include "learner/policy_io.h"

#include <fmt/format.h>
#include <hdf5.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <utility>

#include "common/error.h"
#include "learner/hdf5_id.h"

namespace qosroute {
namespace {

constexpr char kFormat[] = "qosroute-policy";
// 2: expert features 9-11 (the expert's mean score, greedy-qos value and margin), the
// dueling attribute, the optional-feature attributes and the prior policy.
constexpr int64_t kFormatVersion = 2;
constexpr char kParameterGroup[] = "parameters";

using H5Id = h5::Id;

void SilenceHdf5() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

std::string ToString(const std::vector<int64_t>& values) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < values.size(); ++i) out << (i > 0 ? ", " : "") << values[i];
  out << "]";
  return out.str();
}

// Writers throw a UserError naming `path` when HDF5 refuses (disk full, permissions).
class AttributeWriter {
 public:
  AttributeWriter(hid_t location, std::string path) : location_(location), path_(std::move(path)) {}

  void Int(const char* name, int64_t value) {
    H5Id space(H5Screate(H5S_SCALAR), H5Sclose);
    H5Id attr(H5Acreate2(location_, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
    Check(attr.ok() && H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) >= 0, name);
  }

  void Ints(const char* name, const std::vector<int64_t>& values) {
    const hsize_t dims[1] = {values.size()};
    H5Id space(H5Screate_simple(1, dims, nullptr), H5Sclose);
    H5Id attr(H5Acreate2(location_, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
    Check(
        attr.ok() && (values.empty() || H5Awrite(attr.get(), H5T_NATIVE_INT64, values.data()) >= 0),
        name);
  }

  void Double(const char* name, double value) {
    H5Id space(H5Screate(H5S_SCALAR), H5Sclose);
    H5Id attr(H5Acreate2(location_, name, H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
    Check(attr.ok() && H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value) >= 0, name);
  }

  void String(const char* name, const std::string& value) {
    H5Id type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), value.size() + 1);
    H5Tset_strpad(type.get(), H5T_STR_NULLTERM);
    H5Id space(H5Screate(H5S_SCALAR), H5Sclose);
    H5Id attr(H5Acreate2(location_, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
    Check(attr.ok() && H5Awrite(attr.get(), type.get(), value.c_str()) >= 0, name);
  }

 private:
  void Check(bool ok, const char* name) const {
    if (!ok)
      throw UserError("cannot write attribute '" + std::string(name) + "' of policy " + path_);
  }
  hid_t location_;
  std::string path_;
};

class AttributeReader {
 public:
  AttributeReader(hid_t location, std::string path) : location_(location), path_(std::move(path)) {}

  std::vector<int64_t> Ints(const char* name) const {
    H5Id attr = Open(name);
    H5Id space(H5Aget_space(attr.get()), H5Sclose);
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    std::vector<int64_t> values(count > 0 ? static_cast<size_t>(count) : 0);
    if (count < 0 || (count > 0 && H5Aread(attr.get(), H5T_NATIVE_INT64, values.data()) < 0)) {
      throw UserError("policy " + path_ + " has an unreadable attribute '" + name + "'");
    }
    return values;
  }

  int64_t Int(const char* name) const {
    const std::vector<int64_t> values = Ints(name);
    if (values.size() != 1) {
      throw UserError("policy " + path_ + " has attribute '" + name + "' with " +
                      std::to_string(values.size()) + " values where one is expected");
    }
    return values[0];
  }

  bool Has(const char* name) const { return H5Aexists(location_, name) > 0; }

  double Double(const char* name) const {
    H5Id attr = Open(name);
    H5Id space(H5Aget_space(attr.get()), H5Sclose);
    double value = 0.0;
    if (H5Sget_simple_extent_npoints(space.get()) != 1 ||
        H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value) < 0) {
      throw UserError("policy " + path_ + " has an unreadable attribute '" + name + "'");
    }
    return value;
  }

  std::string String(const char* name) const {
    H5Id attr = Open(name);
    H5Id type(H5Aget_type(attr.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0) {
      throw UserError("policy " + path_ + " has attribute '" + name +
                      "' that is not a fixed-length string");
    }
    std::string buffer(H5Tget_size(type.get()), '\0');
    if (H5Aread(attr.get(), type.get(), buffer.data()) < 0) {
      throw UserError("policy " + path_ + " has an unreadable attribute '" + name + "'");
    }
    return buffer.substr(0, buffer.find('\0'));
  }

 private:
  H5Id Open(const char* name) const {
    if (H5Aexists(location_, name) <= 0) {
      throw UserError("policy " + path_ + " lacks the attribute '" + name +
                      "' (not a qosroute policy file?)");
    }
    return H5Id(H5Aopen(location_, name, H5P_DEFAULT), H5Aclose);
  }
  hid_t location_;
  std::string path_;
};

void WriteParameter(hid_t group, const std::string& name, const torch::Tensor& parameter,
                    const std::string& path) {
  const torch::Tensor values = parameter.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  std::vector<hsize_t> dims(values.sizes().begin(), values.sizes().end());
  H5Id space(dims.empty() ? H5Screate(H5S_SCALAR)
                          : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
             H5Sclose);
  H5Id dataset(H5Dcreate2(group, name.c_str(), H5T_IEEE_F32LE, space.get(), H5P_DEFAULT,
                          H5P_DEFAULT, H5P_DEFAULT),
               H5Dclose);
  if (!dataset.ok() || H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                values.data_ptr<float>()) < 0) {
    throw UserError("cannot write parameter " + name + " to policy " + path);
  }
}

torch::Tensor ReadParameter(hid_t group, const std::string& name, const torch::Tensor& like,
                            const std::string& path) {
  if (H5Lexists(group, name.c_str(), H5P_DEFAULT) <= 0) {
    throw UserError("policy " + path + " lacks parameter " + name);
  }
  H5Id dataset(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
  H5Id space(H5Dget_space(dataset.get()), H5Sclose);
  H5Id type(H5Dget_type(dataset.get()), H5Tclose);
  if (!dataset.ok() || H5Tget_class(type.get()) != H5T_FLOAT) {
    throw UserError("policy " + path + " stores parameter " + name +
                    " as something other than floats");
  }
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(rank > 0 ? static_cast<size_t>(rank) : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  const std::vector<int64_t> file_shape(dims.begin(), dims.end());
  if (rank < 0 || file_shape != like.sizes().vec()) {
    throw UserError("policy " + path + " stores parameter " + name + " with shape " +
                    ToString(file_shape) + " but the agent's is " + ToString(like.sizes().vec()));
  }
  torch::Tensor values = torch::empty(like.sizes(), torch::kFloat32);
  if (H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
              values.data_ptr<float>()) < 0) {
    throw UserError("policy " + path + " has an unreadable parameter " + name);
  }
  return values;
}

// The first field in which `file` and `wanted` differ, as "<field>=<file> but the config asks
// for <wanted>", or empty when they agree in every field that shapes the parameters.
std::string FirstDifference(const PolicyArchitecture& file, const PolicyArchitecture& wanted) {
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
  check("request_features", str(file.request_features), str(wanted.request_features), build);
  check("expert_features", str(file.expert_features), str(wanted.expert_features), build);
  check("slot_features", str(file.slot_features), str(wanted.slot_features), build);
  check("encoder", file.encoder, wanted.encoder, config);
  check("hidden", str(file.hidden), str(wanted.hidden), config);
  check("mlp_hidden", ToString(file.mlp_hidden), ToString(wanted.mlp_hidden), config);
  check("dueling", str(file.dueling), str(wanted.dueling), config);
  check("lookahead_features", str(file.lookahead_features), str(wanted.lookahead_features), config);
  check("lookahead_value", str(file.lookahead_value), str(wanted.lookahead_value), config);
  check("expert_score_prior", str(file.expert_score_prior), str(wanted.expert_score_prior), config);
  check("prior", file.prior, wanted.prior, config);
  if (wanted.prior != "none") {
    auto num = [](double v) { return fmt::format("{}", v); };
    check("prior_temperature", num(file.prior_temperature), num(wanted.prior_temperature), config);
    check("prior_drop_value", num(file.prior_drop_value), num(wanted.prior_drop_value), config);
  }
  if (wanted.encoder == "han") {
    check("heads", str(file.heads), str(wanted.heads), config);
    check("layers", str(file.layers), str(wanted.layers), config);
    check("semantic_hidden", str(file.semantic_hidden), str(wanted.semantic_hidden), config);
  } else {
    check("flat_mlp_hidden", ToString(file.flat_mlp_hidden), ToString(wanted.flat_mlp_hidden),
          config);
    check("num_experts", str(file.num_experts), str(wanted.num_experts), config);
    check("max_running", str(file.max_running), str(wanted.max_running), config);
    check("max_waiting", str(file.max_waiting), str(wanted.max_waiting), config);
  }
  return difference;
}

H5Id OpenPolicy(const std::string& path) {
  SilenceHdf5();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw UserError("policy file " + path + " does not exist");
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) throw UserError("policy " + path + " is not an HDF5 file");
  H5Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) throw UserError("cannot open policy file " + path);
  const AttributeReader attrs(file.get(), path);
  const std::string format = attrs.String("format");
  if (format != kFormat) {
    throw UserError("policy " + path + " has format '" + format + "' where '" + kFormat +
                    "' is expected");
  }
  const int64_t version = attrs.Int("format_version");
  if (version != kFormatVersion) {
    throw UserError("policy " + path + " has format_version=" + std::to_string(version) +
                    " but this build reads " + std::to_string(kFormatVersion));
  }
  return file;
}

PolicyArchitecture ReadArchitecture(hid_t file, const std::string& path) {
  const AttributeReader attrs(file, path);
  PolicyArchitecture a;
  a.encoder = attrs.String("encoder");
  a.hidden = attrs.Int("hidden");
  a.heads = attrs.Int("heads");
  a.layers = attrs.Int("layers");
  a.semantic_hidden = attrs.Int("semantic_hidden");
  a.mlp_hidden = attrs.Ints("mlp_hidden");
  a.dueling = attrs.Int("dueling");
  a.flat_mlp_hidden = attrs.Ints("flat_mlp_hidden");
  a.request_features = attrs.Int("request_features");
  a.expert_features = attrs.Int("expert_features");
  a.slot_features = attrs.Int("slot_features");
  a.num_experts = attrs.Int("num_experts");
  a.max_running = attrs.Int("max_running");
  a.max_waiting = attrs.Int("max_waiting");
  a.lookahead_features = attrs.Int("lookahead_features");
  a.lookahead_value = attrs.Int("lookahead_value");
  a.expert_score_prior = attrs.Int("expert_score_prior");
  a.prior = attrs.String("prior");
  a.prior_temperature = attrs.Double("prior_temperature");
  a.prior_drop_value = attrs.Double("prior_drop_value");
  return a;
}

}  // namespace

PolicyArchitecture ArchitectureOf(const SacConfig& config) {
  PolicyArchitecture a;
  a.encoder = config.encoder;
  a.hidden = config.encoder_hidden();
  a.heads = config.han.heads();
  a.layers = config.han.layers();
  a.semantic_hidden = config.han.semantic_hidden();
  a.mlp_hidden = config.mlp_hidden;
  a.dueling = config.dueling ? 1 : 0;
  a.flat_mlp_hidden = config.flat_mlp_hidden;
  a.request_features = kRequestFeatures;
  a.expert_features = kExpertFeatures;
  a.slot_features = kSlotFeatures;
  a.num_experts = config.num_experts;
  a.max_running = config.max_running;
  a.max_waiting = config.max_waiting;
  a.lookahead_features = config.lookahead_features ? 1 : 0;
  a.lookahead_value = config.lookahead_value ? 1 : 0;
  a.expert_score_prior = config.expert_score_prior ? 1 : 0;
  a.prior = config.prior;
  a.prior_temperature = config.prior_temperature;
  a.prior_drop_value = config.prior_drop_value;
  return a;
}

void ApplyArchitecture(const PolicyArchitecture& architecture, const std::string& path,
                       SacConfig* config) {
  SacConfig candidate = *config;
  candidate.encoder = architecture.encoder;
  candidate.mlp_hidden = architecture.mlp_hidden;
  candidate.dueling = architecture.dueling != 0;
  candidate.lookahead_features = architecture.lookahead_features != 0;
  candidate.lookahead_value = architecture.lookahead_value != 0;
  candidate.expert_score_prior = architecture.expert_score_prior != 0;
  candidate.prior = architecture.prior;
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
  const std::string difference = FirstDifference(architecture, ArchitectureOf(candidate));
  if (!difference.empty()) throw UserError("policy " + path + " has " + difference);
  *config = std::move(candidate);
}

void SavePolicy(const std::string& path, const SacAgent& agent) {
  SilenceHdf5();
  const std::string temporary = path + ".tmp";
  {
    H5Id file(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) {
      throw UserError("cannot create policy file " + temporary +
                      " (does its folder exist and is it writable?)");
    }
    const PolicyArchitecture a = ArchitectureOf(agent.config());
    AttributeWriter attrs(file.get(), path);
    attrs.String("format", kFormat);
    attrs.Int("format_version", kFormatVersion);
    attrs.String("encoder", a.encoder);
    attrs.Int("hidden", a.hidden);
    attrs.Int("heads", a.heads);
    attrs.Int("layers", a.layers);
    attrs.Int("semantic_hidden", a.semantic_hidden);
    attrs.Ints("mlp_hidden", a.mlp_hidden);
    attrs.Int("dueling", a.dueling);
    attrs.Ints("flat_mlp_hidden", a.flat_mlp_hidden);
    attrs.Int("request_features", a.request_features);
    attrs.Int("expert_features", a.expert_features);
    attrs.Int("slot_features", a.slot_features);
    attrs.Int("num_experts", a.num_experts);
    attrs.Int("max_running", a.max_running);
    attrs.Int("max_waiting", a.max_waiting);
    attrs.Int("lookahead_features", a.lookahead_features);
    attrs.Int("lookahead_value", a.lookahead_value);
    attrs.Int("expert_score_prior", a.expert_score_prior);
    attrs.String("prior", a.prior);
    attrs.Double("prior_temperature", a.prior_temperature);
    attrs.Double("prior_drop_value", a.prior_drop_value);
    // Deployment, not architecture: never compared, only applied by evaluators.
    attrs.Double("deviation_margin", agent.config().deviation_margin);

    H5Id group(H5Gcreate2(file.get(), kParameterGroup, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               H5Gclose);
    if (!group.ok()) throw UserError("cannot write policy " + path);
    for (const auto& [name, parameter] : agent.NamedParameters()) {
      WriteParameter(group.get(), name, parameter, path);
    }
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) throw UserError("cannot write policy " + path);
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) throw UserError("cannot move " + temporary + " to " + path + ": " + ec.message());
}

PolicyArchitecture ReadPolicyArchitecture(const std::string& path) {
  const H5Id file = OpenPolicy(path);
  return ReadArchitecture(file.get(), path);
}

double ReadPolicyDeviationMargin(const std::string& path) {
  const H5Id file = OpenPolicy(path);
  const AttributeReader attrs(file.get(), path);
  if (!attrs.Has("deviation_margin")) return 0.0;
  const double margin = attrs.Double("deviation_margin");
  if (!(margin >= 0.0 && margin <= 1e3)) {
    throw UserError("policy " + path + " has deviation_margin " + std::to_string(margin) +
                    " outside [0, 1000]");
  }
  return margin;
}

void LoadPolicy(const std::string& path, SacAgent* agent) {
  const H5Id file = OpenPolicy(path);
  const std::string difference =
      FirstDifference(ReadArchitecture(file.get(), path), ArchitectureOf(agent->config()));
  if (!difference.empty()) throw UserError("policy " + path + " has " + difference);

  if (H5Lexists(file.get(), kParameterGroup, H5P_DEFAULT) <= 0) {
    throw UserError("policy " + path + " lacks the group /" + kParameterGroup);
  }
  H5Id group(H5Gopen2(file.get(), kParameterGroup, H5P_DEFAULT), H5Gclose);
  const std::vector<NamedTensor> own = agent->NamedParameters();
  H5G_info_t info;
  if (!group.ok() || H5Gget_info(group.get(), &info) < 0) {
    throw UserError("policy " + path + " has an unreadable group /" + kParameterGroup);
  }
  if (info.nlinks != own.size()) {
    throw UserError("policy " + path + " holds " + std::to_string(info.nlinks) +
                    " parameters but the agent has " + std::to_string(own.size()));
  }
  std::vector<NamedTensor> loaded;
  loaded.reserve(own.size());
  for (const auto& [name, parameter] : own) {
    loaded.emplace_back(name, ReadParameter(group.get(), name, parameter, path));
  }
  agent->LoadParameters(loaded);
}

}  // namespace qosroute
