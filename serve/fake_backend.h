#pragma once
// `qosroute fake-backend`: one expert emulated in real time behind an OpenAI-compatible API.
// The simulator's own engine (env/expert_server.h: waiting/running queues, paged KV,
// iteration times from the config's model, recompute preemption) runs iteration by iteration
// against the wall clock; each iteration's tokens are released when it ends, streamed as
// server-sent events. /metrics exposes the vLLM gauge names a router scrapes. For tests, demos
// and capacity planning without GPUs.
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "env/expert_server.h"
#include "serve/http_server.h"

namespace qosroute {

struct FakeBackendOptions {
  std::string expert_name;         // the config's expert this server emulates
  bool instant = false;            // answer at once, no simulated compute (router overhead benches)
  int default_output_tokens = 16;  // vLLM's default max_tokens, used without a truth header
  std::string api_key;             // when set, /v1/* needs "Authorization: Bearer <key>"
};

class FakeBackend {
 public:
  FakeBackend(net::io_context& io, const ExpertConfig& expert, const FakeBackendOptions& options);
  void Handle(std::shared_ptr<Exchange> exchange);
  // Requests admitted and not yet answered.
  size_t in_flight() const { return requests_.size(); }

 private:
  struct Pending {
    std::shared_ptr<Exchange> exchange;
    bool chat = false;
    bool stream = false;
    int prompt_tokens = 0;
    int output_tokens = 0;
    int sent = 0;  // tokens released so far
    std::string id;
  };
  // Tokens an iteration produced, released at its end: (request id, new token count,
  // finished, rejected).
  struct Release {
    int request = 0;
    int tokens = 0;
    bool finished = false;
    bool rejected = false;
  };

  void HandleCompletion(std::shared_ptr<Exchange> exchange, bool chat);
  void HandleMetrics(std::shared_ptr<Exchange> exchange);
  void Admit(Pending pending);
  void Step();
  void Deliver(const std::vector<Release>& releases);
  void SendTokens(Pending& p, int count, bool finished);
  void AnswerWhole(Pending& p);
  double SimNow() const;

  FakeBackendOptions options_;
  ExpertServer server_;
  net::steady_timer timer_;
  std::chrono::steady_clock::time_point origin_;
  bool iterating_ = false;
  int next_id_ = 0;
  std::map<int, Pending> requests_;
  long prompt_tokens_total_ = 0;
  long generation_tokens_total_ = 0;
  long requests_total_ = 0;
};

// Server-sent-event and whole-body encodings of generated text, shared with tests.
std::string TokenText(int index);  // " t<index>": the order is checkable at the client
std::string CompletionChunk(const std::string& id, const std::string& model, bool chat,
                            const std::string& text, const char* finish_reason);

}  // namespace qosroute
