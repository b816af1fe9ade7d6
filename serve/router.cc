// The live router of `qosroute serve` (see router.h).
#include "serve/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <cmath>

#include "common/error.h"
#include "env/workload.h"

namespace qosroute {

struct Router::Backend {
  BackendSpec spec;
  std::unique_ptr<ConnectionPool> pool;
  std::unique_ptr<net::steady_timer> timer;
  std::shared_ptr<HttpCall> scrape;
  bool healthy = true;  // optimistic until the first check says otherwise
  VllmLoad load;
  double last_token_at = -1.0;  // when the router last saw a token from it (router clock)
  std::shared_ptr<const IterationTimeModel> time_model;  // the config's, for its expert
  // KV blocks the backend reported beyond those of this router's requests at the time of the
  // scrape: other clients' requests. Only this difference is used, so a stale report does not
  // overstate this router's own load, which it knows at every decision.
  int other_blocks = 0;
};

struct Router::Call {
  size_t expert = 0;
  std::shared_ptr<Exchange> exchange;
  std::shared_ptr<HttpCall> http;
  ActiveRequest state;    // as the observation shows it: predictions, tokens so far
  bool stream = false;    // asked for a stream: its tokens are counted as they pass
  bool streamed = false;  // the client has the header already
  std::string carry;      // the tail of the last piece, for counting events across pieces
  double received = 0.0;
  double written = -1.0;  // when the backend had the whole request
  unsigned status = 0;
  std::string content_type;
  std::string cancelled_because;  // set when the router ends the call itself
};

std::vector<double> AddedLatencyBuckets() {
  return {25e-6, 50e-6, 75e-6, 100e-6, 150e-6, 200e-6, 300e-6, 400e-6, 500e-6, 750e-6, 1e-3, 1.5e-3,
          2e-3,  3e-3,  4e-3,  5e-3,   7.5e-3, 10e-3,  25e-3,  50e-3,  0.1,    0.25,   1.0};
}

Router::Router(net::io_context& io, const EnvConfig& env, std::shared_ptr<const Workload> workload,
               std::unique_ptr<RoutingPolicy> policy, std::unique_ptr<ServePredictor> predictor,
               const std::vector<BackendSpec>& backends, const RouterOptions& options)
    : io_(io),
      live_env_(env, workload),
      policy_(std::move(policy)),
      policy_name_(policy_->name()),
      predictor_(std::move(predictor)),
      options_(options),
      origin_(std::chrono::steady_clock::now()),
      added_bounds_(AddedLatencyBuckets()),
      added_counts_(added_bounds_.size() + 1, 0) {
  for (const ExpertConfig& e : env.experts) {
    const auto it = std::find_if(backends.begin(), backends.end(),
                                 [&](const BackendSpec& b) { return b.name == e.name; });
    if (it == backends.end())
      throw UserError("--backend: no backend for expert '" + e.name +
                      "' of the config (give --backend " + e.name + "=http://host:port)");
    auto b = std::make_unique<Backend>();
    b->spec = *it;
    b->pool = std::make_unique<ConnectionPool>(io, ParseHttpUrl(it->url, "--backend " + e.name));
    b->timer = std::make_unique<net::steady_timer>(io);
    b->time_model = e.MakeTimeModel();
    backends_.push_back(std::move(b));
  }
  for (const BackendSpec& b : backends) {
    if (std::none_of(env.experts.begin(), env.experts.end(),
                     [&](const ExpertConfig& e) { return e.name == b.name; }))
      throw UserError("--backend " + b.name + ": the config has no expert of that name");
  }
  policy_->Reset(options.policy_seed);
}

Router::~Router() = default;

double Router::Now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - origin_).count();
}

void Router::Start() {
  running_ = true;
  for (size_t b = 0; b < backends_.size(); ++b) HealthCheck(b);
}

void Router::Stop() {
  running_ = false;
  for (auto& b : backends_) {
    b->timer->cancel();
    if (b->scrape) b->scrape->Cancel();
  }
}

void Router::Count(const std::string& expert, const std::string& outcome) {
  ++requests_[{expert, outcome}];
}

void Router::Handle(std::shared_ptr<Exchange> ex) {
  const double received = Now();
  const HttpRequest& req = ex->request();
  const std::string target(req.target().substr(0, req.target().find('?')));
  if (target == "/health") return HandleHealth(ex);
  if (target == "/metrics") return HandleMetrics(ex);
  if (!options_.api_key.empty() && !BearerMatches(req, options_.api_key)) {
    Count("none", "unauthorized");
    return ex->SendError(http::status::unauthorized, "missing or wrong API key", "WWW-Authenticate",
                         "Bearer");
  }
  if (target == "/v1/models") return HandleModels(ex);
  const bool chat = target == "/v1/chat/completions";
  if (chat || target == "/v1/completions") {
    if (req.method() != http::verb::post) {
      Count("none", "bad_request");
      return ex->SendError(http::status::method_not_allowed, target + " takes POST");
    }
    return HandleCompletion(ex, chat, received);
  }
  ex->SendError(http::status::not_found, "no route " + target);
}

