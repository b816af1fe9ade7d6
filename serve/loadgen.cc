// The open-loop load generator of `qosroute loadgen` (see loadgen.h).
#include "serve/loadgen.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "serve/http_client.h"
#include "serve/openai_api.h"
#include "serve/prometheus_text.h"

namespace qosroute {
namespace {

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The body and headers of request `index`.
HttpRequest BuildRequest(const EnvConfig& env, const ClusterEnv::EpisodeRequest& r,
                         const LoadgenOptions& o) {
  nlohmann::json pred_score = nlohmann::json::object(), pred_tokens = nlohmann::json::object();
  TruthHeader truth;
  truth.prompt_tokens = r.prompt_tokens;
  int max_tokens = 1;
  for (size_t e = 0; e < env.experts.size(); ++e) {
    const std::string& name = env.experts[e].name;
    pred_score[name] = r.pred_score[e];
    pred_tokens[name] = r.pred_output_tokens[e];
    truth.answers[name] = {r.true_output_tokens[e], r.true_score[e]};
    max_tokens = std::max(max_tokens, r.true_output_tokens[e]);
  }
  nlohmann::json body = {{"model", "qosroute"},
                         {"max_tokens", max_tokens},
                         {"stream", o.stream},
                         {"qosroute",
                          {{"prompt_tokens", r.prompt_tokens},
                           {"pred_score", pred_score},
                           {"pred_output_tokens", pred_tokens}}}};
  const std::string prompt = SyntheticPrompt(r.prompt_tokens);
  if (o.chat) {
    body["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", prompt}}});
  } else {
    body["prompt"] = prompt;
  }
  HttpRequest req{http::verb::post, o.chat ? "/v1/chat/completions" : "/v1/completions", 11};
  req.set(http::field::content_type, "application/json");
  req.set(kTruthHeader, FormatTruthHeader(truth));
  if (!o.api_key.empty()) req.set(http::field::authorization, "Bearer " + o.api_key);
  req.body() = body.dump();
  return req;
}

// Counts generated tokens in server-sent events as they arrive (events may span pieces).
struct EventCounter {
  std::string buffer;
  int tokens = 0;
  std::string error;
  void Feed(std::string_view piece) {
    buffer.append(piece.data(), piece.size());
    size_t end;
    while ((end = buffer.find("\n\n")) != std::string::npos) {
      const std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;
      const std::string data = event.substr(6);
      if (data == "[DONE]") continue;
      const auto j = nlohmann::json::parse(data, nullptr, false);
      if (j.is_discarded()) continue;
      if (j.contains("error")) {
        error = j["error"].dump();
        continue;
      }
      if (!j.contains("choices") || j["choices"].empty()) continue;
      const auto& c = j["choices"][0];
      const bool has_text =
          (c.contains("text") && c["text"].is_string() && !c["text"].get<std::string>().empty()) ||
          (c.contains("delta") && c["delta"].contains("content") &&
           c["delta"]["content"].is_string() && !c["delta"]["content"].get<std::string>().empty());
      if (has_text) ++tokens;
    }
  }
};

int UsageTokens(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("usage")) return 0;
  return j["usage"].value("completion_tokens", 0);
}

}  // namespace

LoadgenResult RunLoadgen(const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
                         const LoadgenOptions& o) {
  EnvConfig env = env_config;
  env.arrivals.rate = o.rate;
  env.arrivals.process = "poisson";
  env.requests_per_episode = o.requests;
  ClusterEnv episode(env, workload);
  episode.Reset(o.seed);
  LoadgenResult result;
  result.records.resize(static_cast<size_t>(o.requests));
  std::vector<ClusterEnv::EpisodeRequest> requests;
  double best_sum = 0.0;
  for (int i = 0; i < o.requests; ++i) {
    requests.push_back(episode.Request(i));
    best_sum +=
        *std::max_element(requests.back().true_score.begin(), requests.back().true_score.end());
  }
  result.upper_bound = best_sum / o.requests;

  net::io_context io;
  ConnectionPool pool(io, ParseHttpUrl(o.url, "--url"), 4096);
  HttpCallOptions call_options;
  call_options.read_timeout = std::chrono::milliseconds(static_cast<long>(o.timeout_s * 1000));
  std::vector<std::shared_ptr<net::steady_timer>> timers;
  const auto start = std::chrono::steady_clock::now();
  const double first = requests.front().arrival;
  for (int i = 0; i < o.requests; ++i) {
    auto timer = std::make_shared<net::steady_timer>(
        io, start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(requests[i].arrival - first)));
    timer->async_wait([&, i](beast::error_code) {
      LoadgenRecord& rec = result.records[i];
      rec.request_id = i;
      rec.prompt_tokens = requests[i].prompt_tokens;
      rec.sent_at_s = UnixNow();
      auto counter = std::make_shared<EventCounter>();
      HttpCallHandlers h;
      h.on_header = [&rec](const http::response_header<>& header, bool) {
        rec.status = static_cast<int>(header.result_int());
        if (const auto it = header.find(kExpertHeader); it != header.end())
          rec.expert = std::string(it->value());
      };
      h.on_chunk = [&rec, counter](std::string_view piece) {
        if (rec.ttft_s < 0) rec.ttft_s = UnixNow() - rec.sent_at_s;
        counter->Feed(piece);
      };
      h.on_done = [&rec, counter, &env, &requests, i](beast::error_code ec, std::string body) {
        rec.done_at_s = UnixNow();
        if (ec) {
          rec.error = ec.message();
          if (rec.status == 200) rec.status = 0;  // cut off mid-answer
          return;
        }
        if (rec.ttft_s < 0) rec.ttft_s = rec.done_at_s - rec.sent_at_s;
        rec.output_tokens = counter->tokens > 0 ? counter->tokens : UsageTokens(body);
        if (!counter->error.empty()) {
          rec.error = counter->error;
          rec.status = 502;  // the stream ended with the router's error event
        }
        if (rec.status != 200) {
          if (rec.error.empty()) rec.error = body.substr(0, 200);
          return;
        }
        for (size_t e = 0; e < env.experts.size(); ++e)
          if (env.experts[e].name == rec.expert) rec.score = requests[i].true_score[e];
        if (rec.output_tokens > 0)
          rec.latency_per_token_s = (rec.done_at_s - rec.sent_at_s) / rec.output_tokens;
      };
      HttpCall::Start(pool, BuildRequest(env, requests[i], o), std::move(h), call_options);
    });
    timers.push_back(std::move(timer));
  }
  io.run();
  return result;
}

