#include "learner/distributed_checkpoint.h"

#include <cstring>

#include "checkpoint/files.h"
#include "checkpoint/hdf5_file.h"
#include "common/bytes.h"
#include "common/error.h"
#include "learner/checkpoint.h"

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

// ------------------------------------------------------------------------------------ actor

void WriteActor(h5::Writer& w, int rank, const ActorSnapshot& s) {
  const std::string g = RankGroup(rank) + "/actor";
  w.Group(g);
  w.Attribute(g, "actor", static_cast<int64_t>(s.actor));
  w.Attribute(g, "num_envs", static_cast<int64_t>(s.env_states.size()));
  for (size_t i = 0; i < s.env_states.size(); ++i) {
    w.Write(g + "/env_" + std::to_string(i), s.env_states[i]);
  }
  if (!s.episode_returns.empty()) w.Write(g + "/episode_returns", s.episode_returns);
  w.Write(g + "/rng_explore", RngState(s.explore_rng));
  w.Attribute(g, "outgoing_bytes", static_cast<int64_t>(s.outgoing.size()));
  if (!s.outgoing.empty()) w.Write(g + "/outgoing", s.outgoing);
  w.Attribute(g, "outgoing_count", static_cast<int64_t>(s.outgoing_count));
  w.Attribute(g, "record_size", static_cast<int64_t>(s.record_size));
  w.Attribute(g, "episodes_started", s.episodes_started);
  w.Attribute(g, "frames", s.frames);
  w.Attribute(g, "episodes", s.episodes);
  w.Attribute(g, "transitions_sent", s.transitions_sent);
  w.Attribute(g, "checksum", Bits(s.checksum));
  w.Attribute(g, "next_sequence", s.next_sequence);
  w.Attribute(g, "policy_version", s.policy_version);
  w.Attribute(g, "finished", static_cast<int64_t>(s.finished ? 1 : 0));
}

ActorSnapshot ReadActor(const h5::Reader& r, int rank, int actor, int num_envs) {
  const std::string g = RankGroup(rank) + "/actor";
  ActorSnapshot s;
  s.actor = static_cast<int32_t>(r.IntAttribute(g, "actor"));
  if (s.actor != actor) {
    throw UserError("checkpoint " + r.path() + " holds actor " + std::to_string(s.actor) +
                    " at rank " + std::to_string(rank) + " where actor " + std::to_string(actor) +
                    " belongs");
  }
  const int64_t envs = r.IntAttribute(g, "num_envs");
  if (envs != num_envs) {
    throw UserError("checkpoint " + r.path() + " holds " + std::to_string(envs) +
                    " environments per actor but the config asks for " + std::to_string(num_envs) +
                    " (train.num_envs)");
  }
  for (int i = 0; i < num_envs; ++i) {
    h5::Dims dims;
    s.env_states.push_back(r.ReadAnyShape<uint8_t>(g + "/env_" + std::to_string(i), &dims));
  }
  if (num_envs > 0) {
    s.episode_returns = r.Read<double>(g + "/episode_returns", {static_cast<uint64_t>(num_envs)});
  }
  s.explore_rng = ReadRng(r, g + "/rng_explore");
  const int64_t outgoing = r.IntAttribute(g, "outgoing_bytes");
  if (outgoing > 0)
    s.outgoing = r.Read<uint8_t>(g + "/outgoing", {static_cast<uint64_t>(outgoing)});
  s.outgoing_count = static_cast<int32_t>(r.IntAttribute(g, "outgoing_count"));
  s.record_size = static_cast<uint64_t>(r.IntAttribute(g, "record_size"));
  s.episodes_started = r.IntAttribute(g, "episodes_started");
  s.frames = r.IntAttribute(g, "frames");
  s.episodes = r.IntAttribute(g, "episodes");
  s.transitions_sent = r.IntAttribute(g, "transitions_sent");
  s.checksum = Unbits(r.IntAttribute(g, "checksum"));
  s.next_sequence = r.IntAttribute(g, "next_sequence");
  s.policy_version = r.IntAttribute(g, "policy_version");
  s.finished = r.IntAttribute(g, "finished") != 0;
  return s;
}

// ------------------------------------------------------------------------------------ shard

