#include "learner/checkpoint.h"

#include <algorithm>
#include <array>
#include <csignal>
#include <cstring>
#include <functional>
#include <map>
#include <utility>

#include "checkpoint/files.h"
#include "checkpoint/hdf5_file.h"
#include "common/error.h"
#include "learner/checkpoint_agent.h"
#include "learner/policy_io.h"

namespace qosroute {
namespace {

constexpr char kRank[] = "/ranks/0";
constexpr char kReplay[] = "/ranks/0/replay";
constexpr char kActor[] = "/ranks/0/actor";

// ----------------------------------------------------------------------------------- replay

// One observation field: its per-row shape and where it lives in an Observation.
template <typename T>
struct Field {
  const char* name;
  h5::Dims row_dims;
  std::function<T*(Observation&)> data;
};

struct ObservationFields {
  std::vector<Field<float>> floats;
  std::vector<Field<uint8_t>> bytes;
};

ObservationFields FieldsFor(uint64_t n, uint64_t r, uint64_t w, uint64_t width, uint64_t q) {
  ObservationFields f;
  f.floats = {
      {"request", {q}, [](Observation& o) { return o.request.data(); }},
      {"expert", {n, width}, [](Observation& o) { return o.expert.data(); }},
      {"running", {n, r, kSlotFeatures}, [](Observation& o) { return o.running.data(); }},
      {"waiting", {n, w, kSlotFeatures}, [](Observation& o) { return o.waiting.data(); }},
  };
  f.bytes = {
      {"running_mask", {n, r}, [](Observation& o) { return o.running_mask.data(); }},
      {"waiting_mask", {n, w}, [](Observation& o) { return o.waiting_mask.data(); }},
      {"action_mask", {n + 1}, [](Observation& o) { return o.action_mask.data(); }},
  };
  return f;
}

uint64_t RowSize(const h5::Dims& dims) {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

h5::Dims WithRows(uint64_t rows, const h5::Dims& row_dims) {
  h5::Dims dims{rows};
  dims.insert(dims.end(), row_dims.begin(), row_dims.end());
  return dims;
}

// Field by field, gathered into one buffer and written with one call: per-row writes would
// cost an HDF5 call (and a chunk lookup) per transition.
template <typename T>
void WriteObservationField(h5::Writer& w, const std::string& name, const UniformReplay& replay,
                           bool next, const Field<T>& field) {
  const uint64_t rows = static_cast<uint64_t>(replay.size());
  const uint64_t row = RowSize(field.row_dims);
  std::vector<T> buffer(rows * row);
  for (uint64_t i = 0; i < rows; ++i) {
    const Transition& t = replay.at(static_cast<int>(i));
    // The accessors take a mutable Observation so that reading can share them; nothing is changed.
    Observation& o = const_cast<Observation&>(next ? t.next_obs : t.obs);
    std::memcpy(buffer.data() + i * row, field.data(o), row * sizeof(T));
  }
  w.Write(name, buffer.data(), WithRows(rows, field.row_dims));
}

template <typename T>
void ReadObservationField(const h5::Reader& r, const std::string& name,
                          std::vector<Transition>* slots, bool next, const Field<T>& field) {
  const uint64_t rows = slots->size();
  const uint64_t row = RowSize(field.row_dims);
  std::vector<T> buffer(rows * row);
  r.ReadInto(name, WithRows(rows, field.row_dims), buffer.data());
  for (uint64_t i = 0; i < rows; ++i) {
    Transition& t = (*slots)[i];
    std::memcpy(field.data(next ? t.next_obs : t.obs), buffer.data() + i * row, row * sizeof(T));
  }
}

// Planner labels (train.planner_share > 0): label/labelled [rows] uint8, label/chosen [rows]
// int32, label/values [rows, N + 1] float; written only when a slot carries one, so the
// checkpoints of runs without labels are exactly what they were.
void WriteReplayLabels(h5::Writer& w, const UniformReplay& replay, int num_experts) {
  if (replay.labelled() == 0) return;
  const uint64_t rows = static_cast<uint64_t>(replay.size());
  const uint64_t width = static_cast<uint64_t>(num_experts) + 1;
  std::vector<uint8_t> labelled(rows, 0);
  std::vector<int32_t> chosen(rows, -1);
  std::vector<float> values(rows * width, 0.0f);
  for (uint64_t i = 0; i < rows; ++i) {
    const ActionLabel& l = replay.at(static_cast<int>(i)).label;
    if (!l.labelled) continue;
    QR_CHECK_MSG(l.values.size() == width, "replay label of another width");
    labelled[i] = 1;
    chosen[i] = l.chosen;
    std::copy(l.values.begin(), l.values.end(), values.begin() + i * width);
  }
  const std::string g = std::string(kReplay) + "/label";
  w.Group(g);
  w.Write(g + "/labelled", labelled);
  w.Write(g + "/chosen", chosen);
  w.Write(g + "/values", values.data(), h5::Dims{rows, width});
}

void ReadReplayLabels(const h5::Reader& r, int64_t num_experts, std::vector<Transition>* slots) {
  const std::string g = std::string(kReplay) + "/label";
  if (!r.Has(g + "/labelled")) return;  // no labels (every checkpoint before them)
  const uint64_t rows = slots->size();
  const uint64_t width = static_cast<uint64_t>(num_experts) + 1;
  const std::vector<uint8_t> labelled = r.Read<uint8_t>(g + "/labelled", {rows});
  const std::vector<int32_t> chosen = r.Read<int32_t>(g + "/chosen", {rows});
  const std::vector<float> values = r.Read<float>(g + "/values", {rows, width});
  for (uint64_t i = 0; i < rows; ++i) {
    if (labelled[i] == 0) continue;
    if (chosen[i] < 0 || chosen[i] > num_experts) {
      throw UserError("checkpoint " + r.path() + " has a replay label choosing action " +
                      std::to_string(chosen[i]) + " outside [0, " + std::to_string(num_experts) +
                      "]");
    }
    ActionLabel& l = (*slots)[i].label;
    l.labelled = true;
    l.chosen = chosen[i];
    l.values.assign(values.begin() + i * width, values.begin() + (i + 1) * width);
  }
}

void WriteReplay(h5::Writer& w, const UniformReplay& replay) {
  const int size = replay.size();
  int n = 0, r = 0, wt = 0, f = kExpertFeatures, q = kRequestFeatures;
  if (size > 0) {
    n = replay.at(0).obs.num_experts;
    r = replay.at(0).obs.max_running;
    wt = replay.at(0).obs.max_waiting;
    f = replay.at(0).obs.expert_features;
    q = replay.at(0).obs.request_features;
  }
  std::vector<int32_t> actions(size);
  std::vector<float> rewards(size);
  std::vector<uint8_t> dones(size);
  for (int i = 0; i < size; ++i) {
    const Transition& t = replay.at(i);
    for (const Observation* o : {&t.obs, &t.next_obs}) {
      QR_CHECK_MSG(o->SameLayout(replay.at(0).obs),
                   "replay holds observations of different layouts");
    }
    actions[i] = t.action;
    rewards[i] = t.reward;
    dones[i] = t.done ? 1 : 0;
  }
  w.Group(kReplay);
  w.Attribute(kReplay, "capacity", static_cast<int64_t>(replay.capacity()));
  w.Attribute(kReplay, "size", static_cast<int64_t>(size));
  w.Attribute(kReplay, "cursor", static_cast<int64_t>(replay.cursor()));
  w.Attribute(kReplay, "total_added", static_cast<int64_t>(replay.total_added()));
  w.Attribute(kReplay, "num_experts", static_cast<int64_t>(n));
  w.Attribute(kReplay, "max_running", static_cast<int64_t>(r));
  w.Attribute(kReplay, "max_waiting", static_cast<int64_t>(wt));
  w.Attribute(kReplay, "expert_features", static_cast<int64_t>(f));
  w.Attribute(kReplay, "request_features", static_cast<int64_t>(q));
  const std::string g = kReplay;
  w.Write(g + "/action", actions);
  w.Write(g + "/reward", rewards);
  w.Write(g + "/done", dones);
  const ObservationFields fields = FieldsFor(n, r, wt, f, q);
  for (bool next : {false, true}) {
    const std::string prefix = g + (next ? "/next_obs/" : "/obs/");
    for (const auto& f : fields.floats) WriteObservationField(w, prefix + f.name, replay, next, f);
    for (const auto& f : fields.bytes) WriteObservationField(w, prefix + f.name, replay, next, f);
  }
  WriteReplayLabels(w, replay, n);
}

struct ReplayState {
  std::vector<Transition> slots;
  int cursor = 0;
  long total_added = 0;
};

ReplayState ReadReplay(const h5::Reader& r, int capacity, const PolicyArchitecture& architecture) {
  const std::string where = "checkpoint " + r.path();
  const int64_t stored_capacity = r.IntAttribute(kReplay, "capacity");
  if (stored_capacity != capacity) {
    throw UserError(where + " holds a replay of capacity " + std::to_string(stored_capacity) +
                    " but the config asks for " + std::to_string(capacity) +
                    " (train.replay_capacity)");
  }
  const int64_t size = r.IntAttribute(kReplay, "size");
  if (size < 0 || size > capacity) {
    throw UserError(where + " has a replay size of " + std::to_string(size) + " for capacity " +
                    std::to_string(capacity));
  }
  const int64_t n = r.IntAttribute(kReplay, "num_experts");
  const int64_t rr = r.IntAttribute(kReplay, "max_running");
  const int64_t ww = r.IntAttribute(kReplay, "max_waiting");
  // Checkpoints from before the expert aggregates have no such attribute: 12 features.
  const int64_t ff = r.IntAttributeOr(kReplay, "expert_features", kExpertFeatures);
  // ... and those from before request feature groups, none for the request width: 3.
  const int64_t qq = r.IntAttributeOr(kReplay, "request_features", kRequestFeatures);
  if (size > 0 && (n != architecture.num_experts || rr != architecture.max_running ||
                   ww != architecture.max_waiting || ff != architecture.expert_features ||
                   qq != architecture.request_features)) {
    throw UserError(where + " holds replay observations for " + std::to_string(n) + " experts, " +
                    std::to_string(rr) + "/" + std::to_string(ww) + " running/waiting slots, " +
                    std::to_string(ff) + " expert and " + std::to_string(qq) +
                    " request features, which the config does not have");
  }
  ReplayState out;
  out.cursor = static_cast<int>(r.IntAttribute(kReplay, "cursor"));
  out.total_added = static_cast<long>(r.IntAttribute(kReplay, "total_added"));
  const uint64_t rows = static_cast<uint64_t>(size);
  const std::string g = kReplay;
  const std::vector<int32_t> actions = r.Read<int32_t>(g + "/action", {rows});
  const std::vector<float> rewards = r.Read<float>(g + "/reward", {rows});
  const std::vector<uint8_t> dones = r.Read<uint8_t>(g + "/done", {rows});
  out.slots.resize(rows);
  for (uint64_t i = 0; i < rows; ++i) {
    Transition& t = out.slots[i];
    if (actions[i] < 0 || actions[i] > n) {
      throw UserError(where + " has replay action " + std::to_string(actions[i]) + " outside [0, " +
                      std::to_string(n) + "]");
    }
    t.action = actions[i];
    t.reward = rewards[i];
    t.done = dones[i] != 0;
    for (Observation* o : {&t.obs, &t.next_obs}) {
      o->Resize(static_cast<int>(n), static_cast<int>(rr), static_cast<int>(ww),
                static_cast<int>(ff), static_cast<int>(qq));
    }
  }
  const ObservationFields fields = FieldsFor(n, rr, ww, ff, qq);
  for (bool next : {false, true}) {
    const std::string prefix = g + (next ? "/next_obs/" : "/obs/");
    for (const auto& f : fields.floats)
      ReadObservationField(r, prefix + f.name, &out.slots, next, f);
    for (const auto& f : fields.bytes)
      ReadObservationField(r, prefix + f.name, &out.slots, next, f);
  }
  ReadReplayLabels(r, n, &out.slots);
  return out;
}

// ------------------------------------------------------------------------- trainer's state

void WriteTrainerState(h5::Writer& w, const TrainerState& s) {
  WriteTrainerCore(w, s, s.frames);
  w.Attribute("/loop", "last_eval_frames", static_cast<int64_t>(s.last_eval_frames));

  w.Group(kRank);
  w.Attribute(kRank, "role", std::string("actor+learner+replay"));
  const std::string rank = kRank;
  w.Write(rank + "/rng/explore", RngState(s.explore_rng));
  w.Write(rank + "/rng/replay_sample", RngState(s.replay_sample_rng));
  w.Group(kActor);
  w.Attribute(kActor, "num_envs", static_cast<int64_t>(s.env_states.size()));
  w.Attribute(kActor, "episodes_started", static_cast<int64_t>(s.episodes_started));
  for (size_t i = 0; i < s.env_states.size(); ++i) {
    w.Write(std::string(kActor) + "/env_" + std::to_string(i), s.env_states[i]);
  }
  w.Write(std::string(kActor) + "/episode_returns", s.episode_returns);
}

TrainerState ReadTrainerState(const h5::Reader& r, int num_envs) {
  TrainerState s;
  ReadTrainerCore(r, &s);
  s.frames = r.IntAttribute("/counters", "frames");
  s.last_eval_frames = r.IntAttribute("/loop", "last_eval_frames");

  const std::string rank = kRank;
  s.explore_rng = ReadRng(r, rank + "/rng/explore");
  s.replay_sample_rng = ReadRng(r, rank + "/rng/replay_sample");
  const int64_t stored_envs = r.IntAttribute(kActor, "num_envs");
  if (stored_envs != num_envs) {
    throw UserError("checkpoint " + r.path() + " holds " + std::to_string(stored_envs) +
                    " environments but the config asks for " + std::to_string(num_envs) +
                    " (train.num_envs)");
  }
  s.episodes_started = r.IntAttribute(kActor, "episodes_started");
  for (int i = 0; i < num_envs; ++i) {
    const std::string name = std::string(kActor) + "/env_" + std::to_string(i);
    h5::Dims dims;
    s.env_states.push_back(r.ReadAnyShape<uint8_t>(name, &dims));
    if (dims.size() != 1)
      throw UserError("checkpoint " + r.path() + " has " + name + " that is not a byte string");
  }
  s.episode_returns =
      r.Read<double>(std::string(kActor) + "/episode_returns", {static_cast<uint64_t>(num_envs)});
  return s;
}

}  // namespace

void WriteCheckpoint(const std::string& path, const TrainerState& state, const SacAgent& agent,
                     const UniformReplay& replay, int compression_level) {
  static int writes_in_process = 0;
  const int write_index = ++writes_in_process;
  const std::string temporary = path + ".tmp";
  {
    h5::Writer w(temporary, "checkpoint " + temporary, compression_level);
    // Test hook (checkpoint_files.h): die with part of the file on disk.
    auto kill_point = [&](const char* stage) {
      if (ShouldKillForTest(stage, write_index)) {
        w.Flush();
        std::raise(SIGKILL);
      }
    };
    w.Attribute("/", "format", std::string(kCheckpointFormat));
    w.Attribute("/", "format_version", kCheckpointFormatVersion);
    // Distributed runs write learner/distributed_checkpoint.h's layout with ranks > 1.
    w.Attribute("/", "ranks", int64_t{1});
    w.Attribute("/", "trainer", std::string("single-process"));
    w.Text("/config", state.config_text);
    WriteArchitecture(w, ArchitectureOf(agent.config()));
    WriteAgent(w, agent);
    kill_point("agent");
    WriteTrainerState(w, state);
    kill_point("actor");
    WriteReplay(w, replay);
    kill_point("replay");
    w.Close();
  }
  if (ShouldKillForTest("complete", write_index)) std::raise(SIGKILL);
  CommitCheckpointFile(temporary, path);
}

void ReadCheckpoint(const std::string& path, int num_envs, TrainerState* state, SacAgent* agent,
                    UniformReplay* replay) {
  const h5::Reader r(path, "checkpoint " + path);
  const int64_t ranks = CheckCheckpointFormat(r);
  if (ranks != 1) {
    throw UserError("checkpoint " + path + " comes from a distributed run with " +
                    std::to_string(ranks) + " ranks; resume it under mpirun with the same layout");
  }
  const PolicyArchitecture architecture = ArchitectureOf(agent->config());
  CheckArchitecture(r, architecture);

  // Read and check everything first, then change the caller's objects.
  TrainerState loaded = ReadTrainerState(r, num_envs);
  AgentState agent_state = ReadAgent(r, *agent);
  ReplayState replay_state = ReadReplay(r, replay->capacity(), architecture);
  try {
    replay->Restore(std::move(replay_state.slots), replay_state.cursor, replay_state.total_added);
  } catch (const UserError& e) {
    throw UserError("checkpoint " + path + ": " + e.what());
  }
  ApplyAgentState(agent_state, path, agent);
  *state = std::move(loaded);
}

}  // namespace qosroute
