// The real-time emulated expert of `qosroute fake-backend` (see fake_backend.h).
#include "serve/fake_backend.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "env/workload.h"
#include "serve/openai_api.h"
#include "serve/prometheus_text.h"

namespace qosroute {

std::string TokenText(int index) {
  return " t" + std::to_string(index);
}

std::string CompletionChunk(const std::string& id, const std::string& model, bool chat,
                            const std::string& text, const char* finish_reason) {
  nlohmann::json choice = {{"index", 0}};
  if (chat) {
    choice["delta"] = text.empty() ? nlohmann::json::object() : nlohmann::json{{"content", text}};
  } else {
    choice["text"] = text;
    choice["logprobs"] = nullptr;
  }
  choice["finish_reason"] = finish_reason ? nlohmann::json(finish_reason) : nlohmann::json(nullptr);
  const nlohmann::json chunk = {{"id", id},
                                {"object", chat ? "chat.completion.chunk" : "text_completion"},
                                {"created", std::time(nullptr)},
                                {"model", model},
                                {"choices", nlohmann::json::array({choice})}};
  return "data: " + chunk.dump() + "\n\n";
}

FakeBackend::FakeBackend(net::io_context& io, const ExpertConfig& expert,
                         const FakeBackendOptions& options)
    : options_(options),
      server_(0, expert),
      timer_(io),
      origin_(std::chrono::steady_clock::now()) {}

double FakeBackend::SimNow() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - origin_).count();
}

void FakeBackend::Handle(std::shared_ptr<Exchange> ex) {
  const HttpRequest& req = ex->request();
  const std::string target(req.target().substr(0, req.target().find('?')));
  if (target == "/health") {
    HttpResponse res{http::status::ok, req.version()};
    return ex->Send(std::move(res));
  }
  if (target == "/metrics") return HandleMetrics(ex);
  if (!options_.api_key.empty() && !BearerMatches(req, options_.api_key))
    return ex->SendError(http::status::unauthorized, "missing or wrong API key");
  if (target == "/v1/models") {
    HttpResponse res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.body() = nlohmann::json{{"object", "list"},
                                {"data",
                                 {{{"id", options_.expert_name},
                                   {"object", "model"},
                                   {"owned_by", "qosroute-fake-backend"}}}}}
                     .dump();
    return ex->Send(std::move(res));
  }
  const bool chat = target == "/v1/chat/completions";
  if (chat || target == "/v1/completions") {
    if (req.method() != http::verb::post)
      return ex->SendError(http::status::method_not_allowed, target + " takes POST");
    return HandleCompletion(ex, chat);
  }
  ex->SendError(http::status::not_found, "no route " + target);
}

void FakeBackend::HandleCompletion(std::shared_ptr<Exchange> ex, bool chat) {
  Pending p;
  p.exchange = ex;
  p.chat = chat;
  try {
    const CompletionRequest parsed = ParseCompletionRequest(ex->request().body(), chat);
    p.stream = parsed.stream;
    p.prompt_tokens = ApproximateTokens(parsed.prompt_text);
    p.output_tokens = parsed.max_tokens.value_or(options_.default_output_tokens);
    const auto it = ex->request().find(kTruthHeader);
    if (it != ex->request().end()) {
      const TruthHeader truth = ParseTruthHeader(std::string(it->value()));
      if (truth.prompt_tokens > 0) p.prompt_tokens = truth.prompt_tokens;
      const auto answer = truth.answers.find(options_.expert_name);
      if (answer != truth.answers.end())
        p.output_tokens = std::min(p.output_tokens, answer->second.output_tokens);
      if (answer != truth.answers.end() && !parsed.max_tokens)
        p.output_tokens = answer->second.output_tokens;
    }
  } catch (const UserError& e) {
    return ex->SendError(http::status::bad_request, e.what());
  }
  p.id = "cmpl-" + options_.expert_name + "-" + std::to_string(next_id_);
  ++requests_total_;
  prompt_tokens_total_ += p.prompt_tokens;
  if (options_.instant) {
    p.sent = 0;
    generation_tokens_total_ += p.output_tokens;
    if (p.stream) {
      SendTokens(p, p.output_tokens, true);
    } else {
      p.sent = p.output_tokens;
      AnswerWhole(p);
    }
    return;
  }
  Admit(std::move(p));
}

void FakeBackend::Admit(Pending p) {
  const int id = next_id_++;
  ActiveRequest r;
  r.id = id;
  r.arrival = SimNow();
  r.prompt_tokens = p.prompt_tokens;
  r.output_tokens = p.output_tokens;
  if (!iterating_) {
    // An idle engine's clock jumps to now; a busy one's request waits for the iteration in
    // progress, as in vLLM.
    std::vector<Completion> none;
    server_.AdvanceTo(r.arrival, &none);
  }
  server_.Enqueue(r, r.arrival);
  requests_.emplace(id, std::move(p));
  if (!iterating_) Step();
}