void Router::HandleCompletion(std::shared_ptr<Exchange> ex, bool chat, double received) {
  Pending p;
  try {
    p.request = ParseCompletionRequest(ex->request().body(), chat);
  } catch (const UserError& e) {
    Count("none", "bad_request");
    return ex->SendError(http::status::bad_request, e.what());
  }
  p.exchange = std::move(ex);
  p.prompt_tokens = p.request.prompt_tokens.value_or(ApproximateTokens(p.request.prompt_text));
  p.received = received;
  pending_.push_back(std::move(p));
  // Decide after every request already read in this turn of the event loop has joined, so
  // that a learned policy decides coinciding arrivals in one forward pass.
  if (pending_.size() == 1) net::post(io_, [this] { DecideBatch(); });
}

void Router::DecideBatch() {
  std::vector<Pending> batch;
  batch.swap(pending_);
  ++batches_;
  decisions_ += static_cast<long>(batch.size());
  if (batch.size() > 1 && policy_->DecidesFromObservations()) {
    // One forward pass: each request is decided on the state before any of the batch was
    // routed (they arrived together; the batch is at most what one loop turn read).
    std::vector<Observation> observations(batch.size());
    std::vector<std::vector<uint8_t>> available(batch.size());
    std::vector<const Observation*> pointers;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (Observe(&batch[i], &available[i])) observations[i] = live_env_.observation();
      pointers.push_back(&observations[i]);
    }
    // The batch shares one state: either every request found a healthy backend or none did.
    const std::vector<int> actions = batch.front().healthy ? policy_->ActOnObservations(pointers)
                                                           : std::vector<int>(batch.size(), -1);
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].action = batch[i].healthy ? Fallback(actions[i], available[i]) : -1;
      Dispatch(std::move(batch[i]));
    }
    return;
  }
  // One at a time, each on the state that includes the ones routed before it.
  for (Pending& p : batch) {
    std::vector<uint8_t> available;
    p.action = Observe(&p, &available) ? Fallback(policy_->Act(live_env_), available) : -1;
    Dispatch(std::move(p));
  }
}

void Router::Dispatch(Pending p) {
  if (p.action < 0) {
    Count("none", "unavailable");
    return p.exchange->SendError(http::status::service_unavailable, "no backend is healthy",
                                 "Retry-After", "1");
  }
  if (p.action == static_cast<int>(backends_.size())) {
    Count("none", "dropped");
    return p.exchange->SendError(
        http::status::service_unavailable,
        "the router dropped this request to keep the others within their SLA", "Retry-After", "1");
  }
  Forward(p.exchange, std::move(p.request), p.action, p.view, p.received);
}

