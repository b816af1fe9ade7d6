#include "replay/rank_snapshot.h"

#include "common/bytes.h"
#include "common/error.h"

namespace qosroute {
namespace {

constexpr uint32_t kActorMagic = 0x41435431;  // "ACT1"
constexpr uint32_t kShardMagic = 0x53484431;  // "SHD1"

void PutRng(ByteWriter& w, const std::array<uint64_t, 4>& s) {
  for (uint64_t v : s) w.Put(v);
}

std::array<uint64_t, 4> GetRng(ByteReader& r) {
  std::array<uint64_t, 4> s{};
  for (uint64_t& v : s) v = r.Get<uint64_t>();
  return s;
}

void PutTotals(ByteWriter& w, const StreamTotals& t) {
  w.Put(t.index);
  w.Put(t.transitions);
  w.Put(t.checksum);
  w.Put(t.frames);
  w.Put(t.rate_deviation_max);
}

StreamTotals GetTotals(ByteReader& r) {
  StreamTotals t;
  t.index = r.Get<int32_t>();
  t.transitions = r.Get<int64_t>();
  t.checksum = r.Get<uint64_t>();
  t.frames = r.Get<int64_t>();
  t.rate_deviation_max = r.Get<double>();
  return t;
}

void CheckEnd(const ByteReader& r, const char* what) {
  QR_CHECK_MSG(r.AtEnd(), std::string(what) + " snapshot has trailing bytes");
}

}  // namespace

std::vector<uint8_t> EncodeActorSnapshot(const ActorSnapshot& s) {
  ByteWriter w;
  w.Put(kActorMagic);
  w.Put(s.actor);
  w.Put<uint64_t>(s.env_states.size());
  for (const auto& env : s.env_states) w.PutVector(env);
  w.PutVector(s.episode_returns);
  PutRng(w, s.explore_rng);
  w.Put(s.episodes_started);
  w.Put(s.frames);
  w.Put(s.episodes);
  w.Put(s.transitions_sent);
  w.Put(s.checksum);
  w.Put(s.next_sequence);
  w.Put(s.policy_version);
  w.Put<uint8_t>(s.finished ? 1 : 0);
  w.PutVector(s.outgoing);
  w.Put(s.outgoing_count);
  w.Put(s.record_size);
  return w.Take();
}

ActorSnapshot DecodeActorSnapshot(const std::vector<uint8_t>& bytes) {
  ByteReader r(bytes);
  QR_CHECK_MSG(r.Get<uint32_t>() == kActorMagic, "not an actor snapshot");
  ActorSnapshot s;
  s.actor = r.Get<int32_t>();
  const uint64_t envs = r.Get<uint64_t>();
  QR_CHECK_MSG(envs < (1u << 20), "actor snapshot with an absurd environment count");
  for (uint64_t i = 0; i < envs; ++i) s.env_states.push_back(r.GetVector<uint8_t>());
  s.episode_returns = r.GetVector<double>();
  s.explore_rng = GetRng(r);
  s.episodes_started = r.Get<int64_t>();
  s.frames = r.Get<int64_t>();
  s.episodes = r.Get<int64_t>();
  s.transitions_sent = r.Get<int64_t>();
  s.checksum = r.Get<uint64_t>();
  s.next_sequence = r.Get<int64_t>();
  s.policy_version = r.Get<int64_t>();
  s.finished = r.Get<uint8_t>() != 0;
  s.outgoing = r.GetVector<uint8_t>();
  s.outgoing_count = r.Get<int32_t>();
  s.record_size = r.Get<uint64_t>();
  CheckEnd(r, "actor");
  return s;
}

std::vector<uint8_t> EncodeShardSnapshot(const ShardSnapshot& s) {
  ByteWriter w;
  w.Put(kShardMagic);
  w.Put(s.shard);
  w.Put(s.capacity);
  w.Put(s.record_size);
  w.Put(s.size);
  w.Put(s.next_serial);
  w.PutVector(s.records);
  w.PutVector(s.serials);
  w.PutVector(s.priorities);
  w.Put(s.max_priority);
  PutRng(w, s.rng);
  w.Put(s.limiter_inserts);
  w.Put(s.limiter_samples);
  w.Put<uint8_t>(s.limiter_released ? 1 : 0);
  w.PutVector(s.next_sequence);
  w.PutVector(s.actors_done);
  w.Put<uint8_t>(s.done_sent ? 1 : 0);
  PutTotals(w, s.totals);
  w.Put<uint64_t>(s.pending_inserts.size());
  for (const auto& m : s.pending_inserts) w.PutVector(m);
  return w.Take();
}

ShardSnapshot DecodeShardSnapshot(const std::vector<uint8_t>& bytes) {
  ByteReader r(bytes);
  QR_CHECK_MSG(r.Get<uint32_t>() == kShardMagic, "not a shard snapshot");
  ShardSnapshot s;
  s.shard = r.Get<int32_t>();
  s.capacity = r.Get<int32_t>();
  s.record_size = r.Get<uint64_t>();
  s.size = r.Get<int32_t>();
  s.next_serial = r.Get<uint64_t>();
  s.records = r.GetVector<uint8_t>();
  s.serials = r.GetVector<uint64_t>();
  s.priorities = r.GetVector<double>();
  s.max_priority = r.Get<double>();
  s.rng = GetRng(r);
  s.limiter_inserts = r.Get<int64_t>();
  s.limiter_samples = r.Get<int64_t>();
  s.limiter_released = r.Get<uint8_t>() != 0;
  s.next_sequence = r.GetVector<int64_t>();
  s.actors_done = r.GetVector<int32_t>();
  s.done_sent = r.Get<uint8_t>() != 0;
  s.totals = GetTotals(r);
  const uint64_t pending = r.Get<uint64_t>();
  QR_CHECK_MSG(pending < (1u << 24), "shard snapshot with an absurd pending count");
  for (uint64_t i = 0; i < pending; ++i) s.pending_inserts.push_back(r.GetVector<uint8_t>());
  CheckEnd(r, "shard");
  QR_CHECK_MSG(s.capacity >= 1 && s.size >= 0 && s.size <= s.capacity &&
                   s.records.size() == static_cast<size_t>(s.size) * s.record_size &&
                   s.serials.size() == static_cast<size_t>(s.size) &&
                   (s.priorities.empty() || s.priorities.size() == static_cast<size_t>(s.capacity)),
               "shard snapshot with inconsistent sizes");
  return s;
}

}  // namespace qosroute
