// Throughput of the distributed trainer's pieces (numbers in docs/DISTRIBUTED.md).
//
//   qosroute_distributed_bench sumtree                 sum-tree update / sample cost (no MPI)
//   qosroute_distributed_bench codec                   transition encode / decode cost (no MPI)
//   mpirun -np 2 qosroute_distributed_bench raw        loopback limit: MpiTransport messages of
//                                                      the stream's size, rank 1 -> rank 0
//   mpirun -np P qosroute_distributed_bench stream     P-1 actors -> one shard (rank 0): real
//                                                      transitions, codec, shard inserts, acks
// Options: --seconds S (default 3), --transitions N per message (default 64).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "comm/mpi_scope.h"
#include "comm/protocol.h"
#include "comm/transport_mpi.h"
#include "common/rng.h"
#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "env/workload.h"
#include "replay/replay_shard.h"
#include "replay/sum_tree.h"
#include "replay/transition_codec.h"

namespace qosroute {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

EnvConfig BenchEnv() {
  EnvConfig c;
  for (const char* name : {"alpaca-native", "chatglm-6b", "mpt-7b-instruct"})
    c.experts.push_back(CatalogExpert(name));
  c.arrivals.rate = 6.0;
  c.requests_per_episode = 2000;
  return c;
}

// Real transitions (round-robin routing on the paper cluster), encoded once.
std::vector<uint8_t> MakeRecords(int count, size_t* record_size) {
  SyntheticOptions w;
  w.num_requests = 2000;
  auto workload = std::make_shared<Workload>(GenerateSyntheticWorkload(w));
  ClusterEnv env(BenchEnv(), workload);
  env.Reset(1);
  std::vector<uint8_t> out;
  Observation before;
  for (int i = 0; i < count; ++i) {
    before = env.observation();
    const int action = i % before.num_experts;
    const StepResult step = env.Step(before.action_mask[action] ? action : before.drop_action());
    EncodeTransition(before, action, static_cast<float>(step.reward),
                     step.done ? before : env.observation(), step.done, &out);
    if (step.done) env.Reset(2 + i);
  }
  *record_size = out.size() / count;
  return out;
}

void BenchSumTree() {
  for (int capacity : {1 << 14, 1 << 17, 1 << 20}) {
    SumTree tree(capacity);
    Rng rng(1);
    for (int i = 0; i < capacity; ++i) tree.Set(i, 0.1 + rng.Uniform());
    const int n = 2000000;
    auto start = Clock::now();
    for (int i = 0; i < n; ++i)
      tree.Set(static_cast<int>(rng.Below(capacity)), 0.1 + rng.Uniform());
    const double update_ns = Seconds(start) / n * 1e9;
    start = Clock::now();
    long sink = 0;
    for (int i = 0; i < n; ++i) sink += tree.Sample(rng);
    const double sample_ns = Seconds(start) / n * 1e9;
    std::printf("sum tree capacity %8d: update %6.1f ns, sample %6.1f ns (%ld)\n", capacity,
                update_ns, sample_ns, sink % 7);
  }
}

void BenchCodec() {
  size_t record_size = 0;
  const int n = 4096;
  const auto records = MakeRecords(n, &record_size);
  Transition t;
  auto start = Clock::now();
  int rounds = 0;
  while (Seconds(start) < 1.0) {
    for (int i = 0; i < n; ++i) DecodeTransition(records.data() + i * record_size, record_size, &t);
    ++rounds;
  }
  const double decode_ns = Seconds(start) / (static_cast<double>(rounds) * n) * 1e9;
  std::vector<uint8_t> out;
  start = Clock::now();
  rounds = 0;
  while (Seconds(start) < 1.0) {
    out.clear();
    for (int i = 0; i < n; ++i)
      EncodeTransition(t.obs, t.action, t.reward, t.next_obs, t.done, &out);
    ++rounds;
  }
  const double encode_ns = Seconds(start) / (static_cast<double>(rounds) * n) * 1e9;
  start = Clock::now();
  rounds = 0;
  uint64_t sum = 0;
  while (Seconds(start) < 1.0) {
    for (int i = 0; i < n; ++i) sum += RecordHash(records.data() + i * record_size, record_size);
    ++rounds;
  }
  const double hash_ns = Seconds(start) / (static_cast<double>(rounds) * n) * 1e9;
  ReplayShardOptions options;
  options.capacity = 100000;
  ReplayShard shard(options);
  start = Clock::now();
  rounds = 0;
  while (Seconds(start) < 1.0) {
    shard.Insert(records.data(), n, record_size);
    ++rounds;
  }
  const double insert_ns = Seconds(start) / (static_cast<double>(rounds) * n) * 1e9;
  std::printf(
      "transition record %zu bytes (paper cluster, R = W = 10): encode %.0f ns, decode %.0f ns, "
      "checksum %.0f ns, shard insert (copy + checksum) %.0f ns (%d)\n",
      record_size, encode_ns, decode_ns, hash_ns, insert_ns, static_cast<int>(sum % 2));
}

// Rank 0 receives; every other rank streams. `make_message` builds one message for a sender;
// the receiver acknowledges each (as a shard does) and senders keep `window` in flight.
struct StreamResult {
  double seconds = 0;
  long messages = 0;
  long bytes = 0;
};

void RunStream(double seconds, int transitions, bool shard) {
  MpiTransport transport;
  const int rank = transport.rank(), size = transport.size();
  size_t record_size = 0;
  const auto records = MakeRecords(std::max(transitions, 1024), &record_size);
  const int window = 4;
  if (rank == 0) {
    RoleLayout layout{size, 1, 0};  // shard inside rank 0; ranks 1.. are actors
    ReplayShardOptions replay;
    replay.capacity = 100000;
    RateLimiterOptions limiter;
    limiter.samples_per_insert = 0.0;  // unlimited: measure the stream, not the learners
    ShardServer server(layout, 0, replay, limiter, &transport);
    long messages = 0, bytes = 0;
    int done = 0;
    Clock::time_point start;
    bool started = false;
    while (done < size - 1) {
      Message m;
      if (!transport.Poll(&m)) continue;
      if (!started) {
        start = Clock::now();
        started = true;
      }
      if (KindOf(m.bytes) == MessageKind::kStop) {
        ++done;
        continue;
      }
      bytes += m.bytes.size();
      ++messages;
      if (shard) {
        server.Handle(&m);
        server.Serve();
      } else {
        transport.Send(m.source, EncodeInsertAck(0));
      }
    }
    const double s = Seconds(start);
    const double transitions_per_s = messages * static_cast<double>(transitions) / s;
    std::printf(
        "%s: %d sender(s), %d transitions (%zu B) per message: %.0f messages/s, %.0f "
        "transitions/s, "
        "%.1f MB/s\n",
        shard ? "stream (actors -> shard, codec + inserts)"
              : "raw MpiTransport (same message size)",
        size - 1, transitions, transitions * record_size, messages / s, transitions_per_s,
        bytes / s / 1e6);
    while (transport.PendingSends() > 0) {
    }
  } else {
    std::vector<uint8_t> body(records.begin(), records.begin() + transitions * record_size);
    int inflight = 0;
    int64_t sequence = 0;
    const auto start = Clock::now();
    while (Seconds(start) < seconds) {
      Message m;
      while (transport.Poll(&m)) --inflight;
      if (inflight >= window) continue;
      std::vector<uint8_t> message(kTransitionsHeaderBytes + body.size());
      std::memcpy(message.data() + kTransitionsHeaderBytes, body.data(), body.size());
      WriteTransitionsHeader(TransitionsHeader{rank - 1, sequence++, 0, transitions,
                                               static_cast<uint32_t>(record_size)},
                             &message);
      transport.Send(0, std::move(message));
      ++inflight;
    }
    while (inflight > 0) {
      Message m;
      while (transport.Poll(&m)) --inflight;
    }
    transport.Send(0, EncodeSignal(MessageKind::kStop));
    while (transport.PendingSends() > 0) {
    }
  }
}

}  // namespace
}  // namespace qosroute

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  double seconds = 3.0;
  int transitions = 64;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--transitions") == 0) transitions = std::atoi(argv[i + 1]);
  }
  if (mode == "sumtree") {
    qosroute::BenchSumTree();
  } else if (mode == "codec") {
    qosroute::BenchCodec();
  } else if (mode == "raw" || mode == "stream") {
    qosroute::MpiScope mpi(&argc, &argv);
    if (mpi.size() < 2) {
      std::fprintf(stderr, "run under mpirun with at least 2 ranks\n");
      return 2;
    }
    qosroute::RunStream(seconds, transitions, mode == "stream");
  } else {
    std::fprintf(stderr,
                 "usage: qosroute_distributed_bench sumtree|codec|raw|stream [--seconds S] "
                 "[--transitions N]\n");
    return 2;
  }
  return 0;
}
