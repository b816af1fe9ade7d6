#include "learner/checkpoint_agent.h"

#include <algorithm>
#include <map>

#include "common/error.h"
#include "learner/checkpoint.h"

namespace qosroute {

h5::Dims DimsOf(const torch::Tensor& t) {
  return h5::Dims(t.sizes().begin(), t.sizes().end());
}

std::vector<uint64_t> RngState(const std::array<uint64_t, 4>& s) {
  return {s.begin(), s.end()};
}

int64_t CheckCheckpointFormat(const h5::Reader& r) {
  const std::string format = r.StringAttribute("/", "format");
  if (format != kCheckpointFormat) {
    throw UserError("checkpoint " + r.path() + " has format '" + format + "' where '" +
                    kCheckpointFormat + "' is expected (a policy file? those hold weights only)");
  }
  const int64_t version = r.IntAttribute("/", "format_version");
  if (version != kCheckpointFormatVersion) {
    throw UserError("checkpoint " + r.path() + " has format_version=" + std::to_string(version) +
                    " but this build reads version " + std::to_string(kCheckpointFormatVersion));
  }
  return r.IntAttribute("/", "ranks");
}

// ------------------------------------------------------------------------------ architecture

void WriteArchitecture(h5::Writer& w, const PolicyArchitecture& a) {
  w.Group("/architecture");
  WriteArchitecture(w, "/architecture", a);
}

namespace {

const char* const kOptimizers[] = {"critic", "actor", "alpha"};

}  // namespace

// Unlike a policy file, a checkpoint also pins the expert count and observation slots for
// the HAN: the replay's observations and the simulators' states have those shapes.
void CheckArchitecture(const h5::Reader& r, const PolicyArchitecture& wanted) {
  const std::string difference =
      ArchitectureDifference(ReadArchitecture(r, "/architecture"), wanted, /*pin_layout=*/true);
  if (!difference.empty()) {
    throw UserError("checkpoint " + r.path() + " was written for " + difference);
  }
}

// ------------------------------------------------------------------------------------ agent

void WriteAgent(h5::Writer& w, const SacAgent& agent) {
  w.Group("/agent/parameters");
  for (const auto& [name, parameter] : agent.NamedParameters()) {
    const torch::Tensor values = parameter.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    w.Write("/agent/parameters/" + name, values.data_ptr<float>(), DimsOf(values));
  }
  w.Group("/agent/optimizer");
  for (const auto& [name, tensor] : agent.OptimizerState()) {
    const torch::Tensor values = tensor.detach().to(torch::kCPU).contiguous();
    const std::string path = "/agent/optimizer/" + name;
    if (values.scalar_type() == torch::kInt64) {
      w.Write(path, values.data_ptr<int64_t>(), DimsOf(values));
    } else {
      const torch::Tensor f = values.to(torch::kFloat32);
      w.Write(path, f.data_ptr<float>(), DimsOf(f));
    }
  }
  // sample_rng() has no const overload; reading its state changes nothing.
  const Rng& sample_rng = const_cast<SacAgent&>(agent).sample_rng();
  w.Write("/agent/sample_rng", RngState(sample_rng.state()));
  w.Attribute("/agent", "num_updates", static_cast<int64_t>(agent.num_updates()));
}

std::array<uint64_t, 4> ReadRng(const h5::Reader& r, const std::string& name) {
  const std::vector<uint64_t> v = r.Read<uint64_t>(name, {4});
  return {v[0], v[1], v[2], v[3]};
}

AgentState ReadAgent(const h5::Reader& r, const SacAgent& agent) {
  AgentState out;
  const std::vector<NamedTensor> own = agent.NamedParameters();
  std::map<std::string, h5::Dims> shapes;
  for (const auto& [name, parameter] : own) {
    const h5::Dims dims = DimsOf(parameter);
    torch::Tensor values = torch::empty(parameter.sizes(), torch::kFloat32);
    r.ReadInto("/agent/parameters/" + name, dims, values.data_ptr<float>());
    out.parameters.emplace_back(name, values);
    shapes[name] = dims;
  }
  const size_t stored = r.Children("/agent/parameters").size();
  if (stored != own.size()) {
    throw UserError("checkpoint " + r.path() + " holds " + std::to_string(stored) +
                    " parameters but the agent has " + std::to_string(own.size()));
  }
  for (const std::string& optimizer : r.Children("/agent/optimizer")) {
    if (std::find(std::begin(kOptimizers), std::end(kOptimizers), optimizer) ==
        std::end(kOptimizers)) {
      throw UserError("checkpoint " + r.path() + " has state for an unknown optimizer '" +
                      optimizer + "'");
    }
    const std::string group = "/agent/optimizer/" + optimizer;
    for (const std::string& name : r.Children(group)) {
      const auto shape = shapes.find(name);
      if (shape == shapes.end()) {
        throw UserError("checkpoint " + r.path() + " has optimizer state for " + name +
                        ", which the agent lacks");
      }
      const std::string prefix = optimizer + "/" + name + "/";
      const std::vector<int64_t> step = r.Read<int64_t>(group + "/" + name + "/step", {});
      out.optimizer.emplace_back(prefix + "step", torch::tensor(step[0], torch::kInt64));
      for (const char* field : {"exp_avg", "exp_avg_sq"}) {
        torch::Tensor values = torch::empty(
            std::vector<int64_t>(shape->second.begin(), shape->second.end()), torch::kFloat32);
        r.ReadInto(group + "/" + name + "/" + field, shape->second, values.data_ptr<float>());
        out.optimizer.emplace_back(prefix + field, values);
      }
    }
  }
  out.sample_rng = ReadRng(r, "/agent/sample_rng");
  out.num_updates = r.IntAttribute("/agent", "num_updates");
  return out;
}

void ApplyAgentState(const AgentState& state, const std::string& path, SacAgent* agent) {
  try {
    agent->LoadParameters(state.parameters);
    agent->LoadOptimizerState(state.optimizer);
  } catch (const UserError& e) {
    throw UserError("checkpoint " + path + ": " + e.what());
  }
  agent->sample_rng().set_state(state.sample_rng);
  agent->set_num_updates(state.num_updates);
}

}  // namespace qosroute