void FakeBackend::Step() {
  std::vector<Completion> completions;
  std::map<int, int> before;
  for (const ActiveRequest& r : server_.running()) before[r.id] = r.generated;
  if (!server_.RunIteration(&completions)) {
    iterating_ = false;
    return;
  }
  iterating_ = true;
  auto releases = std::make_shared<std::vector<Release>>();
  for (const ActiveRequest& r : server_.running()) {
    const auto it = before.find(r.id);
    const int grown = r.generated - (it == before.end() ? 0 : it->second);
    if (grown > 0) releases->push_back({r.id, grown, false, false});
  }
  for (const Completion& c : completions) releases->push_back({c.id, 0, true, c.rejected});
  const auto end = origin_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(server_.clock()));
  timer_.expires_at(end);
  timer_.async_wait([this, releases](beast::error_code ec) {
    if (ec) return;
    Deliver(*releases);
    Step();
  });
}

void FakeBackend::Deliver(const std::vector<Release>& releases) {
  for (const Release& r : releases) {
    auto it = requests_.find(r.request);
    if (it == requests_.end()) continue;
    Pending& p = it->second;
    if (r.rejected) {
      p.exchange->SendError(http::status::bad_request,
                            "the prompt of " + std::to_string(p.prompt_tokens) +
                                " tokens does not fit this server's KV cache");
      requests_.erase(it);
      continue;
    }
    const int count = r.finished ? p.output_tokens - p.sent : r.tokens;
    generation_tokens_total_ += count;
    if (p.stream) {
      SendTokens(p, count, r.finished);
    } else {
      p.sent += count;
      if (r.finished) AnswerWhole(p);
    }
    if (r.finished) requests_.erase(it);
  }
}

void FakeBackend::SendTokens(Pending& p, int count, bool finished) {
  if (!p.exchange->answered()) p.exchange->StartStream(http::status::ok, "text/event-stream", {});
  std::string data;
  for (int k = 0; k < count; ++k)
    data += CompletionChunk(p.id, options_.expert_name, p.chat, TokenText(p.sent++), nullptr);
  if (finished) {
    data += CompletionChunk(p.id, options_.expert_name, p.chat, "", "length");
    data += "data: [DONE]\n\n";
  }
  if (!data.empty()) p.exchange->Write(std::move(data));
  if (finished) p.exchange->End();
}

void FakeBackend::AnswerWhole(Pending& p) {
  std::string text;
  for (int k = 0; k < p.output_tokens; ++k) text += TokenText(k);
  nlohmann::json choice = {{"index", 0}, {"finish_reason", "length"}};
  if (p.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    choice["text"] = text;
    choice["logprobs"] = nullptr;
  }
  const nlohmann::json body = {{"id", p.id},
                               {"object", p.chat ? "chat.completion" : "text_completion"},
                               {"created", std::time(nullptr)},
                               {"model", options_.expert_name},
                               {"choices", nlohmann::json::array({choice})},
                               {"usage",
                                {{"prompt_tokens", p.prompt_tokens},
                                 {"completion_tokens", p.output_tokens},
                                 {"total_tokens", p.prompt_tokens + p.output_tokens}}}};
  HttpResponse res{http::status::ok, p.exchange->request().version()};
  res.set(http::field::content_type, "application/json");
  res.body() = body.dump();
  p.exchange->Send(std::move(res));
}

void FakeBackend::HandleMetrics(std::shared_ptr<Exchange> ex) {
  const std::vector<std::pair<std::string, std::string>> labels = {
      {"model_name", options_.expert_name}, {"engine", "0"}};
  PrometheusWriter w;
  w.Gauge("vllm:num_requests_running", "Number of requests in model execution batches.", labels,
          static_cast<double>(server_.running().size()));
  w.Gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", labels,
          static_cast<double>(server_.waiting().size()));
  w.Gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", labels,
          static_cast<double>(server_.blocks_used()) / server_.num_blocks());
  w.Counter("vllm:num_preemptions_total", "Cumulative number of preemptions.", labels,
            static_cast<double>(server_.preemptions()));
  w.Counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", labels,
            static_cast<double>(prompt_tokens_total_));
  w.Counter("vllm:generation_tokens_total", "Number of generation tokens processed.", labels,
            static_cast<double>(generation_tokens_total_));
  w.Counter("vllm:request_success_total", "Requests received (emulated).", labels,
            static_cast<double>(requests_total_));
  HttpResponse res{http::status::ok, ex->request().version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.body() = w.text();
  ex->Send(std::move(res));
}

}  // namespace qosroute
