#include "replay/rank_snapshot.h"

#include "common/bytes.h"
#include "common/error.h"

namespace qosroute {
namespace {

constexpr uint32_t kActorMagic = 0x41435432;  // "ACT2": field-list form (kSnapshotVersion 2)
constexpr uint32_t kShardMagic = 0x53484432;  // "SHD2"

// The field lists (rank_snapshot.h) as bytes, in list order.
struct PutFields {
  ByteWriter& w;
  template <typename T>
  void operator()(const char*, const T& value) {
    w.Put(value);
  }
  void operator()(const char*, const bool& value) { w.Put<uint8_t>(value ? 1 : 0); }
  template <typename T>
  void operator()(const char*, const std::vector<T>& values) {
    w.PutVector(values);
  }
  void operator()(ByteStrings, const std::vector<std::vector<uint8_t>>& list) {
    w.Put<uint64_t>(list.size());
    for (const auto& bytes : list) w.PutVector(bytes);
  }
};

struct GetFields {
  ByteReader& r;
  template <typename T>
  void operator()(const char*, T& value) {
    value = r.Get<T>();
  }
  void operator()(const char*, bool& value) { value = r.Get<uint8_t>() != 0; }
  template <typename T>
  void operator()(const char*, std::vector<T>& values) {
    values = r.GetVector<T>();
  }
  void operator()(ByteStrings names, std::vector<std::vector<uint8_t>>& list) {
    const uint64_t n = r.Get<uint64_t>();
    QR_CHECK_MSG(n < (1u << 24), std::string("snapshot with an absurd ") + names.count);
    list.clear();
    for (uint64_t i = 0; i < n; ++i) list.push_back(r.GetVector<uint8_t>());
  }
};

template <typename Snapshot, typename Visit>
std::vector<uint8_t> Encode(uint32_t magic, const Snapshot& s, Visit visit) {
  ByteWriter w;
  w.Put(magic);
  visit(s, PutFields{w});
  return w.Take();
}

template <typename Snapshot, typename Visit>
Snapshot Decode(uint32_t magic, const std::vector<uint8_t>& bytes, const char* what, Visit visit) {
  ByteReader r(bytes);
  QR_CHECK_MSG(r.Get<uint32_t>() == magic, std::string("not an ") + what + " snapshot");
  Snapshot s;
  visit(s, GetFields{r});
  QR_CHECK_MSG(r.AtEnd(), std::string(what) + " snapshot has trailing bytes");
  return s;
}

}  // namespace

std::vector<uint8_t> EncodeActorSnapshot(const ActorSnapshot& s) {
  return Encode(kActorMagic, s,
                [](const ActorSnapshot& a, PutFields f) { VisitActorSnapshot(a, f); });
}

ActorSnapshot DecodeActorSnapshot(const std::vector<uint8_t>& bytes) {
  return Decode<ActorSnapshot>(kActorMagic, bytes, "actor",
                               [](ActorSnapshot& a, GetFields f) { VisitActorSnapshot(a, f); });
}

std::vector<uint8_t> EncodeShardSnapshot(const ShardSnapshot& s) {
  return Encode(kShardMagic, s,
                [](const ShardSnapshot& a, PutFields f) { VisitShardSnapshot(a, f); });
}

ShardSnapshot DecodeShardSnapshot(const std::vector<uint8_t>& bytes) {
  ShardSnapshot s = Decode<ShardSnapshot>(
      kShardMagic, bytes, "shard", [](ShardSnapshot& a, GetFields f) { VisitShardSnapshot(a, f); });
  s.totals.index = s.shard;
  QR_CHECK_MSG(s.capacity >= 1 && s.size >= 0 && s.size <= s.capacity &&
                   s.records.size() == static_cast<size_t>(s.size) * s.record_size &&
                   s.serials.size() == static_cast<size_t>(s.size) &&
                   (s.priorities.empty() || s.priorities.size() == static_cast<size_t>(s.capacity)),
               "shard snapshot with inconsistent sizes");
  return s;
}

}  // namespace qosroute
