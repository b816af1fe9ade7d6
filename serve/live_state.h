#pragma once
// The live state of `qosroute serve`: the router's own accounting of every request it has in
// flight and of each backend's last scrape, turned into the queues the policy's observation is
// built from (ClusterEnv::LiveExpert). It decides whether live results match simulation, so it
// is kept free of sockets and clocks: the router feeds it events with their times
// (tests/serve_live_state_test.cc feeds it known sequences).
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "env/cluster_env.h"
#include "env/expert_config.h"
#include "serve/prometheus_text.h"

namespace qosroute {

class LiveState {
 public:
  // One backend per expert, in the config's order; each healthy until marked down.
  explicit LiveState(const std::vector<ExpertConfig>& experts);

  // Events. Calls are keyed by id, ids increasing with admission (= arrival order: the oldest
  // whole-answer requests fill the running slots first). Events of an unknown id are ignored.
  // A call forwarded to `expert`; `state` is as the observation shows it (predictions, no
  // tokens yet); `stream`: its tokens are counted as they pass.
  void Admit(long id, size_t expert, const ActiveRequest& state, bool stream);
  // The backend has the whole request (router clock).
  void Written(long id, double now);
  // A piece of the answer's chunked body arrived: its server-sent events are counted as tokens
  // and the backend's last token time is `now`.
  void Piece(long id, std::string_view piece, double now);
  // The call ended (answered, failed or cancelled).
  void End(long id);
  // A successful scrape of backend `e`'s /metrics (an empty load when it had none).
  void Scraped(size_t e, const VllmLoad& load);
  // The backend answered its health check / failed (its load is forgotten). MarkDown returns
  // whether it was healthy before.
  void MarkUp(size_t e);
  bool MarkDown(size_t e);

  // Queries.
  size_t num_backends() const { return backends_.size(); }
  bool healthy(size_t e) const { return backends_[e].healthy; }
  const VllmLoad& load(size_t e) const { return backends_[e].load; }
  // When the call's request was written (-1: not yet, or no such call).
  double written(long id) const;
  size_t num_calls() const { return calls_.size(); }
  // Calls in flight per backend.
  std::vector<long> InFlight() const;
  // The queues as the router sees them (`live`, one per backend) and which backends take
  // requests (`available`); false when none does.
  bool Queues(std::vector<ClusterEnv::LiveExpert>* live, std::vector<uint8_t>* available) const;
  // The available backend with the fewest calls in flight (the lowest index of equals); -1
  // when none is available.
  int LeastLoaded(const std::vector<uint8_t>& available) const;

 private:
  struct Call {
    size_t expert = 0;
    ActiveRequest state;    // as the observation shows it: predictions, tokens so far
    bool stream = false;    // asked for a stream: its tokens are counted as they pass
    std::string carry;      // the tail of the last piece, for counting events across pieces
    double written = -1.0;  // when the backend had the whole request
  };
  struct Backend {
    bool healthy = true;  // optimistic until the first check says otherwise
    VllmLoad load;
    double last_token_at = -1.0;  // when the router last saw a token from it (router clock)
    std::shared_ptr<const IterationTimeModel> time_model;  // the config's, for its expert
    int block_size = 16;
    int num_blocks = 0;
    // KV blocks the backend reported beyond those of this router's requests at the time of
    // the scrape: other clients' requests. Only this difference is used, so a stale report
    // does not overstate this router's own load, which it knows at every decision.
    int other_blocks = 0;
  };

  bool StreamedRunning(const Call& c) const;

  std::vector<Backend> backends_;
  std::map<long, Call> calls_;  // in flight, by id (= arrival order)
};

}  // namespace qosroute
