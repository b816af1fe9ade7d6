#include "runner/distributed_ranks.h"

#include <cstdlib>
#include <deque>
#include <stdexcept>
#include <string>

#include "actors/actor_loop.h"
#include "common/error.h"
#include "replay/replay_shard.h"
#include "runner/job_plan.h"

namespace qosroute {

long ActorFrameBudget(long total_frames, int num_actors, int actor) {
  return total_frames / num_actors + (actor < total_frames % num_actors ? 1 : 0);
}

namespace {

// The replay-shard role: stores what actors send, answers the learners' sample requests under
// the rate limiter, and takes part in checkpoints, until learner 0 says stop.
DistributedResult RunShard(const RoleLayout& layout, const DistributedOptions& options,
                           const DistributedPlan& plan, Transport* transport) {
  const int index = layout.IndexOf(transport->rank());
  ShardServer server(layout, index, plan.shards.at(index), plan.limiter, transport);
  server.set_max_chunk_bytes(options.max_chunk_bytes);
  std::deque<Message> early;
  if (options.resuming) {
    auto parts = ReceiveResumeParts(transport, {PartKind::kShard}, options.wait_timeout_s, &early);
    server.Restore(DecodeShardSnapshot(parts.at(PartKind::kShard)));
  }
  bool stop = false, stopped_by_checkpoint = false, stop_forwarded = false;
  const std::atomic<bool>* signal = options.train.stop_requested;
  WaitUntil(
      [&] {
        bool busy = false;
        Message message;
        while (!stopped_by_checkpoint && (!early.empty() || transport->Poll(&message))) {
          if (!early.empty()) {
            message = std::move(early.front());
            early.pop_front();
          }
          busy = true;
          if (server.Handle(&message)) continue;
          const MessageKind kind = KindOf(message.bytes);
          if (kind == MessageKind::kCheckpointDone) {
            stopped_by_checkpoint = DecodeCheckpointSignal(kind, message.bytes).stop;
            continue;
          }
          QR_CHECK_MSG(kind == MessageKind::kStop,
                       std::string("shard got an unexpected ") + KindName(kind) + " message");
          stop = true;
        }
        if (signal && signal->load() && !stop_forwarded) {
          transport->Send(layout.LearnerRank(0), EncodeSignal(MessageKind::kStopRequest));
          stop_forwarded = true;
        }
        if (stopped_by_checkpoint) return WaitStatus::kDone;
        busy = server.Serve() || busy;
        return stop && server.done_sent() ? WaitStatus::kDone
               : busy                     ? WaitStatus::kBusy
                                          : WaitStatus::kIdle;
      },
      options.wait_timeout_s, "transitions, sample requests or the stop message");
  WaitUntil([&] { return transport->PendingSends() == 0 ? WaitStatus::kDone : WaitStatus::kIdle; },
            options.wait_timeout_s, "the last sends to complete");
  DistributedResult result;
  result.role = Role::kShard;
  result.train.stopped = stopped_by_checkpoint;
  return result;
}
}  // namespace

DistributedResult RunDistributedRank(const DistributedJob& given, Transport* transport,
                                     GradientSync* sync) {
  // The job's plan, derived the same way on every rank, handed to the role.
  DistributedJob job = given;
  job.plan = MakeDistributedPlan(job.layout, job.options);
  const RoleLayout& layout = job.layout;
  const DistributedOptions& options = job.options;
  const int rank = transport->rank();
  transport->set_role(layout.Describe(rank));
  try {
    // A test hook: the named rank fails at start, to check that the whole job ends with its
    // message.
    if (const char* fail = std::getenv("QOSROUTE_INJECT_FAILURE_RANK")) {
      if (std::atoi(fail) == rank) {
        throw std::runtime_error(
            "injected failure (QOSROUTE_INJECT_FAILURE_RANK=" + std::string(fail) + ")");
      }
    }
    switch (layout.RoleOf(rank)) {
      case Role::kLearner:
        return RunLearnerRole(job, transport, sync);
      case Role::kShard:
        return RunShard(layout, options, job.plan, transport);
      case Role::kActor: {
        ActorOptions a;
        a.actor_index = layout.IndexOf(rank);
        a.frame_budget =
            ActorFrameBudget(options.train.total_frames, layout.num_actors(), a.actor_index);
        a.warmup_frames =
            ActorFrameBudget(options.train.warmup_frames, layout.num_actors(), a.actor_index);
        a.warmup_policy = options.train.warmup_policy;
        a.warmup_epsilon = options.train.warmup_epsilon;
        a.greedy = options.train.greedy;
        a.labels = options.train.labels;
        a.planner = options.train.planner;
        a.num_envs = options.train.num_envs;
        a.stop_requested = options.train.stop_requested;
        a.max_chunk_bytes = options.max_chunk_bytes;
        ActorSnapshot snapshot;
        if (options.resuming) {
          std::deque<Message> early;
          auto parts =
              ReceiveResumeParts(transport, {PartKind::kActor}, options.wait_timeout_s, &early);
          // Learner 0 sends the parts before anything else reaches an actor.
          QR_CHECK_MSG(early.empty(), "an actor got messages before its checkpoint part");
          snapshot = DecodeActorSnapshot(parts.at(PartKind::kActor));
          a.resume = &snapshot;
        }
        a.seed = options.train.seed;
        a.send_transitions = options.send_transitions;
        a.max_inflight_sends = options.max_inflight_sends;
        a.wait_timeout_s = options.wait_timeout_s;
        SacConfig actor_sac = job.sac_config;
        actor_sac.device = "cpu";     // actors infer on the CPU,
        actor_sac.torch_threads = 1;  // one thread each: actor ranks already fill the cores
        const ActorResult r =
            RunActor(layout, a, job.env_config, job.workload, actor_sac, transport);
        DistributedResult result;
        result.role = Role::kActor;
        result.versions_adopted = r.versions_adopted;
        result.actor_frames = r.frames;
        result.checkpoints = r.checkpoints;
        result.train.stopped = r.stopped;
        return result;
      }
    }
  } catch (const JobAborted&) {
    throw;  // another rank failed first; its message is the one that counts
  } catch (const std::exception& e) {
    transport->Abort(e.what());
  }
  return DistributedResult();
}

}  // namespace qosroute