bool Router::Observe(Pending* p, std::vector<uint8_t>* available) {
  const size_t n = backends_.size();
  const double now = Now();
  ArrivedRequestView& view = p->view;
  view.id = static_cast<int>(next_id_);
  view.arrival = p->received;
  view.prompt_tokens = p->prompt_tokens;
  predictor_->Predict(p->prompt_tokens, &view.pred_score, &view.pred_output_tokens);
  for (size_t e = 0; e < n; ++e) {
    const std::string& name = backends_[e]->spec.name;
    if (const auto it = p->request.pred_score.find(name); it != p->request.pred_score.end())
      view.pred_score[e] = static_cast<float>(it->second);
    if (const auto it = p->request.pred_output_tokens.find(name);
        it != p->request.pred_output_tokens.end())
      view.pred_output_tokens[e] = it->second;
  }
  // The queues as the router sees them. A streamed request shows its progress: it runs once
  // its first token has come; before that it is in its prefill (running) when it reached the
  // backend before the backend's last iteration boundary (the last token seen from it: vLLM
  // admits waiting requests at boundaries), and waiting otherwise. That is the simulator's
  // state at a decision, where the iteration in progress has already been applied. A
  // whole-answer request shows no progress: the oldest of them fill the running slots the
  // backend last reported beyond the streamed ones (the report is stale by up to one scrape
  // period), and the rest wait. docs/SERVING.md has the measurements behind these rules.
  std::vector<ClusterEnv::LiveExpert> live(n);
  std::vector<long> blind_running(n, 0);
  for (size_t e = 0; e < n; ++e)
    if (backends_[e]->load.running) blind_running[e] = std::lround(*backends_[e]->load.running);
  auto streamed_running = [&](const Call& c) {
    return c.state.generated > 0 ||
           (c.written >= 0 && c.written < backends_[c.expert]->last_token_at);
  };
  for (const auto& [id, call] : calls_)
    if (call->stream && streamed_running(*call)) --blind_running[call->expert];
  // The simulator decides with the iteration in progress already applied: every running
  // request one token further and the engine busy until that iteration ends. The router sees
  // the state at the iteration's start (the last token); it applies the iteration the same
  // way, with the end estimated from the expert's time model.
  std::vector<long> context(n, 0);
  for (const auto& [id, call] : calls_) {
    ClusterEnv::LiveExpert& le = live[call->expert];
    const bool running = call->stream ? streamed_running(*call) : blind_running[call->expert]-- > 0;
    if (!running) {
      le.waiting.push_back(call->state);
      continue;
    }
    le.running.push_back(call->state);
    if (call->stream) ++le.running.back().generated;
    context[call->expert] += le.running.back().context_tokens();
  }
  for (size_t e = 0; e < n; ++e) {
    const Backend& b = *backends_[e];
    if (b.last_token_at < 0 || live[e].running.empty()) continue;
    live[e].busy_until =
        b.last_token_at +
        b.time_model->DecodeSeconds(context[e], static_cast<int>(live[e].running.size()));
  }
  available->assign(n, 0);
  p->healthy = false;
  for (size_t e = 0; e < n; ++e) {
    const Backend& b = *backends_[e];
    (*available)[e] = b.healthy ? 1 : 0;
    p->healthy = p->healthy || b.healthy;
    live[e].other_blocks = b.other_blocks;
  }
  if (!p->healthy) return false;
  live_env_.ObserveLive(now, view, live, *available);
  return true;
}

int Router::Fallback(int action, const std::vector<uint8_t>& available) const {
  const int n = static_cast<int>(backends_.size());
  if (action < 0 || action >= n || available[action]) return action;
  // Heuristics do not read the action mask: send to the healthy backend with the fewest
  // requests in flight instead.
  std::vector<long> load(n, 0);
  for (const auto& [id, call] : calls_) ++load[call->expert];
  int best = -1;
  for (int e = 0; e < n; ++e)
    if (available[e] && (best < 0 || load[e] < load[best])) best = e;
  return best;
}

void Router::Forward(std::shared_ptr<Exchange> ex, CompletionRequest request, int expert,
                     const ArrivedRequestView& view, double received) {
  Backend& b = *backends_[expert];
  auto call = std::make_unique<Call>();
  const long id = next_id_++;
  call->expert = static_cast<size_t>(expert);
  call->exchange = ex;
  call->received = received;
  call->stream = request.stream;
  call->state.id = static_cast<int>(id);
  call->state.arrival = received;
  call->state.prompt_tokens = view.prompt_tokens;
  call->state.pred_score = view.pred_score[expert];
  call->state.pred_output_tokens = view.pred_output_tokens[expert];
  call->state.output_tokens = view.pred_output_tokens[expert];
  call->state.score = view.pred_score[expert];

  HttpRequest out{http::verb::post, b.pool->url().prefix + std::string(ex->request().target()), 11};
  out.set(http::field::content_type, "application/json");
  if (const auto it = ex->request().find(kTruthHeader); it != ex->request().end())
    out.set(kTruthHeader, it->value());
  if (!b.spec.api_key.empty()) out.set(http::field::authorization, "Bearer " + b.spec.api_key);
  out.body() = request.forward_body.dump();

  Call* raw = call.get();
  calls_.emplace(id, std::move(call));
  raw->http =
      HttpCall::Start(*b.pool, std::move(out), CallHandlers(id, b.spec.name), options_.call);
}

