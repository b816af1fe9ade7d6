#include "env/expert_server.h"

#include <algorithm>
#include <atomic>

#include "common/error.h"
#include "env/request_codec.h"

namespace qosroute {

namespace {

std::atomic<uint64_t> next_queue_version{1};  // 0: never a state (an empty cache slot)

}  // namespace

void ExpertServer::TouchQueues() {
  queue_version_ = next_queue_version.fetch_add(1, std::memory_order_relaxed);
}

ExpertServer::ExpertServer(int index, const ExpertConfig& config)
    : index_(index),
      config_(std::make_shared<const ExpertConfig>(config)),
      time_model_(config.MakeTimeModel()),
      num_blocks_(config.NumBlocks()),
      watermark_blocks_(config.WatermarkBlocks()) {
  QR_CHECK(num_blocks_ > 0);
  TouchQueues();
  auto watts = std::make_shared<std::vector<double>>(config.max_num_seqs + 1);
  for (int b = 0; b <= config.max_num_seqs; ++b) (*watts)[b] = config.power.DecodeWatts(b);
  decode_watts_ = std::move(watts);
}

double ExpertServer::EnergyJ(double span_s) const {
  return busy_energy_j_ + config_->power.idle_w * std::max(0.0, span_s - busy_seconds_);
}

void ExpertServer::Enqueue(const ActiveRequest& request, double now) {
  QR_CHECK_MSG(now >= request.arrival, "a request cannot be enqueued before it arrives");
  // An idle expert's clock sits at the last time it was advanced to; a busy one's at the end
  // of its iteration in progress, which the request waits for.
  clock_ = std::max(clock_, now);
  waiting_.push_back(request);
  TouchQueues();
}

void ExpertServer::SetLiveQueues(double clock, const std::vector<ActiveRequest>& running,
                                 const std::vector<ActiveRequest>& waiting, int other_blocks) {
  clock_ = clock;
  running_ = running;
  TouchQueues();
  blocks_used_ = 0;
  for (ActiveRequest& r : running_) {
    if (r.blocks <= 0) r.blocks = BlocksFor(r.context_tokens());  // unknown: what it holds at least
    blocks_used_ += r.blocks;
  }
  blocks_used_ = std::min(num_blocks_, blocks_used_ + std::max(0, other_blocks));
  waiting_.assign(waiting.begin(), waiting.end());
  for (ActiveRequest& r : waiting_) r.blocks = 0;
}

void ExpertServer::AdvanceTo(double until, std::vector<Completion>* completions) {
  while (clock_ < until) {
    if (!RunIteration(completions)) {
      clock_ = until;
      break;
    }
  }
}

void ExpertServer::Drain(std::vector<Completion>* completions) {
  while (RunIteration(completions)) {
  }
}

bool ExpertServer::RunIteration(std::vector<Completion>* completions) {
  if (running_.empty() && waiting_.empty()) return false;
  ++iterations_;
  TouchQueues();
  if (!waiting_.empty() && RunPrefill(completions)) return true;
  if (running_.empty() && waiting_.empty()) return true;  // the only request was rejected
  if (!running_.empty()) {
    RunDecode(completions);
    return true;
  }
  // Only waiting requests that cannot be admitted on an empty engine remain; RunPrefill
  // rejects those, so reaching here is a broken invariant.
  QR_CHECK_MSG(false, "expert has waiting requests but can neither prefill nor decode");
  return false;
}

bool ExpertServer::RunPrefill(std::vector<Completion>* completions) {
  // vLLM v0 admission: take requests from the head while the sequence limit, the token budget
  // and the free blocks (above the watermark) allow; stop at the first that does not fit.
  long prefill_tokens = 0;
  bool rejected_any = false;
  const size_t first_admitted = running_.size();
  while (!waiting_.empty()) {
    ActiveRequest& head = waiting_.front();
    const int tokens = head.context_tokens();
    const int need = BlocksFor(tokens);
    if (num_blocks_ - need < watermark_blocks_ || tokens > config_->max_num_batched_tokens) {
      // Can never fit this engine: vLLM ignores it; here it counts as a rejected request.
      ActiveRequest rejected = head;
      waiting_.pop_front();
      Complete(rejected, /*rejected=*/true, completions);
      rejected_any = true;
      continue;
    }
    if (static_cast<int>(running_.size()) >= config_->max_num_seqs) break;
    if (prefill_tokens + tokens > config_->max_num_batched_tokens) break;
    if (blocks_free() - need < watermark_blocks_) break;
    head.blocks = need;
    blocks_used_ += need;
    prefill_tokens += tokens;
    running_.push_back(head);
    waiting_.pop_front();
  }
  const int admitted = static_cast<int>(running_.size() - first_admitted);
  // Rejecting never-fitting requests is progress too, even when nothing else was admitted.
  if (admitted == 0) return rejected_any;

  const double seconds = time_model_->PrefillSeconds(prefill_tokens, admitted);
  block_seconds_ += blocks_used_ * seconds;
  clock_ += seconds;
  // Prefill energy is shared by prompt tokens: the iteration's cost is theirs.
  const double energy = config_->power.PrefillWatts() * seconds;
  busy_energy_j_ += energy;
  busy_seconds_ += seconds;
  const double energy_per_token = energy / static_cast<double>(prefill_tokens);
  // The prefill pass produces each admitted request's next token.
  bool any_finished = false;
  for (size_t i = first_admitted; i < running_.size(); ++i) {
    ActiveRequest& r = running_[i];
    r.energy_j += static_cast<float>(energy_per_token * r.context_tokens());
    if (r.generated == 0) r.first_token = clock_;  // a recompute after preemption is not first
    ++r.generated;
    any_finished |= r.generated >= r.output_tokens;
  }
  if (any_finished) {
    size_t kept = 0;
    for (size_t i = 0; i < running_.size(); ++i) {
      if (running_[i].generated >= running_[i].output_tokens) {
        Complete(running_[i], false, completions);
      } else {
        running_[kept++] = running_[i];
      }
    }
    running_.resize(kept);
  }
  return true;
}

void ExpertServer::RunDecode(std::vector<Completion>* completions) {
  // Every running request needs room for the KV of the token it is about to extend by.
  // When blocks run out, preempt (recompute) the most recently admitted request, possibly
  // the one asking.
  scratch_.clear();  // victims, newest first
  for (size_t i = 0; i < running_.size(); ++i) {
    ActiveRequest& r = running_[i];
    const int need = BlocksFor(r.context_tokens()) - r.blocks;
    if (need <= 0) continue;
    while (blocks_free() < need && running_.size() - 1 > i) {
      ActiveRequest& victim = running_.back();
      blocks_used_ -= victim.blocks;
      victim.blocks = 0;
      scratch_.push_back(victim);
      running_.pop_back();
      ++preemptions_;
    }
    if (blocks_free() >= need) {
      r.blocks += need;
      blocks_used_ += need;
      continue;
    }
    // Nothing newer left to evict: preempt this request itself; everything older fits.
    blocks_used_ -= r.blocks;
    r.blocks = 0;
    scratch_.push_back(r);
    running_.pop_back();
    ++preemptions_;
    break;
  }
  // Preempted requests go back to the front of the waiting queue, oldest first.
  for (const ActiveRequest& victim : scratch_) waiting_.push_front(victim);

  if (running_.empty()) {
    // A lone request outgrew the whole cache. It can never finish here: reject it.
    if (!waiting_.empty() &&
        BlocksFor(waiting_.front().context_tokens() + 1) > num_blocks_ - watermark_blocks_) {
      ActiveRequest rejected = waiting_.front();
      waiting_.pop_front();
      Complete(rejected, true, completions);
    }
    return;
  }

  const long context = running_context_tokens();
  const int batch = static_cast<int>(running_.size());
  const double seconds = time_model_->DecodeSeconds(context, batch);
  block_seconds_ += blocks_used_ * seconds;
  clock_ += seconds;
  // Every sequence in a decode batch produces one token: equal shares of the energy.
  const double watts = batch < static_cast<int>(decode_watts_->size())
                           ? (*decode_watts_)[batch]
                           : config_->power.DecodeWatts(batch);
  const double energy = watts * seconds;
  busy_energy_j_ += energy;
  busy_seconds_ += seconds;
  const float share = static_cast<float>(energy / batch);
  size_t kept = 0;
  for (size_t i = 0; i < running_.size(); ++i) {
    ActiveRequest& r = running_[i];
    r.energy_j += share;
    ++r.generated;
    if (r.generated >= r.output_tokens) {
      Complete(r, false, completions);
    } else {
      running_[kept++] = r;
    }
  }
  running_.resize(kept);
}

void ExpertServer::Complete(const ActiveRequest& r, bool rejected,
                            std::vector<Completion>* completions) {
  blocks_used_ -= r.blocks;
  QR_CHECK(blocks_used_ >= 0);
  Completion c;
  c.id = r.id;
  c.expert = index_;
  c.arrival = r.arrival;
  c.finish = clock_;
  c.output_tokens = r.output_tokens;
  c.score = r.score;
  c.rejected = rejected;
  c.energy_j = r.energy_j;
  c.first_token = r.first_token;
  if (!rejected) completed_output_tokens_ += r.output_tokens;
  completions->push_back(c);
}

long ExpertServer::running_context_tokens() const {
  long total = 0;
  for (const ActiveRequest& r : running_) total += r.context_tokens();
  return total;
}

template <typename Self, typename F>
void ExpertServer::VisitCounters(Self& s, F&& f) {
  f(s.blocks_used_), f(s.preemptions_), f(s.iterations_), f(s.block_seconds_);
}

template <typename Self, typename F>
void ExpertServer::VisitEnergyCounters(Self& s, F&& f) {
  f(s.busy_energy_j_), f(s.busy_seconds_), f(s.completed_output_tokens_);
}

void ExpertServer::Save(ByteWriter* out) const {
  out->Put(clock_);
  PutRequests(out, running_);
  PutRequests(out, waiting_);
  VisitCounters(*this, PutEach{out});
  VisitEnergyCounters(*this, PutEach{out});
}

void ExpertServer::Load(ByteReader* in, uint32_t version) {
  clock_ = in->Get<double>();
  running_ = GetRequests(in, version);
  const auto waiting = GetRequests(in, version);
  waiting_.assign(waiting.begin(), waiting.end());
  TouchQueues();
  VisitCounters(*this, GetEach{in});
  busy_energy_j_ = 0.0;
  busy_seconds_ = 0.0;
  completed_output_tokens_ = 0;
  if (version >= 2) VisitEnergyCounters(*this, GetEach{in});
  long held = 0;
  for (const ActiveRequest& r : running_) held += r.blocks;
  if (held != blocks_used_ || blocks_used_ > num_blocks_) {
    throw UserError("state snapshot is inconsistent: expert " + config_->name + " holds " +
                    std::to_string(held) + " blocks in its running queue but records " +
                    std::to_string(blocks_used_));
  }
}

}  // namespace qosroute