EpisodeMetrics LoadgenMetrics(const LoadgenResult& result, double sla) {
  MetricsAccumulator acc;
  double first = 0.0, last = 0.0;
  for (const LoadgenRecord& r : result.records) {
    if (first == 0.0 || r.sent_at_s < first) first = r.sent_at_s;
    last = std::max(last, r.done_at_s);
    if (r.status != 200 || r.output_tokens <= 0) {
      acc.AddDrop();
      continue;
    }
    Completion c;
    c.id = static_cast<int>(r.request_id);
    c.arrival = r.sent_at_s - first;
    c.finish = r.done_at_s - first;
    c.output_tokens = r.output_tokens;
    c.score = static_cast<float>(r.score);
    acc.AddCompletion(c, sla);
  }
  return acc.Finish(static_cast<long>(result.records.size()), result.upper_bound, last - first, {});
}

RouterOverhead ReadRouterOverhead(const std::string& url) {
  net::io_context io;
  ConnectionPool pool(io, ParseHttpUrl(url, "--url"));
  std::string text;
  HttpCallHandlers h;
  h.on_done = [&](beast::error_code ec, std::string body) {
    if (!ec) text = std::move(body);
  };
  HttpCall::Start(pool, HttpRequest{http::verb::get, pool.url().prefix + "/metrics", 11},
                  std::move(h));
  io.run_for(std::chrono::seconds(5));
  std::vector<std::pair<double, double>> cumulative;  // (le, count), +Inf last
  double sum = 0.0, count = 0.0;
  for (const PrometheusSample& s : ParsePrometheusText(text)) {
    if (s.name == "qosroute_added_latency_seconds_sum") sum = s.value;
    if (s.name == "qosroute_added_latency_seconds_count") count = s.value;
    if (s.name != "qosroute_added_latency_seconds_bucket") continue;
    for (const auto& [k, v] : s.labels)
      if (k == "le") cumulative.emplace_back(v == "+Inf" ? INFINITY : std::stod(v), s.value);
  }
  RouterOverhead out;
  if (cumulative.size() < 2 || count <= 0) return out;
  std::sort(cumulative.begin(), cumulative.end());
  std::vector<double> bounds;
  std::vector<uint64_t> counts;
  double previous = 0.0;
  for (const auto& [le, c] : cumulative) {
    if (std::isfinite(le)) bounds.push_back(le);
    counts.push_back(static_cast<uint64_t>(std::llround(c - previous)));
    previous = c;
  }
  out.count = static_cast<long>(count);
  out.p50_s = HistogramQuantile(bounds, counts, 0.5);
  out.p99_s = HistogramQuantile(bounds, counts, 0.99);
  out.mean_s = sum / count;
  return out;
}

void WriteLoadgenCsv(const std::string& path, const std::vector<LoadgenRecord>& records) {
  std::ofstream out(path);
  if (!out) throw UserError("cannot write " + path);
  out << "request_id,expert,status,prompt_tokens,output_tokens,ttft_s,latency_per_token_s,score,"
         "sent_at_s,done_at_s\n";
  char line[512];
  for (const LoadgenRecord& r : records) {
    std::snprintf(line, sizeof(line), "%ld,%s,%d,%d,%d,", r.request_id, r.expert.c_str(), r.status,
                  r.prompt_tokens, r.output_tokens);
    out << line;
    if (r.ttft_s >= 0) out << r.ttft_s;
    out << ",";
    if (r.latency_per_token_s >= 0) out << r.latency_per_token_s;
    std::snprintf(line, sizeof(line), ",%.6f,%.6f,%.6f\n", r.score, r.sent_at_s, r.done_at_s);
    out << line;
  }
  if (!out) throw UserError("cannot write " + path);
}

}  // namespace qosroute
