// The live router of `qosroute serve` (see router.h).
#include "serve/router.h"

#include <algorithm>

#include "common/error.h"
#include "env/workload.h"
#include "serve/router_internal.h"

namespace qosroute {

Router::Router(net::io_context& io, const EnvConfig& env, std::shared_ptr<const Workload> workload,
               std::unique_ptr<RoutingPolicy> policy, std::unique_ptr<ServePredictor> predictor,
               const std::vector<BackendSpec>& backends, const RouterOptions& options)
    : io_(io),
      live_env_(env, workload),
      live_(env.experts),
      policy_(std::move(policy)),
      policy_name_(policy_->name()),
      predictor_(std::move(predictor)),
      options_(options),
      origin_(std::chrono::steady_clock::now()),
      added_bounds_(AddedLatencyBuckets()),
      added_counts_(added_bounds_.size() + 1, 0),
      decide_counts_(added_bounds_.size() + 1, 0) {
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
    backends_.push_back(std::move(b));
  }
  for (const BackendSpec& b : backends) {
    if (std::none_of(env.experts.begin(), env.experts.end(),
                     [&](const ExpertConfig& e) { return e.name == b.name; }))
      throw UserError("--backend " + b.name + ": the config has no expert of that name");
  }
  const ObservationSchema* trained = policy_->schema();
  if (trained != nullptr && *trained != live_env_.schema()) {
    std::string groups;
    for (const std::string& d : ObservationSchema::Differences(*trained, live_env_.schema()))
      groups += (groups.empty() ? "" : "; ") + d;
    throw UserError("policy " + policy_name_ +
                    " was trained with other observation feature groups than this router "
                    "builds: " +
                    groups);
  }
  policy_->Reset(options.policy_seed);
  if (options_.decide_off_loop) decider_ = std::make_unique<net::thread_pool>(1);
}

Router::~Router() {
  // A decision in progress finishes first: it uses the policy and posts back to the loop.
  if (decider_) decider_->join();
}

double Router::Now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - origin_).count();
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
    const double start = Now();
    const std::vector<int> actions = batch.front().healthy ? policy_->ActOnObservations(pointers)
                                                           : std::vector<int>(batch.size(), -1);
    RecordDecisionTime(Now() - start);
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].action = batch[i].healthy ? Fallback(actions[i], available[i]) : -1;
      Dispatch(std::move(batch[i]));
    }
    return;
  }
  if (decider_) {
    for (Pending& p : batch) to_decide_.push_back(std::move(p));
    return DecideNextOffLoop();
  }
  // One at a time, each on the state that includes the ones routed before it.
  for (Pending& p : batch) {
    std::vector<uint8_t> available;
    p.action = -1;
    if (Observe(&p, &available)) {
      SetDeadline(p);
      const double start = Now();
      const int action = policy_->Act(live_env_);
      RecordDecisionTime(Now() - start);
      p.action = Fallback(action, available);
    }
    Dispatch(std::move(p));
  }
}

void Router::SetDeadline(const Pending& p) {
  if (options_.decision_budget.count() <= 0) return;
  policy_->SetNextDeadline(origin_ +
                           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(p.received)) +
                           options_.decision_budget);
}