// What happens to a forwarded request's answer: relayed to its client as it arrives (a stream
// piece by piece, its tokens counted for the live state) or whole; a backend failure becomes
// 502 (or an error event when the stream has started).
HttpCallHandlers Router::CallHandlers(long id, const std::string& name) {
  HttpCallHandlers h;
  h.on_written = [this, id] {
    if (auto it = calls_.find(id); it != calls_.end()) it->second->written = Now();
  };
  h.on_header = [this, id, name](const http::response_header<>& header, bool chunked) {
    auto it = calls_.find(id);
    if (it == calls_.end()) return;
    Call& c = *it->second;
    c.status = header.result_int();
    const auto ct = header.find(http::field::content_type);
    c.content_type = ct == header.end() ? "application/json" : std::string(ct->value());
    if (chunked && header.result() == http::status::ok) {
      c.exchange->StartStream(http::status::ok, c.content_type, {{kExpertHeader, name}});
      c.streamed = true;
    }
  };
  h.on_chunk = [this, id](std::string_view piece) {
    auto it = calls_.find(id);
    if (it == calls_.end()) return;
    Call& c = *it->second;
    // Tokens so far: server-sent events with data other than [DONE]. An event marker split
    // between two pieces is counted once, with the piece that completes it.
    const std::string text = c.carry + std::string(piece);
    for (size_t pos = text.find("data: "); pos != std::string::npos;
         pos = text.find("data: ", pos + 1)) {
      if (pos + 6 > c.carry.size() && text.compare(pos + 6, 6, "[DONE]") != 0) ++c.state.generated;
    }
    c.carry = text.substr(text.size() - std::min<size_t>(text.size(), 5));
    backends_[c.expert]->last_token_at = Now();
    if (c.streamed) c.exchange->Write(std::string(piece));
  };
  h.on_done = [this, id, name](beast::error_code ec, std::string body) {
    auto it = calls_.find(id);
    if (it == calls_.end()) return;
    Call& c = *it->second;
    if (ec) {
      const std::string why = "backend " + name + " failed: " +
                              (c.cancelled_because.empty() ? ec.message() : c.cancelled_because);
      if (c.streamed) {
        // The status line has gone out already: end the stream with an error event.
        c.exchange->Write(
            "data: " + nlohmann::json{{"error", {{"message", why}, {"code", 502}}}}.dump() +
            "\n\n");
        c.exchange->End();
      } else if (!c.exchange->answered()) {
        c.exchange->SendError(http::status::bad_gateway, why);
      }
      if (ec == net::error::connection_refused) MarkDown(c.expert, ec.message());
      return EndCall(id, "failed");
    }
    if (c.streamed) {
      c.exchange->End();
    } else {
      HttpResponse res{static_cast<http::status>(c.status), 11};
      res.set(http::field::content_type, c.content_type);
      res.set(kExpertHeader, name);
      res.body() = std::move(body);
      c.exchange->Send(std::move(res));
    }
    RecordAddedLatency(c);
    EndCall(id, c.status >= 200 && c.status < 300 ? "ok" : "backend_error");
  };
  return h;
}

void Router::EndCall(long id, const std::string& outcome) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  Count(backends_[it->second->expert]->spec.name, outcome);
  calls_.erase(it);
}

void Router::RecordAddedLatency(const Call& c) {
  if (c.written < 0) return;
  // The router's own time: parsing, deciding and handing the request to the backend. The
  // answer is relayed as it arrives (a memcpy per piece), not counted.
  const double added = c.written - c.received;
  const size_t k =
      std::lower_bound(added_bounds_.begin(), added_bounds_.end(), added) - added_bounds_.begin();
  ++added_counts_[k];
  added_sum_ += added;
}

void Router::HealthCheck(size_t index) {
  if (!running_) return;
  Backend& b = *backends_[index];
  HttpRequest req{http::verb::get, b.pool->url().prefix + "/metrics", 11};
  if (!b.spec.api_key.empty()) req.set(http::field::authorization, "Bearer " + b.spec.api_key);
  HttpCallHandlers h;
  auto status = std::make_shared<unsigned>(0);
  h.on_header = [status](const http::response_header<>& header, bool) {
    *status = header.result_int();
  };
  h.on_done = [this, index, status](beast::error_code ec, std::string body) {
    Backend& b = *backends_[index];
    b.scrape.reset();
    if (!running_) return;
    if (ec || *status >= 500) {
      MarkDown(index, ec ? ec.message() : "status " + std::to_string(*status));
    } else {
      if (!b.healthy) spdlog::info("backend {} is healthy again", b.spec.name);
      b.healthy = true;
      b.load = *status == 200 ? ReadVllmLoad(ParsePrometheusText(body)) : VllmLoad();
      b.other_blocks = 0;
      if (b.load.kv_usage) {
        const ExpertConfig& ec = live_env_.config().experts[index];
        long own = 0;  // blocks of this router's requests there, as if all were admitted
        for (const auto& [id, call] : calls_)
          if (call->expert == index && call->written >= 0)
            own += (call->state.context_tokens() + ec.block_size - 1) / ec.block_size;
        const long reported = std::lround(*b.load.kv_usage * ec.NumBlocks());
        b.other_blocks = static_cast<int>(std::max(0L, reported - own));
      }
    }
    b.timer->expires_after(options_.health_interval);
    b.timer->async_wait([this, index](beast::error_code e) {
      if (!e) HealthCheck(index);
    });
  };
  HttpCallOptions o;
  o.connect_timeout = options_.health_timeout;
  o.read_timeout = options_.health_timeout;
  b.scrape = HttpCall::Start(*b.pool, std::move(req), std::move(h), o);
}

