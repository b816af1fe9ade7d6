#include "launch/distributed_train.h"

#include <mpi.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "checkpoint/files.h"
#include "checkpoint/resume_auto.h"
#include "checkpoint/signals.h"
#include "comm/mpi_check.h"
#include "comm/mpi_scope.h"
#include "comm/transport_mpi.h"
#include "common/error.h"
#include "env/evaluation.h"
#include "launch/report.h"
#include "launch/roles.h"
#include "launch/sac_policy_hook.h"
#include "launch/sac_setup.h"
#include "learner/gradient_sync_mpi.h"
#include "runner/distributed_ranks.h"
#include "runner/job_plan.h"
#include "telemetry/run_dir_lock.h"

namespace qosroute {

namespace {

DistributedOptions MakeDistributedOptions(const RunConfig& config, const std::string& run_dir) {
  DistributedOptions o;
  o.train = MakeTrainLoopOptions(config, run_dir);
  static_cast<DistributedTuning&>(o) = config.launch;  // [launch], bound to its keys
  o.full_batch_per_learner = config.launch.learner_batch == "full";
  return o;
}

std::string BroadcastString(const std::string& value) {
  int length = static_cast<int>(value.size());
  QR_MPI_CHECK(MPI_Bcast(&length, 1, MPI_INT, 0, MPI_COMM_WORLD));
  std::string out = value;
  out.resize(length);
  QR_MPI_CHECK(MPI_Bcast(out.data(), length, MPI_CHAR, 0, MPI_COMM_WORLD));
  return out;
}

// Learner 0: finds and reads the checkpoint to resume from (null for a fresh start).
std::shared_ptr<const DistributedCheckpoint> LoadResumeCheckpoint(
    const RunConfig& config, const std::string& run_dir, const std::string& resume,
    const RoleLayout& layout, const DistributedOptions& options, const SacConfig& sac) {
  if (resume.empty()) {
    const std::string existing = NewestCheckpoint(run_dir);
    if (!existing.empty()) {
      throw UserError("run directory " + run_dir + " already holds checkpoints (newest " +
                      existing +
                      "); continue it with --resume auto, or train into another --run-dir");
    }
    return nullptr;
  }
  const std::string path = resume == "auto" ? NewestIntactCheckpoint(run_dir) : resume;
  if (path.empty()) {
    spdlog::info("--resume auto: no checkpoint in {}; starting fresh", CheckpointFolder(run_dir));
    return nullptr;
  }
  DistributedCheckpointExpectations expect;
  expect.layout = layout;
  expect.num_envs = config.train.num_envs;
  expect.shard_capacity = MakeDistributedPlan(layout, options).shard_capacity;
  expect.prioritized = config.launch.prioritized;
  SacConfig shapes = sac;
  shapes.device = "cpu";  // only names and shapes are compared
  const SacAgent reference(shapes);
  auto checkpoint =
      std::make_shared<DistributedCheckpoint>(ReadDistributedCheckpoint(path, expect, reference));
  for (const std::string& change :
       ConfigDifferences(checkpoint->learner.config_text, FormatResolvedConfig(config))) {
    spdlog::warn("config differs from the checkpoint's: {}", change);
  }
  for (const std::string& moved :
       SupersedeNewerCheckpoints(CheckpointFolder(run_dir), checkpoint->learner.updates)) {
    spdlog::info("moved a newer checkpoint of the abandoned continuation to {}", moved);
  }
  return checkpoint;
}

// A learner's gradient averaging over `learners`: NCCL (and a CUDA device in *sac) or MPI,
// as launch.gradient_backend and launch.learner_device ask; a failure ends the job.
std::unique_ptr<GradientSync> MakeGradientSync(const RunConfig& config, MPI_Comm learners,
                                               SacConfig* sac, MpiTransport* transport) {
  const std::string backend = config.launch.gradient_backend;
  const bool want_nccl =
      backend == "nccl" || (backend == "auto" && config.launch.learner_device == "cuda");
  try {
    if (config.launch.learner_device == "cuda" && !CudaDeviceUsable()) {
      throw UserError(
          "launch.learner_device = cuda, but this build or machine has no usable CUDA device");
    }
    if (want_nccl) {
      int device = 0;
      auto sync = MakeNcclGradientSyncOverMpi(learners, &device);
      sac->device = "cuda:" + std::to_string(device);
      return sync;
    }
    if (config.launch.learner_device == "cuda") sac->device = "cuda";
    return std::make_unique<MpiGradientSync>(learners);
  } catch (const std::exception& e) {
    transport->Abort(e.what());
  }
  return nullptr;  // not reached: Abort ends the job
}

// Learner 0 at the end of training: the totals, then the comparison table if asked.
void ReportTrainedRun(const RunConfig& config, std::shared_ptr<const Workload> workload,
                      const TrainResult& t, const std::string& run_dir, bool compare) {
  spdlog::info("{}", DescribeTrainedRun(t));
  const std::vector<NamedPolicyFile> compared = TrainedPolicies(config, t);
  if (compare) CompareTrainedPolicy(config, workload, compared, run_dir);
  std::printf("run directory: %s\n", run_dir.c_str());
}

}  // namespace

int RunDistributedTrain(const RunConfig& config, const std::string& run_dir_in, bool compare,
                        const std::string& resume) {
  MpiScope mpi(nullptr, nullptr);
  // Every rank: a signal becomes a stop request (learner 0 checkpoints and stops the job).
  auto stop_signals = std::make_unique<StopSignals>();
  const RoleLayout layout = ResolveRoleLayout(config, mpi.size());
  const int rank = mpi.rank();
  const Role role = layout.RoleOf(rank);
  // Learner 0 speaks for the run; the others log warnings and errors only.
  if (rank != 0 && config.log_level != "debug" && config.log_level != "trace") {
    spdlog::set_level(spdlog::level::warn);
  }
  const std::string run_dir = BroadcastString(run_dir_in);
  auto workload = LoadConfiguredWorkload(config);
  SacConfig sac = MakeSacConfig(config);
  DistributedOptions options = MakeDistributedOptions(config, run_dir);
  options.train.config_text = FormatResolvedConfig(config);
  options.train.stop_requested = &StopSignals::flag();
  // Test hook: behave as if a stop signal arrived once this many updates are done.
  if (const char* at = std::getenv("QOSROUTE_TEST_STOP_AT_UPDATES")) {
    options.train.stop_at_updates = std::atol(at);
  }
  // Learner 0 reads and checks the checkpoint before anything in the run directory changes.
  std::string error;
  std::unique_ptr<RunDirLock> lock;  // learner 0 holds the run directory for the job
  if (rank == 0) {
    try {
      lock = std::make_unique<RunDirLock>(run_dir);
      options.resume = LoadResumeCheckpoint(config, run_dir, resume, layout, options, sac);
    } catch (const UserError& e) {
      error = e.what();
    }
  }
  error = BroadcastString(error);
  if (!error.empty()) {
    if (rank == 0) throw UserError(error);
    return 2;  // learner 0 prints the one message
  }
  options.resuming = BroadcastString(options.resume ? "1" : "") == "1";
  if (rank == 0) {
    std::filesystem::create_directories(run_dir);
    WriteText(run_dir + "/config.cfg", options.train.config_text);
  }

  // The learners' communicator (collective over the world: every rank calls the split).
  MPI_Comm learners = MPI_COMM_NULL;
  QR_MPI_CHECK(
      MPI_Comm_split(MPI_COMM_WORLD, role == Role::kLearner ? 0 : MPI_UNDEFINED, rank, &learners));
  MpiTransport transport;
  transport.set_role(layout.Describe(rank));
  std::unique_ptr<GradientSync> sync;
  if (role == Role::kLearner) sync = MakeGradientSync(config, learners, &sac, &transport);

  const DistributedResult result =
      RunDistributedRank({layout, options, config.env, workload, sac, {}}, &transport, sync.get());
  sync.reset();
  if (learners != MPI_COMM_NULL) MPI_Comm_free(&learners);

  if (result.train.stopped) {
    if (rank == 0) {
      spdlog::info(
          "stopped by signal {} after {} frames, {} updates; checkpoint {}; continue with "
          "--resume auto",
          StopSignals::signal_number(), result.train.frames, result.train.updates,
          result.train.checkpoint_path);
    }
    return 0;
  }
  // Training is saved from here on: a signal during the comparison ends the process at once.
  stop_signals.reset();
  if (rank == 0) ReportTrainedRun(config, workload, result.train, run_dir, compare);
  return 0;
}

}  // namespace qosroute