// One decision at a time, each observed when it starts, so that it sees every request routed
// before it (as on the loop); the decider works on a fork of the live env while the loop goes
// on updating the live state.
void Router::DecideNextOffLoop() {
  while (!deciding_ && !to_decide_.empty()) {
    auto job = std::make_shared<Pending>(std::move(to_decide_.front()));
    to_decide_.pop_front();
    auto available = std::make_shared<std::vector<uint8_t>>();
    if (!Observe(job.get(), available.get())) {
      job->action = -1;
      Dispatch(std::move(*job));
      continue;
    }
    SetDeadline(*job);
    deciding_ = true;
    auto env = std::make_shared<const ClusterEnv>(live_env_.Fork());
    net::post(*decider_, [this, env, job, available] {
      const auto start = std::chrono::steady_clock::now();
      const int action = policy_->Act(*env);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      net::post(io_, [this, job, available, action, seconds] {
        RecordDecisionTime(seconds);
        job->action = Fallback(action, *available);
        deciding_ = false;
        Dispatch(std::move(*job));
        DecideNextOffLoop();
      });
    });
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
  // The queues as the router sees them: the rules are LiveState::Queues'.
  std::vector<ClusterEnv::LiveExpert> live;
  p->healthy = live_.Queues(&live, available);
  if (!p->healthy) return false;
  live_env_.ObserveLive(now, view, live, *available);
  return true;
}

int Router::Fallback(int action, const std::vector<uint8_t>& available) const {
  const int n = static_cast<int>(backends_.size());
  if (action < 0 || action >= n || available[action]) return action;
  // Heuristics do not read the action mask: send to the healthy backend with the fewest
  // requests in flight instead.
  return live_.LeastLoaded(available);
}

void Router::Forward(std::shared_ptr<Exchange> ex, CompletionRequest request, int expert,
                     const ArrivedRequestView& view, double received) {
  Backend& b = *backends_[expert];
  auto call = std::make_unique<Call>();
  const long id = next_id_++;
  call->expert = static_cast<size_t>(expert);
  call->exchange = ex;
  call->received = received;
  ActiveRequest state;  // as the observation shows it: predictions, no tokens yet
  state.id = static_cast<int>(id);
  state.arrival = received;
  state.prompt_tokens = view.prompt_tokens;
  state.pred_score = view.pred_score[expert];
  state.pred_output_tokens = view.pred_output_tokens[expert];
  state.output_tokens = view.pred_output_tokens[expert];
  state.score = view.pred_score[expert];

  HttpRequest out{http::verb::post, b.pool->url().prefix + std::string(ex->request().target()), 11};
  out.set(http::field::content_type, "application/json");
  if (const auto it = ex->request().find(kTruthHeader); it != ex->request().end())
    out.set(kTruthHeader, it->value());
  if (!b.spec.api_key.empty()) out.set(http::field::authorization, "Bearer " + b.spec.api_key);
  out.body() = request.forward_body.dump();

  Call* raw = call.get();
  calls_.emplace(id, std::move(call));
  live_.Admit(id, static_cast<size_t>(expert), state, request.stream);
  raw->http =
      HttpCall::Start(*b.pool, std::move(out), CallHandlers(id, b.spec.name), options_.call);
}

// What happens to a forwarded request's answer: relayed to its client as it arrives (a stream
// piece by piece, its tokens counted for the live state) or whole; a backend failure becomes
// 502 (or an error event when the stream has started).
HttpCallHandlers Router::CallHandlers(long id, const std::string& name) {
  HttpCallHandlers h;
  h.on_written = [this, id] { live_.Written(id, Now()); };
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
    // Its tokens counted for the live state before the piece goes on.
    live_.Piece(id, piece, Now());
    if (c.streamed) c.exchange->Write(std::string(piece));
  };
  h.on_done = [this, id, name](beast::error_code ec, std::string body) {
    FinishCall(id, name, ec, std::move(body));
  };
  return h;
}

// The answer is complete (ec empty) or the call failed.
void Router::FinishCall(long id, const std::string& name, beast::error_code ec, std::string body) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  Call& c = *it->second;
  if (ec) {
    const std::string why = "backend " + name + " failed: " +
                            (c.cancelled_because.empty() ? ec.message() : c.cancelled_because);
    if (c.streamed) {
      // The status line has gone out already: end the stream with an error event.
      c.exchange->Write(
          "data: " + nlohmann::json{{"error", {{"message", why}, {"code", 502}}}}.dump() + "\n\n");
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
  RecordAddedLatency(id, c);
  EndCall(id, c.status >= 200 && c.status < 300 ? "ok" : "backend_error");
}

void Router::EndCall(long id, const std::string& outcome) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  Count(backends_[it->second->expert]->spec.name, outcome);
  calls_.erase(it);
  live_.End(id);
}

void Router::RecordAddedLatency(long id, const Call& c) {
  const double written = live_.written(id);
  if (written < 0) return;
  // The router's own time: parsing, deciding and handing the request to the backend. The
  // answer is relayed as it arrives (a memcpy per piece), not counted.
  CountInBuckets(written - c.received, &added_counts_, &added_sum_);
}

void Router::RecordDecisionTime(double seconds) {
  CountInBuckets(seconds, &decide_counts_, &decide_sum_);
}

void Router::CountInBuckets(double seconds, std::vector<uint64_t>* counts, double* sum) const {
  const size_t k =
      std::lower_bound(added_bounds_.begin(), added_bounds_.end(), seconds) - added_bounds_.begin();
  ++(*counts)[k];
  *sum += seconds;
}

}  // namespace qosroute
