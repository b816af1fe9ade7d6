// The router's live-state accounting (see live_state.h).
#include "serve/live_state.h"

#include <algorithm>
#include <cmath>

namespace qosroute {

LiveState::LiveState(const std::vector<ExpertConfig>& experts) {
  for (const ExpertConfig& e : experts) {
    Backend b;
    b.time_model = e.MakeTimeModel();
    b.block_size = e.block_size;
    b.num_blocks = e.NumBlocks();
    backends_.push_back(std::move(b));
  }
}

void LiveState::Admit(long id, size_t expert, const ActiveRequest& state, bool stream) {
  Call& c = calls_[id];
  c.expert = expert;
  c.state = state;
  c.stream = stream;
}

void LiveState::Written(long id, double now) {
  if (auto it = calls_.find(id); it != calls_.end()) it->second.written = now;
}

void LiveState::Piece(long id, std::string_view piece, double now) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  Call& c = it->second;
  // Tokens so far: server-sent events with data other than [DONE]. An event marker split
  // between two pieces is counted once, with the piece that completes it.
  const std::string text = c.carry + std::string(piece);
  for (size_t pos = text.find("data: "); pos != std::string::npos;
       pos = text.find("data: ", pos + 1)) {
    if (pos + 6 > c.carry.size() && text.compare(pos + 6, 6, "[DONE]") != 0) ++c.state.generated;
  }
  c.carry = text.substr(text.size() - std::min<size_t>(text.size(), 5));
  backends_[c.expert].last_token_at = now;
}

void LiveState::End(long id) {
  calls_.erase(id);
}

void LiveState::Scraped(size_t e, const VllmLoad& load) {
  Backend& b = backends_[e];
  b.load = load;
  b.other_blocks = 0;
  if (!b.load.kv_usage) return;
  long own = 0;  // blocks of this router's requests there, as if all were admitted
  for (const auto& [id, call] : calls_)
    if (call.expert == e && call.written >= 0)
      own += (call.state.context_tokens() + b.block_size - 1) / b.block_size;
  const long reported = std::lround(*b.load.kv_usage * b.num_blocks);
  b.other_blocks = static_cast<int>(std::max(0L, reported - own));
}

void LiveState::MarkUp(size_t e) {
  backends_[e].healthy = true;
}

bool LiveState::MarkDown(size_t e) {
  Backend& b = backends_[e];
  b.load = VllmLoad();
  b.other_blocks = 0;
  const bool was = b.healthy;
  b.healthy = false;
  return was;
}

double LiveState::written(long id) const {
  const auto it = calls_.find(id);
  return it == calls_.end() ? -1.0 : it->second.written;
}

std::vector<long> LiveState::InFlight() const {
  std::vector<long> in_flight(backends_.size(), 0);
  for (const auto& [id, call] : calls_) ++in_flight[call.expert];
  return in_flight;
}

bool LiveState::StreamedRunning(const Call& c) const {
  return c.state.generated > 0 || (c.written >= 0 && c.written < backends_[c.expert].last_token_at);
}

bool LiveState::Queues(std::vector<ClusterEnv::LiveExpert>* out,
                       std::vector<uint8_t>* available) const {
  const size_t n = backends_.size();
  // The queues as the router sees them. A streamed request shows its progress: it runs once
  // its first token has come; before that it is in its prefill (running) when it reached the
  // backend before the backend's last iteration boundary (the last token seen from it: vLLM
  // admits waiting requests at boundaries), and waiting otherwise. That is the simulator's
  // state at a decision, where the iteration in progress has already been applied. A
  // whole-answer request shows no progress: the oldest of them fill the running slots the
  // backend last reported beyond the streamed ones (the report is stale by up to one scrape
  // period), and the rest wait. docs/SERVING.md has the measurements behind these rules.
  std::vector<ClusterEnv::LiveExpert>& live = *out;
  live.assign(n, ClusterEnv::LiveExpert());
  std::vector<long> blind_running(n, 0);
  for (size_t e = 0; e < n; ++e)
    if (backends_[e].load.running) blind_running[e] = std::lround(*backends_[e].load.running);
  for (const auto& [id, call] : calls_)
    if (call.stream && StreamedRunning(call)) --blind_running[call.expert];
  // The simulator decides with the iteration in progress already applied: every running
  // request one token further and the engine busy until that iteration ends. The router sees
  // the state at the iteration's start (the last token); it applies the iteration the same
  // way, with the end estimated from the expert's time model.
  std::vector<long> context(n, 0);
  for (const auto& [id, call] : calls_) {
    ClusterEnv::LiveExpert& le = live[call.expert];
    const bool running = call.stream ? StreamedRunning(call) : blind_running[call.expert]-- > 0;
    if (!running) {
      le.waiting.push_back(call.state);
      continue;
    }
    le.running.push_back(call.state);
    if (call.stream) ++le.running.back().generated;
    context[call.expert] += le.running.back().context_tokens();
  }
  for (size_t e = 0; e < n; ++e) {
    const Backend& b = backends_[e];
    if (b.last_token_at < 0 || live[e].running.empty()) continue;
    live[e].busy_until =
        b.last_token_at +
        b.time_model->DecodeSeconds(context[e], static_cast<int>(live[e].running.size()));
  }
  available->assign(n, 0);
  bool any = false;
  for (size_t e = 0; e < n; ++e) {
    const Backend& b = backends_[e];
    (*available)[e] = b.healthy ? 1 : 0;
    any = any || b.healthy;
    live[e].other_blocks = b.other_blocks;
  }
  return any;
}

int LiveState::LeastLoaded(const std::vector<uint8_t>& available) const {
  const std::vector<long> load = InFlight();
  int best = -1;
  for (int e = 0; e < static_cast<int>(backends_.size()); ++e)
    if (available[e] && (best < 0 || load[e] < load[best])) best = e;
  return best;
}

}  // namespace qosroute
