#pragma once
// The distributed trainer with ranks as threads over the in-process transport (no MPI), on a
// tiny configuration: shared by the in-process distributed and checkpoint tests.
#include <string>
#include <thread>
#include <vector>

#include "comm/transport_inproc.h"
#include "env_test_util.h"
#include "runner/distributed_ranks.h"

namespace qosroute::testing_util {

inline SacConfig SmallSac() {
  SacConfig c;
  c.han.hidden(16).heads(2).layers(1);
  c.mlp_hidden = {16};
  c.seed = 3;
  c.torch_threads = 1;
  return c;
}

inline DistributedOptions SmallOptions() {
  DistributedOptions o;
  o.train.total_frames = 600;
  o.train.warmup_frames = 100;
  o.train.updates_per_frame = 0.125;
  o.train.batch_size = 16;
  o.train.replay_capacity = 2000;
  o.train.log_every_frames = 100000;
  o.train.eval_every_frames = 100000000;
  o.train.num_envs = 2;
  o.publish_every_updates = 3;
  o.send_transitions = 16;
  o.wait_timeout_s = 60;
  o.evaluate = false;
  o.write_metrics = false;
  return o;
}

struct Job {
  std::vector<DistributedResult> results;
  std::string abort_message;
};

inline Job RunJob(const RoleLayout& layout, const DistributedOptions& options) {
  const EnvConfig env = testing_util::PaperLikeConfig(6.0, 150);
  auto workload = testing_util::SyntheticTestWorkload(500);
  InProcessHub hub(layout.world);
  Job job;
  job.results.resize(layout.world);
  std::vector<std::thread> ranks;
  for (int r = 0; r < layout.world; ++r) {
    ranks.emplace_back([&, r] {
      InProcessTransport transport(&hub, r);
      LocalGradientSync sync;
      try {
        job.results[r] =
            RunDistributedRank({layout, options, env, workload, SmallSac(), {}}, &transport, &sync);
      } catch (const JobAborted&) {
      }
    });
  }
  for (auto& t : ranks) t.join();
  if (auto message = hub.abort_message()) job.abort_message = *message;
  return job;
}

}  // namespace qosroute::testing_util
