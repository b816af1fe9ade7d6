#include "learner/distributed_checkpoint.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>

#include "checkpoint/files.h"
#include "checkpoint/hdf5_file.h"
#include "common/bytes.h"
#include "common/error.h"
#include "learner/checkpoint.h"
#include "learner/checkpoint_agent.h"

namespace qosroute {
namespace {

constexpr char kTrainer[] = "distributed";

std::string RankGroup(int rank) {
  return "/ranks/" + std::to_string(rank);
}

int64_t Bits(uint64_t v) {
  int64_t out;
  std::memcpy(&out, &v, sizeof(out));
  return out;
}
uint64_t Unbits(int64_t v) {
  uint64_t out;
  std::memcpy(&out, &v, sizeof(out));
  return out;
}

// ------------------------------------------------------------------ learner 0's bookkeeping

// Learner 0's own /loop attributes after the core's groups: the stream's counts by name.
constexpr std::pair<const char*, long StreamAccounting::*> kStreamCounts[] = {
    {"actors_done", &StreamAccounting::actors_done},
    {"shards_done", &StreamAccounting::shards_done},
    {"actor_transitions", &StreamAccounting::actor_transitions},
    {"shard_transitions", &StreamAccounting::shard_transitions},
};

void WriteLearnerZero(h5::Writer& w, const LearnerZeroState& s) {
  WriteTrainerCore(w, s, s.frames());
  const std::string g = "/loop";
  w.Write(g + "/actor_frames", s.actor_frames);
  w.Attribute(g, "published_updates", static_cast<int64_t>(s.published_updates));
  for (const auto& [name, count] : kStreamCounts) {
    w.Attribute(g, name, static_cast<int64_t>(s.stream.*count));
  }
  w.Attribute(g, "actor_checksum", Bits(s.stream.actor_checksum));
  w.Attribute(g, "shard_checksum", Bits(s.stream.shard_checksum));
  w.Attribute(g, "max_rate_deviation", s.stream.max_rate_deviation);
  w.Attribute(g, "episode_lag_sum", s.stream.episode_lag_sum);
}

LearnerZeroState ReadLearnerZero(const h5::Reader& r, int num_actors) {
  LearnerZeroState s;
  ReadTrainerCore(r, &s);
  const std::string g = "/loop";
  s.actor_frames = r.Read<int64_t>(g + "/actor_frames", {static_cast<uint64_t>(num_actors)});
  s.published_updates = r.IntAttribute(g, "published_updates");
  for (const auto& [name, count] : kStreamCounts) s.stream.*count = r.IntAttribute(g, name);
  s.stream.actor_checksum = Unbits(r.IntAttribute(g, "actor_checksum"));
  s.stream.shard_checksum = Unbits(r.IntAttribute(g, "shard_checksum"));
  s.stream.max_rate_deviation = r.DoubleAttribute(g, "max_rate_deviation");
  s.stream.episode_lag_sum = r.DoubleAttribute(g, "episode_lag_sum");
  return s;
}

// ------------------------------------------------------------------- actors' and shards' parts

// The snapshots' field lists (replay/rank_snapshot.h) as HDF5: scalars are attributes of the
// rank's group (unsigned 64-bit ones by their bits), vectors and the RNG state datasets
// (absent when empty), lists of byte strings a count attribute and one dataset per entry.
struct WriteFields {
  h5::Writer& w;
  const std::string& g;
  template <typename T>
  void operator()(const char* name, const T& value) {
    if constexpr (std::is_same_v<T, double>) {
      w.Attribute(g, name, value);
    } else if constexpr (std::is_same_v<T, uint64_t>) {
      w.Attribute(g, name, Bits(value));
    } else {
      w.Attribute(g, name, static_cast<int64_t>(value));
    }
  }
  void operator()(const char* name, const std::array<uint64_t, 4>& rng) {
    w.Write(g + "/" + name, RngState(rng));
  }
  template <typename T>
  void operator()(const char* name, const std::vector<T>& values) {
    if (!values.empty()) w.Write(g + "/" + name, values);
  }
  void operator()(ByteStrings names, const std::vector<std::vector<uint8_t>>& list) {
    w.Attribute(g, names.count, static_cast<int64_t>(list.size()));
    for (size_t i = 0; i < list.size(); ++i)
      w.Write(g + "/" + names.item + "_" + std::to_string(i), list[i]);
  }
};

struct ReadFields {
  const h5::Reader& r;
  const std::string& g;
  template <typename T>
  void operator()(const char* name, T& value) {
    if constexpr (std::is_same_v<T, double>) {
      value = r.DoubleAttribute(g, name);
    } else if constexpr (std::is_same_v<T, uint64_t>) {
      value = Unbits(r.IntAttribute(g, name));
    } else if constexpr (std::is_same_v<T, bool>) {
      value = r.IntAttribute(g, name) != 0;
    } else {
      value = static_cast<T>(r.IntAttribute(g, name));
    }
  }
  void operator()(const char* name, std::array<uint64_t, 4>& rng) {
    rng = ReadRng(r, g + "/" + name);
  }
  template <typename T>
  void operator()(const char* name, std::vector<T>& values) {
    h5::Dims dims;
    const std::string path = g + "/" + name;
    values = r.Has(path) ? r.ReadAnyShape<T>(path, &dims) : std::vector<T>();
  }
  void operator()(ByteStrings names, std::vector<std::vector<uint8_t>>& list) {
    const int64_t count = r.IntAttribute(g, names.count);
    list.clear();
    // Version 1 kept a shard's pending messages as one dataset with their sizes beside it.
    if (r.Has(g + "/pending_sizes") && std::string(names.count) == "pending_inserts") {
      const auto sizes = r.Read<int64_t>(g + "/pending_sizes", {static_cast<uint64_t>(count)});
      uint64_t total = 0;
      for (int64_t n : sizes) total += static_cast<uint64_t>(std::max<int64_t>(0, n));
      const auto bytes = r.Read<uint8_t>(g + "/pending_inserts", {total});
      size_t at = 0;
      for (int64_t n : sizes) {
        list.emplace_back(bytes.begin() + at, bytes.begin() + at + n);
        at += n;
      }
      return;
    }
    for (int64_t i = 0; i < count; ++i) {
      h5::Dims dims;
      list.push_back(
          r.ReadAnyShape<uint8_t>(g + "/" + names.item + "_" + std::to_string(i), &dims));
    }
  }
};

void WriteActor(h5::Writer& w, int rank, const ActorSnapshot& s) {
  const std::string g = RankGroup(rank) + "/actor";
  w.Group(g);
  w.Attribute(g, "state_version", kSnapshotVersion);
  VisitActorSnapshot(s, WriteFields{w, g});
}

ActorSnapshot ReadActor(const h5::Reader& r, int rank, int actor, int num_envs) {
  const std::string g = RankGroup(rank) + "/actor";
  ActorSnapshot s;
  VisitActorSnapshot(s, ReadFields{r, g});
  if (s.actor != actor) {
    throw UserError("checkpoint " + r.path() + " holds actor " + std::to_string(s.actor) +
                    " at rank " + std::to_string(rank) + " where actor " + std::to_string(actor) +
                    " belongs");
  }
  if (static_cast<int>(s.env_states.size()) != num_envs) {
    throw UserError("checkpoint " + r.path() + " holds " + std::to_string(s.env_states.size()) +
                    " environments per actor but the config asks for " + std::to_string(num_envs) +
                    " (train.num_envs)");
  }
  if (s.episode_returns.size() != s.env_states.size())
    throw UserError("checkpoint " + r.path() + " (" + g + "): episode_returns has the wrong size");
  return s;
}

void WriteShard(h5::Writer& w, int rank, const ShardSnapshot& s) {
  const std::string g = RankGroup(rank) + "/replay";
  w.Group(g);
  w.Attribute(g, "state_version", kSnapshotVersion);
  VisitShardSnapshot(s, WriteFields{w, g});
}

ShardSnapshot ReadShard(const h5::Reader& r, int rank, const DistributedCheckpointExpectations& e,
                        int shard) {
  const std::string g = RankGroup(rank) + "/replay";
  auto fail = [&](const std::string& what) {
    throw UserError("checkpoint " + r.path() + " (" + g + "): " + what);
  };
  ShardSnapshot s;
  VisitShardSnapshot(s, ReadFields{r, g});
  s.totals.index = s.shard;
  if (s.shard != shard)
    fail("holds shard " + std::to_string(s.shard) + ", expected " + std::to_string(shard));
  if (s.capacity != e.shard_capacity) {
    fail("shard capacity " + std::to_string(s.capacity) + " but this run's is " +
         std::to_string(e.shard_capacity) + " (train.replay_capacity / shards)");
  }
  if (s.size < 0 || s.size > s.capacity) fail("size " + std::to_string(s.size) + " out of range");
  if (s.records.size() != static_cast<size_t>(s.size) * s.record_size ||
      s.serials.size() != static_cast<size_t>(s.size))
    fail("records or serials of the wrong size");
  const bool prioritized = !s.priorities.empty();
  if (prioritized != e.prioritized) {
    fail(std::string("was written with launch.prioritized = ") + (prioritized ? "true" : "false") +
         "; this run differs");
  }
  if (prioritized && s.priorities.size() != static_cast<size_t>(s.capacity))
    fail("priorities of the wrong size");
  if (s.next_sequence.size() != static_cast<size_t>(e.layout.num_actors()))
    fail("next_sequence does not hold one entry per actor");
  for (const auto& m : s.pending_inserts)
    if (m.size() < kTransitionsHeaderBytes) fail("pending message too short");
  return s;
}

}  // namespace

void WriteDistributedCheckpoint(const std::string& path, const RoleLayout& layout,
                                const LearnerZeroState& state, const SacAgent& agent,
                                const std::map<int, ActorSnapshot>& actors,
                                const std::map<int, ShardSnapshot>& shards, int compression_level) {
  const std::string temporary = path + ".tmp";
  {
    h5::Writer w(temporary, "checkpoint " + temporary, compression_level);
    w.Attribute("/", "format", std::string(kCheckpointFormat));
    w.Attribute("/", "format_version", kCheckpointFormatVersion);
    w.Attribute("/", "ranks", static_cast<int64_t>(layout.world));
    w.Attribute("/", "trainer", std::string(kTrainer));
    w.Attribute("/", "learners", static_cast<int64_t>(layout.learners));
    w.Attribute("/", "replay_shards", static_cast<int64_t>(layout.replay_shards));
    w.Text("/config", state.config_text);
    WriteArchitecture(w, ArchitectureOf(agent.config()));
    WriteAgent(w, agent);
    WriteLearnerZero(w, state);
    for (int rank = 0; rank < layout.world; ++rank) {
      const std::string g = RankGroup(rank);
      w.Group(g);
      const Role role = layout.RoleOf(rank);
      w.Attribute(g, "role",
                  std::string(role == Role::kLearner ? "learner"
                              : role == Role::kShard ? "shard"
                                                     : "actor"));
    }
    for (const auto& [rank, s] : actors) WriteActor(w, rank, s);
    for (const auto& [rank, s] : shards) WriteShard(w, rank, s);
    w.Close();
  }
  CommitCheckpointFile(temporary, path);
}

DistributedCheckpoint ReadDistributedCheckpoint(const std::string& path,
                                                const DistributedCheckpointExpectations& e,
                                                const SacAgent& agent) {
  const h5::Reader r(path, "checkpoint " + path);
  const int64_t ranks = CheckCheckpointFormat(r);
  if (ranks <= 1) {  // single-process files have ranks = 1
    throw UserError("checkpoint " + path +
                    " comes from a single-process run; resume it without mpirun");
  }
  const int64_t learners = r.IntAttribute("/", "learners");
  const int64_t replay_shards = r.IntAttribute("/", "replay_shards");
  if (ranks != e.layout.world || learners != e.layout.learners ||
      replay_shards != e.layout.replay_shards) {
    throw UserError("checkpoint " + path + " was written by " + std::to_string(ranks) + " ranks (" +
                    std::to_string(learners) + " learner(s), " + std::to_string(replay_shards) +
                    " replay shard rank(s)) but this job has " + std::to_string(e.layout.world) +
                    " (" + std::to_string(e.layout.learners) + ", " +
                    std::to_string(e.layout.replay_shards) +
                    "): resume with the same mpirun -np and [launch] layout");
  }
  CheckArchitecture(r, ArchitectureOf(agent.config()));
  DistributedCheckpoint out;
  out.path = path;
  out.learner = ReadLearnerZero(r, e.layout.num_actors());
  out.agent = ReadAgent(r, agent);
  for (int a = 0; a < e.layout.num_actors(); ++a) {
    const int rank = e.layout.ActorRank(a);
    out.actors[rank] = ReadActor(r, rank, a, e.num_envs);
  }
  for (int s = 0; s < e.layout.num_shards(); ++s) {
    const int rank = e.layout.ShardRank(s);
    out.shards[rank] = ReadShard(r, rank, e, s);
  }
  return out;
}

std::vector<uint8_t> EncodeLearnerPart(const AgentState& agent, long updates) {
  ByteWriter w;
  w.Put<int64_t>(updates);
  w.Put<int64_t>(agent.num_updates);
  for (uint64_t v : agent.sample_rng) w.Put(v);
  for (const auto* list : {&agent.parameters, &agent.optimizer}) {
    w.Put<uint64_t>(list->size());
    for (const auto& [name, tensor] : *list) {
      const torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
      w.PutString(name);
      const bool is_int = t.scalar_type() == torch::kInt64;
      w.Put<uint8_t>(is_int ? 1 : 0);
      std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
      w.PutVector(shape);
      if (is_int) {
        w.PutVector(std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel()));
      } else {
        const torch::Tensor f = t.to(torch::kFloat32);
        w.PutVector(std::vector<float>(f.data_ptr<float>(), f.data_ptr<float>() + f.numel()));
      }
    }
  }
  return w.Take();
}