void Router::MarkDown(size_t index, const std::string& why) {
  Backend& b = *backends_[index];
  b.load = VllmLoad();
  b.other_blocks = 0;
  if (!b.healthy) return;
  b.healthy = false;
  spdlog::warn("backend {} is down ({}): no new requests until it answers again", b.spec.name, why);
  b.pool->Clear();
  // Its requests in flight will not be answered: end them now with 502 instead of waiting for
  // their read deadline.
  std::vector<std::shared_ptr<HttpCall>> doomed;
  for (const auto& [id, call] : calls_) {
    if (call->expert != index || !call->http) continue;
    call->cancelled_because = "it went down (" + why + ")";
    doomed.push_back(call->http);
  }
  for (const auto& http_call : doomed) http_call->Cancel();
}

void Router::HandleHealth(std::shared_ptr<Exchange> ex) {
  nlohmann::json backends = nlohmann::json::object();
  bool any = false;
  for (const auto& b : backends_) {
    backends[b->spec.name] = b->healthy ? "up" : "down";
    any = any || b->healthy;
  }
  HttpResponse res{any ? http::status::ok : http::status::service_unavailable,
                   ex->request().version()};
  res.set(http::field::content_type, "application/json");
  res.body() = nlohmann::json{
      {"status", any ? "ok" : "no healthy backend"},
      {"policy", policy_name_},
      {"backends",
       backends}}.dump();
  ex->Send(std::move(res));
}

void Router::HandleModels(std::shared_ptr<Exchange> ex) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& b : backends_)
    data.push_back({{"id", b->spec.name}, {"object", "model"}, {"owned_by", "qosroute"}});
  HttpResponse res{http::status::ok, ex->request().version()};
  res.set(http::field::content_type, "application/json");
  res.body() = nlohmann::json{{"object", "list"}, {"data", data}}.dump();
  ex->Send(std::move(res));
}

void Router::HandleMetrics(std::shared_ptr<Exchange> ex) {
  PrometheusWriter w;
  for (const auto& [key, value] : requests_)
    w.Counter("qosroute_requests_total", "Requests answered, by expert and outcome.",
              {{"expert", key.first}, {"outcome", key.second}}, static_cast<double>(value));
  w.Counter("qosroute_decisions_total", "Routing decisions taken (rate() gives decisions/s).",
            {{"policy", policy_name_}}, static_cast<double>(decisions_));
  w.Counter("qosroute_decision_batches_total",
            "Decision rounds (requests that arrived together are decided in one).",
            {{"policy", policy_name_}}, static_cast<double>(batches_));
  const double uptime = Now();
  w.Gauge("qosroute_decisions_per_second", "Routing decisions per second since start.",
          {{"policy", policy_name_}}, uptime > 0 ? decisions_ / uptime : 0.0);
  std::vector<long> in_flight(backends_.size(), 0);
  for (const auto& [id, call] : calls_) ++in_flight[call->expert];
  for (size_t e = 0; e < backends_.size(); ++e) {
    const Backend& b = *backends_[e];
    const std::vector<std::pair<std::string, std::string>> label = {{"expert", b.spec.name}};
    w.Gauge("qosroute_in_flight", "Requests the router has sent and not yet answered.", label,
            static_cast<double>(in_flight[e]));
    w.Gauge("qosroute_backend_up", "1 when the backend's last health check succeeded.", label,
            b.healthy ? 1.0 : 0.0);
    if (b.load.running)
      w.Gauge("qosroute_backend_running", "The backend's vllm:num_requests_running.", label,
              *b.load.running);
    if (b.load.waiting)
      w.Gauge("qosroute_backend_waiting", "The backend's vllm:num_requests_waiting.", label,
              *b.load.waiting);
    if (b.load.kv_usage)
      w.Gauge("qosroute_backend_kv_usage", "The backend's KV-cache usage (0 to 1).", label,
              *b.load.kv_usage);
  }
  w.Histogram("qosroute_added_latency_seconds",
              "Router time per request: parse, decide, hand over to the backend.", {},
              added_bounds_, added_counts_, added_sum_);
  HttpResponse res{http::status::ok, ex->request().version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.body() = w.text();
  ex->Send(std::move(res));
}

}  // namespace qosroute
