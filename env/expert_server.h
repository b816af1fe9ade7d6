#pragma once
// One expert's serving engine with vLLM v0 semantics: FCFS waiting queue, running queue in
// admission order, paged KV blocks, iteration-level scheduling (a prefill iteration when the
// head of the waiting queue fits, else a decode iteration), recompute preemption of the most
// recently admitted request when blocks run out during decode.
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "common/bytes.h"
#include "env/expert_config.h"

namespace qosroute {

struct ActiveRequest {
  int id = 0;  // index of the request in its episode
  double arrival = 0.0;
  int prompt_tokens = 0;
  int output_tokens = 0;  // the truth: the simulator uses it, the router never sees it
  float score = 0.0f;     // the truth
  float pred_score = 0.0f;
  int pred_output_tokens = 0;
  int generated = 0;  // output tokens produced so far (kept across preemption)
  int blocks = 0;     // KV blocks held (0 while waiting)
  // Energy of the iterations this request took part in, its share of each (J).
  float energy_j = 0.0f;
  // When its first output token came out (the end of its first prefill); -1 before that, and
  // for requests restored from snapshots older than version 4.
  double first_token = -1.0;

  int context_tokens() const { return prompt_tokens + generated; }
};
// Snapshots write requests field by field (env/request_codec.h), not as raw bytes.

// The state version Save writes (ClusterEnv's snapshot carries it; versions 1 and 2 had raw
// request records, version 4 adds each request's first-token time).
constexpr uint32_t kExpertStateVersion = 4;

struct Completion {
  int id = 0;
  int expert = 0;
  double arrival = 0.0;
  double finish = 0.0;
  int output_tokens = 0;
  float score = 0.0f;
  bool rejected = false;      // the engine could never fit it (counts as dropped, QoS 0)
  float energy_j = 0.0f;      // the request's share of its iterations' energy (J)
  double first_token = -1.0;  // as ActiveRequest::first_token
  double latency_per_token() const { return (finish - arrival) / output_tokens; }
  // Time to first token (s); negative when unknown (restored from an old snapshot).
  double ttft() const { return first_token < 0.0 ? -1.0 : first_token - arrival; }
  double energy_per_token_j() const { return energy_j / output_tokens; }
};

class ExpertServer {
 public:
  ExpertServer(int index, const ExpertConfig& config);

  // Adds a request to the back of the waiting queue at time `now` (the expert must already
  // have been advanced to `now`).
  void Enqueue(const ActiveRequest& request, double now);

  // Runs every iteration that starts strictly before `until`; an idle expert jumps to `until`.
  // The last iteration may end after `until`: its completions carry their true finish time.
  void AdvanceTo(double until, std::vector<Completion>* completions);

  // Runs until both queues are empty.
  void Drain(std::vector<Completion>* completions);

  // Runs exactly one iteration; false when there was nothing to run.
  bool RunIteration(std::vector<Completion>* completions);

  int index() const { return index_; }
  const ExpertConfig& config() const { return *config_; }
  const IterationTimeModel& time_model() const { return *time_model_; }
  double clock() const { return clock_; }
  const std::vector<ActiveRequest>& running() const { return running_; }
  const std::deque<ActiveRequest>& waiting() const { return waiting_; }
  int num_blocks() const { return num_blocks_; }
  int blocks_used() const { return blocks_used_; }
  int blocks_free() const { return num_blocks_ - blocks_used_; }
  long preemptions() const { return preemptions_; }
  long iterations() const { return iterations_; }
  // Integral of blocks in use over time (block-seconds), for time-weighted utilisation.
  double block_seconds() const { return block_seconds_; }
  // Energy: busy_energy_j is the integral of power over this expert's iterations,
  // busy_seconds their total length; EnergyJ adds idle power over the rest of `span_s`.
  double busy_energy_j() const { return busy_energy_j_; }
  double busy_seconds() const { return busy_seconds_; }
  double EnergyJ(double span_s) const;
  // True output tokens of the requests completed here (rejections excluded).
  long completed_output_tokens() const { return completed_output_tokens_; }
  // Context tokens of the running batch: what the next decode iteration costs.
  long running_context_tokens() const;

  // Serving (serve/): replaces the queues with a live engine's as a router sees them. Running
  // requests without a block count (0) hold the blocks of their context; `other_blocks` are
  // held by requests the router does not know of (other clients), added to the total.
  void SetLiveQueues(double clock, const std::vector<ActiveRequest>& running,
                     const std::vector<ActiveRequest>& waiting, int other_blocks);

  // Planning (ClusterEnv::ResampleInFlight): every queued and running request, mutable, for
  // replacing its truth (output tokens, score). Nothing derived from those is cached.
  template <typename Fn>
  void ForEachQueued(Fn fn) {
    TouchQueues();
    for (ActiveRequest& r : running_) fn(&r);
    for (ActiveRequest& r : waiting_) fn(&r);
  }

  // Changes whenever the queues may have changed (an iteration ran, a request joined, the
  // queues were replaced, loaded or handed out mutable), drawn from one process-wide counter:
  // equal versions mean copies of one state, so the look-ahead (env/lookahead.cc) can reuse
  // what it computed for a state, in forks too.
  uint64_t queue_version() const { return queue_version_; }

  void Save(ByteWriter* out) const;
  // `version` of the cluster snapshot the bytes come from (env/cluster_state.cc; the default
  // is what Save writes): version 1 predates the energy accounting, which then starts from
  // zero; versions 1 and 2 hold raw request records.
  void Load(ByteReader* in, uint32_t version = kExpertStateVersion);

 private:
  // The counters a snapshot carries after the queues, in order; the energy ones since
  // version 2 (Save and Load both walk these lists).
  template <typename Self, typename F>
  static void VisitCounters(Self& s, F&& f);
  template <typename Self, typename F>
  static void VisitEnergyCounters(Self& s, F&& f);
  bool RunPrefill(std::vector<Completion>* completions);
  void RunDecode(std::vector<Completion>* completions);
  void Complete(const ActiveRequest& r, bool rejected, std::vector<Completion>* completions);
  void TouchQueues();
  int BlocksFor(int tokens) const {
    return (tokens + config_->block_size - 1) / config_->block_size;
  }

  int index_;
  // Immutable, shared by the copies a planner's forks make.
  std::shared_ptr<const ExpertConfig> config_;
  std::shared_ptr<const IterationTimeModel> time_model_;
  int num_blocks_;
  int watermark_blocks_;

  double clock_ = 0.0;
  uint64_t queue_version_ = 0;
  std::vector<ActiveRequest> running_;  // admission order: newest at the back
  std::deque<ActiveRequest> waiting_;   // FCFS; preempted requests return to the front
  int blocks_used_ = 0;
  long preemptions_ = 0;
  long iterations_ = 0;
  double block_seconds_ = 0.0;
  double busy_energy_j_ = 0.0;
  double busy_seconds_ = 0.0;
  long completed_output_tokens_ = 0;
  // By batch size, 0..max_num_seqs: no log/exp per step. Shared like config_.
  std::shared_ptr<const std::vector<double>> decode_watts_;
  std::vector<ActiveRequest> scratch_;  // reused buffer, no allocation per iteration
};

}  // namespace qosroute