AgentState DecodeLearnerPart(const std::vector<uint8_t>& bytes, long* updates) {
  ByteReader r(bytes);
  AgentState out;
  *updates = static_cast<long>(r.Get<int64_t>());
  out.num_updates = r.Get<int64_t>();
  for (uint64_t& v : out.sample_rng) v = r.Get<uint64_t>();
  for (auto* list : {&out.parameters, &out.optimizer}) {
    const uint64_t n = r.Get<uint64_t>();
    for (uint64_t i = 0; i < n; ++i) {
      const std::string name = r.GetString();
      const bool is_int = r.Get<uint8_t>() != 0;
      const std::vector<int64_t> shape = r.GetVector<int64_t>();
      torch::Tensor t;
      if (is_int) {
        std::vector<int64_t> v = r.GetVector<int64_t>();
        t = torch::tensor(v, torch::kInt64).reshape(shape).clone();
      } else {
        std::vector<float> v = r.GetVector<float>();
        t = torch::from_blob(v.data(), {static_cast<int64_t>(v.size())}, torch::kFloat32)
                .reshape(shape)
                .clone();
      }
      list->emplace_back(name, t);
    }
  }
  QR_CHECK_MSG(r.AtEnd(), "learner checkpoint part has trailing bytes");
  return out;
}

}  // namespace qosroute
