#pragma once
// Full-state training checkpoints: one HDF5 file holds everything the single-process trainer
// needs to continue exactly where it stopped. Layout (docs/CHECKPOINTS.md has the details
// and an h5py example):
//
//   /                      @format = "qosroute-checkpoint", @format_version, @ranks
//   /config                the resolved config (INI text)
//   /counters              @frames @updates @episodes @weight_version @seed
//   /architecture          @encoder @hidden ... (the policy file's architecture attributes)
//   /agent/parameters/<name>                     every parameter, target networks, log_alpha
//   /agent/optimizer/<critic|actor|alpha>/<name>/{step, exp_avg, exp_avg_sq}
//   /agent/sample_rng      uint64[4]             @num_updates on /agent
//   /loop                  @next_log_frames ... (schedule and last logged values)
//   /rolling               @qos_sum @requests (the rolling QoS's open interval)
//   /metrics/train_csv, /metrics/eval_csv        the CSVs up to this checkpoint
//   /selection             @updates @frames @margin @mean_gain @min_gain, policy_file uint8[n] (the
//                          selected policy's HDF5 file), /metrics/select_csv; absent in
//                          checkpoints of runs without model selection
//   /ranks/0               one group per rank; today one rank holds every role
//     rng/explore, rng/replay_sample             uint64[4]
//     actor/env_<i>        ClusterEnv::SaveState bytes;  actor/episode_returns float64[E]
//     actor                @num_envs @episodes_started (the episode-seed counter)
//     replay/...           the replay shard: cursors as attributes, each observation field as
//                          one dataset over all transitions
//
// Reading validates the whole file before it changes anything it was given and throws
// UserError naming the file and the first problem.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "learner/sac.h"
#include "learner/selection_keeper.h"
#include "learner/trainer_core_state.h"
#include "replay/uniform_replay.h"

namespace qosroute {

constexpr char kCheckpointFormat[] = "qosroute-checkpoint";
// 2: expert features 9-11 (mean score, greedy-qos value and margin) and the dueling attribute.
constexpr int64_t kCheckpointFormatVersion = 2;

// Everything of a single-process training run that lives outside the agent and the replay:
// the core both trainers share (learner/trainer_core_state.h) and the one process's actor.
struct TrainerState : TrainerCoreState {
  long frames = 0;
  long episodes_started = 0;  // the episode-seed counter: the next Reset uses seed index this
  long last_eval_frames = -1;

  std::array<uint64_t, 4> explore_rng{};        // warm-up actions and policy sampling
  std::array<uint64_t, 4> replay_sample_rng{};  // minibatch indices

  std::vector<std::vector<uint8_t>> env_states;  // ClusterEnv::SaveState, one per env
  std::vector<double> episode_returns;           // in-progress return of each env
};

// Writes the checkpoint to `path` + ".tmp" and renames it to `path` once complete and
// synced. compression_level 0 stores raw data, 1-9 adds shuffle + deflate. UserError when
// the file cannot be written (the temporary file may remain; pruning removes it later).
void WriteCheckpoint(const std::string& path, const TrainerState& state, const SacAgent& agent,
                     const UniformReplay& replay, int compression_level = 0);

// Restores *state, *agent and *replay from `path`. Checks the format and version, the
// architecture against the agent's config (encoder, sizes, expert count, observation slots),
// the replay capacity, `num_envs`, and every dataset's type and shape. Everything is read
// and checked before anything is changed.
void ReadCheckpoint(const std::string& path, int num_envs, TrainerState* state, SacAgent* agent,
                    UniformReplay* replay);

}  // namespace qosroute
