#include "learner/distributed_run.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "checkpoint/files.h"
#include "common/error.h"
#include "learner/distributed_weights.h"
#include "learner/graph_batch.h"
#include "learner/learner_role.h"
#include "learner/periodic_evaluation.h"
#include "learner/policy_io.h"
#include "learner/selection_keeper.h"
#include "replay/replay_shard.h"
#include "replay/transition_codec.h"
#include "telemetry/rolling_qos.h"
#include "telemetry/run_reporter.h"

namespace qosroute {

std::map<PartKind, std::vector<uint8_t>> ReceiveResumeParts(Transport* transport,
                                                            const std::vector<PartKind>& wanted,
                                                            double timeout_s,
                                                            std::deque<Message>* early) {
  PartAssembler assembler;
  WaitUntil(
      [&] {
        bool busy = false;
        Message message;
        while (assembler.complete() < wanted.size() && transport->Poll(&message)) {
          busy = true;
          if (KindOf(message.bytes) == MessageKind::kCheckpointPart && message.source == 0) {
            assembler.Add(message.bytes);
          } else {
            early->push_back(std::move(message));
          }
        }
        return assembler.complete() == wanted.size() ? WaitStatus::kDone
               : busy                                ? WaitStatus::kBusy
                                                     : WaitStatus::kIdle;
      },
      timeout_s, "this rank's part of the checkpoint from learner 0");
  std::map<PartKind, std::vector<uint8_t>> out;
  for (PartKind kind : wanted) out[kind] = assembler.Take(0, kind);
  return out;
}

DistributedResult RunLearnerRole(const DistributedJob& job, Transport* transport,
                                 GradientSync* sync) {
  QR_CHECK(sync != nullptr);
  Learner learner(job, transport, sync);
  return learner.Run();
}

}  // namespace qosroute