void WriteShard(h5::Writer& w, int rank, const ShardSnapshot& s) {
  const std::string g = RankGroup(rank) + "/replay";
  w.Group(g);
  w.Attribute(g, "shard", static_cast<int64_t>(s.shard));
  w.Attribute(g, "capacity", static_cast<int64_t>(s.capacity));
  w.Attribute(g, "record_size", static_cast<int64_t>(s.record_size));
  w.Attribute(g, "size", static_cast<int64_t>(s.size));
  w.Attribute(g, "next_serial", static_cast<int64_t>(s.next_serial));
  if (s.size > 0) {
    w.Write(g + "/records", s.records.data(),
            h5::Dims{static_cast<uint64_t>(s.size), s.record_size});
    w.Write(g + "/serials", s.serials);
  }
  w.Attribute(g, "prioritized", static_cast<int64_t>(s.priorities.empty() ? 0 : 1));
  if (!s.priorities.empty()) w.Write(g + "/priorities", s.priorities);
  w.Attribute(g, "max_priority", s.max_priority);
  w.Write(g + "/rng", RngState(s.rng));
  w.Attribute(g, "limiter_inserts", s.limiter_inserts);
  w.Attribute(g, "limiter_samples", s.limiter_samples);
  w.Attribute(g, "limiter_released", static_cast<int64_t>(s.limiter_released ? 1 : 0));
  w.Write(g + "/next_sequence", s.next_sequence);
  w.Attribute(g, "actors_done", static_cast<int64_t>(s.actors_done.size()));
  if (!s.actors_done.empty()) w.Write(g + "/actors_done", s.actors_done);
  w.Attribute(g, "done_sent", static_cast<int64_t>(s.done_sent ? 1 : 0));
  w.Attribute(g, "totals_transitions", s.totals.transitions);
  w.Attribute(g, "totals_checksum", Bits(s.totals.checksum));
  w.Attribute(g, "totals_samples", s.totals.frames);
  w.Attribute(g, "totals_rate_deviation_max", s.totals.rate_deviation_max);
  std::vector<uint8_t> pending;
  std::vector<int64_t> sizes;
  for (const auto& m : s.pending_inserts) {
    pending.insert(pending.end(), m.begin(), m.end());
    sizes.push_back(static_cast<int64_t>(m.size()));
  }
  w.Attribute(g, "pending_inserts", static_cast<int64_t>(sizes.size()));
  if (!sizes.empty()) {
    w.Write(g + "/pending_sizes", sizes);
    w.Write(g + "/pending_inserts", pending);
  }
}

ShardSnapshot ReadShard(const h5::Reader& r, int rank, const DistributedCheckpointExpectations& e,
                        int shard) {
  const std::string g = RankGroup(rank) + "/replay";
  auto fail = [&](const std::string& what) {
    throw UserError("checkpoint " + r.path() + " (" + g + "): " + what);
  };
  ShardSnapshot s;
  s.shard = static_cast<int32_t>(r.IntAttribute(g, "shard"));
  if (s.shard != shard)
    fail("holds shard " + std::to_string(s.shard) + ", expected " + std::to_string(shard));
  s.capacity = static_cast<int32_t>(r.IntAttribute(g, "capacity"));
  if (s.capacity != e.shard_capacity) {
    fail("shard capacity " + std::to_string(s.capacity) + " but this run's is " +
         std::to_string(e.shard_capacity) + " (train.replay_capacity / shards)");
  }
  s.record_size = static_cast<uint64_t>(r.IntAttribute(g, "record_size"));
  s.size = static_cast<int32_t>(r.IntAttribute(g, "size"));
  if (s.size < 0 || s.size > s.capacity) fail("size " + std::to_string(s.size) + " out of range");
  s.next_serial = static_cast<uint64_t>(r.IntAttribute(g, "next_serial"));
  if (s.size > 0) {
    s.records = r.Read<uint8_t>(g + "/records", {static_cast<uint64_t>(s.size), s.record_size});
    s.serials = r.Read<uint64_t>(g + "/serials", {static_cast<uint64_t>(s.size)});
  }
  const bool prioritized = r.IntAttribute(g, "prioritized") != 0;
  if (prioritized != e.prioritized) {
    fail(std::string("was written with launch.prioritized = ") + (prioritized ? "true" : "false") +
         "; this run differs");
  }
  if (prioritized) {
    s.priorities = r.Read<double>(g + "/priorities", {static_cast<uint64_t>(s.capacity)});
  }
  s.max_priority = r.DoubleAttribute(g, "max_priority");
  s.rng = ReadRng(r, g + "/rng");
  s.limiter_inserts = r.IntAttribute(g, "limiter_inserts");
  s.limiter_samples = r.IntAttribute(g, "limiter_samples");
  s.limiter_released = r.IntAttribute(g, "limiter_released") != 0;
  s.next_sequence =
      r.Read<int64_t>(g + "/next_sequence", {static_cast<uint64_t>(e.layout.num_actors())});
  const int64_t done = r.IntAttribute(g, "actors_done");
  if (done > 0) s.actors_done = r.Read<int32_t>(g + "/actors_done", {static_cast<uint64_t>(done)});
  s.done_sent = r.IntAttribute(g, "done_sent") != 0;
  s.totals.index = s.shard;
  s.totals.transitions = r.IntAttribute(g, "totals_transitions");
  s.totals.checksum = Unbits(r.IntAttribute(g, "totals_checksum"));
  s.totals.frames = r.IntAttribute(g, "totals_samples");
  s.totals.rate_deviation_max = r.DoubleAttribute(g, "totals_rate_deviation_max");
  const int64_t pending = r.IntAttribute(g, "pending_inserts");
  if (pending > 0) {
    const std::vector<int64_t> sizes =
        r.Read<int64_t>(g + "/pending_sizes", {static_cast<uint64_t>(pending)});
    uint64_t total = 0;
    for (int64_t n : sizes) {
      if (n < static_cast<int64_t>(kTransitionsHeaderBytes)) fail("pending message too short");
      total += static_cast<uint64_t>(n);
    }
    const std::vector<uint8_t> bytes = r.Read<uint8_t>(g + "/pending_inserts", {total});
    size_t at = 0;
    for (int64_t n : sizes) {
      s.pending_inserts.emplace_back(bytes.begin() + at, bytes.begin() + at + n);
      at += n;
    }
  }
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
