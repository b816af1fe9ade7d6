// End to end over loopback HTTP: three fake backends (the edge-4090 experts in real time), the
// router and the load generator as real processes, every wait bounded.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "serve/http_client.h"
#include "serve/prometheus_text.h"

extern char** environ;

namespace qosroute {
namespace {

const std::string kBinary = QOSROUTE_BINARY;
const std::string kConfig = std::string(QOSROUTE_SOURCE_DIR) + "/configs/edge-4090.cfg";
const std::vector<std::string> kExperts = {"alpaca-native", "chatglm-6b", "mpt-7b-instruct"};

class Process {
 public:
  Process(const std::vector<std::string>& args, const std::string& log) {
    std::vector<std::string> argv = {kBinary};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> c;
    for (auto& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    EXPECT_EQ(posix_spawn(&pid_, kBinary.c_str(), &fa, nullptr, c.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGCONT);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void Signal(int sig) { kill(pid_, sig); }
  // The exit code, or -1 when it has not exited within the timeout.
  int Wait(double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

unsigned short WaitForPort(const std::string& ready_file, double timeout_s = 20) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    std::ifstream in(ready_file);
    int port = 0;
    if (in >> port && port > 0) return static_cast<unsigned short>(port);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "no port in " << ready_file;
  return 0;
}

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;  // whole body, or the concatenated chunks of a stream
  bool chunked = false;
  std::string error;
};

Reply Fetch(unsigned short port, http::verb verb, const std::string& target,
            const std::string& body = "",
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            double timeout_s = 15) {
  net::io_context io;
  ConnectionPool pool(io, HttpUrl{"127.0.0.1", port, ""});
  HttpRequest req{verb, target, 11};
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  Reply reply;
  HttpCallHandlers h;
  h.on_header = [&](const http::response_header<>& header, bool chunked) {
    reply.status = static_cast<int>(header.result_int());
    reply.chunked = chunked;
    for (const auto& f : header)
      reply.headers[std::string(f.name_string())] = std::string(f.value());
  };
  h.on_chunk = [&](std::string_view piece) { reply.body.append(piece); };
  h.on_done = [&](beast::error_code ec, std::string whole) {
    if (ec) reply.error = ec.message();
    if (!reply.chunked) reply.body = whole;
  };
  HttpCallOptions o;
  o.read_timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  HttpCall::Start(pool, std::move(req), std::move(h), o);
  io.run_for(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(timeout_s + 1)));
  return reply;
}

// The token texts of an event stream, in order, and whether it ended with [DONE].
std::vector<std::string> StreamTexts(const std::string& stream, bool* done, std::string* error) {
  std::vector<std::string> texts;
  *done = false;
  std::istringstream in(stream);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("data: ", 0) != 0) continue;
    const std::string data = line.substr(6);
    if (data == "[DONE]") {
      *done = true;
      continue;
    }
    const auto j = nlohmann::json::parse(data, nullptr, false);
    if (j.is_discarded()) continue;
    if (j.contains("error")) *error = j["error"].dump();
    if (!j.contains("choices")) continue;
    const auto& c = j["choices"][0];
    std::string t = c.contains("text") ? c["text"].get<std::string>()
                                       : c["delta"].value("content", std::string());
    if (!t.empty()) texts.push_back(t);
  }
  return texts;
}

// A body that greedy-qos sends to `expert` (its predicted score far above the others').
std::string BodyFor(const std::string& expert, int max_tokens, bool stream, double score = 0.95) {
  nlohmann::json pred = nlohmann::json::object();
  for (const auto& e : kExperts) pred[e] = e == expert ? score : 0.05;
  return nlohmann::json{{"prompt", "tell me a story"},
                        {"max_tokens", max_tokens},
                        {"stream", stream},
                        {"qosroute", {{"pred_score", pred}}}}
      .dump();
}

class ServeE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/qosroute_serve_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    router_.reset();
    backends_.clear();
    if (!HasFailure())
      std::system(("rm -rf " + dir_).c_str());
    else
      std::fprintf(stderr, "logs kept in %s\n", dir_.c_str());
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  void WriteFile(const std::string& name, const std::string& text) {
    std::ofstream(Path(name)) << text;
  }

  void StartBackends(const std::vector<std::string>& extra = {}) {
    for (const auto& e : kExperts) {
      std::vector<std::string> args = {
          "fake-backend", "--config", kConfig,        "--expert",       e,
          "--port",       "0",        "--ready-file", Path(e + ".port")};
      args.insert(args.end(), extra.begin(), extra.end());
      backends_[e] = std::make_unique<Process>(args, Path(e + ".log"));
    }
    for (const auto& e : kExperts) backend_ports_[e] = WaitForPort(Path(e + ".port"));
  }
  void StartRouter(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"serve",
                                     "--config",
                                     kConfig,
                                     "--port",
                                     "0",
                                     "--ready-file",
                                     Path("router.port"),
                                     "--health-interval-ms",
                                     "100"};
    for (const auto& e : kExperts)
      args.insert(args.end(),
                  {"--backend", e + "=http://127.0.0.1:" + std::to_string(backend_ports_[e])});
    args.insert(args.end(), extra.begin(), extra.end());
    router_ = std::make_unique<Process>(args, Path("router.log"));
    router_port_ = WaitForPort(Path("router.port"));
  }
  Reply Complete(const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Fetch(router_port_, http::verb::post, "/v1/completions", body, headers);
  }
  std::string Health() { return Fetch(router_port_, http::verb::get, "/health").body; }

  std::string dir_;
  std::map<std::string, std::unique_ptr<Process>> backends_;
  std::map<std::string, unsigned short> backend_ports_;
  std::unique_ptr<Process> router_;
  unsigned short router_port_ = 0;
};

TEST_F(ServeE2eTest, BadFlagsExitTwoNamingWhatIsWrong) {
  WriteFile("empty.key", "\n");
  const std::string b = "http://127.0.0.1:1";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"serve", "--config", kConfig}, "--backend"},
      {{"serve", "--config", kConfig, "--backend", "alpaca-native"}, "is not NAME=VALUE"},
      {{"serve", "--config", kConfig, "--backend", "alpaca-native=" + b}, "no backend for expert"},
      {{"serve", "--config", kConfig, "--backend", "alpaca-native=" + b, "--backend",
        "chatglm-6b=" + b, "--backend", "mpt-7b-instruct=" + b, "--backend", "gpt-5=" + b},
       "no expert of that name"},
      {{"serve", "--config", kConfig, "--backend", "alpaca-native=https://x:1", "--backend",
        "chatglm-6b=" + b, "--backend", "mpt-7b-instruct=" + b},
       "https is not supported"},
      {{"serve", "--config", kConfig, "--backend", "alpaca-native=" + b, "--backend",
        "chatglm-6b=" + b, "--backend", "mpt-7b-instruct=" + b, "--api-key-file",
        Path("empty.key")},
       "is empty"},
      {{"serve", "--config", kConfig, "--backend", "alpaca-native=" + b, "--backend",
        "chatglm-6b=" + b, "--backend", "mpt-7b-instruct=" + b, "--policy", "oracle"},
       "oracle"},
      {{"serve", "--config", kConfig, "--backend", "alpaca-native=" + b, "--backend",
        "chatglm-6b=" + b, "--backend", "mpt-7b-instruct=" + b, "--policy", "hindsight"},
       "not a router"},
      {{"serve", "--config", kConfig, "--backend", "alpaca-native=" + b, "--backend",
        "chatglm-6b=" + b, "--backend", "mpt-7b-instruct=" + b, "--decision-budget-ms", "5"},
       "--decision-budget-ms applies to --policy rollout only"},
      {{"fake-backend", "--config", kConfig, "--expert", "gpt-5"}, "no expert of that name"},
      {{"fake-backend", "--config", kConfig}, "--expert NAME is required"},
      {{"loadgen", "--config", kConfig, "--rate", "5", "--requests", "3"}, "--url is required"},
      {{"loadgen", "--url", b, "--config", kConfig, "--rate", "0", "--requests", "3"},
       "--rate must be > 0"}};
  int k = 0;
  for (const auto& [args, expected] : cases) {
    const std::string log = Path("bad" + std::to_string(k++) + ".log");
    Process p(args, log);
    EXPECT_EQ(p.Wait(20), 2) << args[0] << " " << expected;
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find(expected), std::string::npos) << text;
  }
}

TEST_F(ServeE2eTest, LoadgenGetsEveryRequestAnsweredAnd503sOnlyFromDrops) {
  StartBackends();
  StartRouter();
  Process loadgen(
      {"loadgen", "--url", "http://127.0.0.1:" + std::to_string(router_port_), "--config", kConfig,
       "--rate", "60", "--requests", "240", "--out", Path("requests.csv")},
      Path("loadgen.log"));
  ASSERT_EQ(loadgen.Wait(90), 0) << "see " << Path("loadgen.log");
  std::ifstream csv(Path("requests.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line,
            "request_id,expert,status,prompt_tokens,output_tokens,ttft_s,latency_per_token_s,score,"
            "sent_at_s,done_at_s");
  int rows = 0, ok = 0, unavailable = 0;
  while (std::getline(csv, line)) {
    ++rows;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    ASSERT_GE(f.size(), 10u) << line;
    const int status = std::stoi(f[2]);
    EXPECT_TRUE(status == 200 || status == 503) << line;
    if (status == 200) {
      ++ok;
      EXPECT_GT(std::stoi(f[4]), 0) << line;
      EXPECT_NE(f[1], "") << line;
      EXPECT_GE(std::stod(f[9]), std::stod(f[8])) << line;
    } else {
      ++unavailable;
    }
  }
  EXPECT_EQ(rows, 240);
  EXPECT_GT(ok, 200);
  // Every 503 the client saw is a drop the router counted.
  const std::string metrics = Fetch(router_port_, http::verb::get, "/metrics").body;
  const std::string dropped = "qosroute_requests_total{expert=\"none\",outcome=\"dropped\"} ";
  const size_t at = metrics.find(dropped);
  const int counted = at == std::string::npos ? 0 : std::stoi(metrics.substr(at + dropped.size()));
  EXPECT_EQ(counted, unavailable);
  EXPECT_EQ(metrics.find("outcome=\"failed\""), std::string::npos) << metrics;
}

TEST_F(ServeE2eTest, StreamsDeliverEveryTokenInOrderForCompletionsAndChat) {
  StartBackends();
  StartRouter();
  Reply r = Complete(BodyFor("chatglm-6b", 40, true));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.chunked);
  EXPECT_EQ(r.headers["X-Qosroute-Expert"], "chatglm-6b");
  bool done = false;
  std::string error;
  const auto texts = StreamTexts(r.body, &done, &error);
  ASSERT_EQ(texts.size(), 40u);
  for (int k = 0; k < 40; ++k) EXPECT_EQ(texts[k], " t" + std::to_string(k));
  EXPECT_TRUE(done);
  EXPECT_EQ(error, "");

  nlohmann::json chat = {
      {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 12}, {"stream", true}};
  const Reply c = Fetch(router_port_, http::verb::post, "/v1/chat/completions", chat.dump());
  ASSERT_EQ(c.status, 200) << c.body;
  const auto chat_texts = StreamTexts(c.body, &done, &error);
  ASSERT_EQ(chat_texts.size(), 12u);
  EXPECT_EQ(chat_texts.back(), " t11");

  const Reply whole = Complete(BodyFor("mpt-7b-instruct", 5, false));
  ASSERT_EQ(whole.status, 200);
  const auto j = nlohmann::json::parse(whole.body);
  EXPECT_EQ(j["choices"][0]["text"], " t0 t1 t2 t3 t4");
  EXPECT_EQ(j["usage"]["completion_tokens"], 5);
}

// `serve --policy rollout`: the planner routes live traffic within its per-decision budget
// (the policy's time per decision in /metrics), falling back to greedy-qos when it runs out.
TEST_F(ServeE2eTest, RolloutRoutesWithinItsDecisionBudget) {
  StartBackends();
  const double budget_ms = 4.0;
  StartRouter({"--policy", "rollout", "--decision-budget-ms", std::to_string(budget_ms), "--set",
               "planner.samples=8", "--set", "planner.max_samples=8", "--set",
               "planner.horizon=16"});
  EXPECT_NE(Health().find("\"policy\":\"rollout\""), std::string::npos) << Health();
  Process loadgen(
      {"loadgen", "--url", "http://127.0.0.1:" + std::to_string(router_port_), "--config", kConfig,
       "--rate", "60", "--requests", "180", "--out", Path("requests.csv")},
      Path("loadgen.log"));
  ASSERT_EQ(loadgen.Wait(90), 0) << "see " << Path("loadgen.log");
  std::ifstream csv(Path("requests.csv"));
  std::string line;
  std::getline(csv, line);
  int rows = 0, ok = 0, dropped = 0;
  while (std::getline(csv, line)) {
    ++rows;
    ok += line.find(",200,") != std::string::npos;
    dropped += line.find(",503,") != std::string::npos;
  }
  EXPECT_EQ(rows, 180);
  // Every request answered or dropped by the router's choice (how many depends on how fast
  // the emulated backends run: a sanitized build drops more), none failed.
  EXPECT_EQ(ok + dropped, 180);
  EXPECT_GT(ok, 0);
  const std::string text = Fetch(router_port_, http::verb::get, "/metrics").body;
  double decisions = -1, fallbacks = -1, within = -1, timed = -1, router_drops = 0;
  for (const PrometheusSample& m : ParsePrometheusText(text)) {
    auto label = [&](const std::string& key) {
      for (const auto& [k, v] : m.labels)
        if (k == key) return v;
      return std::string();
    };
    if (m.name == "qosroute_decisions_total") decisions = m.value;
    if (m.name == "qosroute_requests_total" && label("outcome") == "dropped")
      router_drops = m.value;
    if (m.name == "qosroute_decision_budget_fallbacks_total") fallbacks = m.value;
    if (m.name == "qosroute_decision_seconds_count") timed = m.value;
    // The budget is kept to within one simulated step past it; 50 ms leaves room for a slow or
    // sanitized build and still catches a planner that ignores its budget (~12 ms per decision
    // at the defaults, far more under a sanitizer).
    if (m.name == "qosroute_decision_seconds_bucket" && label("le") == "0.05") within = m.value;
  }
  EXPECT_EQ(decisions, 180) << text;
  EXPECT_EQ(router_drops, dropped) << text;
  EXPECT_EQ(timed, 180) << text;
  EXPECT_EQ(within, timed) << "a decision took more than 50 ms with a " << budget_ms
                           << " ms budget:\n"
                           << text;
  EXPECT_GE(fallbacks, 0) << text;
  EXPECT_LE(fallbacks, decisions) << text;
}

TEST_F(ServeE2eTest, DropsAnswer503WithRetryAfter) {
  StartBackends();
  StartRouter();
  // Every expert predicted worthless: greedy-qos's value is below its drop threshold.
  nlohmann::json pred = nlohmann::json::object();
  for (const auto& e : kExperts) pred[e] = 0.01;
  Reply r = Complete(
      nlohmann::json{{"prompt", "x"}, {"max_tokens", 3}, {"qosroute", {{"pred_score", pred}}}}
          .dump());
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.headers["Retry-After"], "1");
}

TEST_F(ServeE2eTest, AKilledBackendAnswers502AndGetsNoLaterRequests) {
  StartBackends();
  StartRouter();
  Reply in_flight;
  std::thread t([&] { in_flight = Complete(BodyFor("alpaca-native", 120, false)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const auto killed_at = std::chrono::steady_clock::now();
  backends_["alpaca-native"]->Signal(SIGKILL);
  t.join();
  EXPECT_EQ(in_flight.status, 502) << in_flight.body;
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, std::chrono::seconds(2));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  for (int i = 0; i < 10; ++i) {
    Reply r = Complete(BodyFor("alpaca-native", 3, false));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.headers["X-Qosroute-Expert"], "alpaca-native");
  }
  EXPECT_NE(Health().find("\"alpaca-native\":\"down\""), std::string::npos) << Health();
}

TEST_F(ServeE2eTest, AHungBackendAnswers502AndComesBackWhenHealthy) {
  StartBackends();
  StartRouter();
  Reply in_flight;
  std::thread t([&] { in_flight = Complete(BodyFor("chatglm-6b", 120, true)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto stopped_at = std::chrono::steady_clock::now();
  backends_["chatglm-6b"]->Signal(SIGSTOP);
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, std::chrono::seconds(3));
  // The stream had started: it ends with the router's error event, never hangs.
  bool done = false;
  std::string error;
  StreamTexts(in_flight.body, &done, &error);
  EXPECT_NE(error.find("502"), std::string::npos) << in_flight.body.substr(0, 300);
  EXPECT_FALSE(done);
  EXPECT_NE(Health().find("\"chatglm-6b\":\"down\""), std::string::npos);
  EXPECT_NE(Complete(BodyFor("chatglm-6b", 2, false)).headers["X-Qosroute-Expert"], "chatglm-6b");
  backends_["chatglm-6b"]->Signal(SIGCONT);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_NE(Health().find("\"chatglm-6b\":\"up\""), std::string::npos) << Health();
  EXPECT_EQ(Complete(BodyFor("chatglm-6b", 2, false)).headers["X-Qosroute-Expert"], "chatglm-6b");
}

TEST_F(ServeE2eTest, MalformedAndOversizeBodiesAreRefusedAndServingGoesOn) {
  StartBackends();
  StartRouter();
  Reply r = Complete("{\"prompt\": ");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not valid JSON"), std::string::npos) << r.body;
  r = Complete(R"({"max_tokens": 3})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("'prompt' is required"), std::string::npos) << r.body;
  r = Complete(std::string(2 << 20, 'a'));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Fetch(router_port_, http::verb::get, "/v1/completions").status, 405);
  EXPECT_EQ(Fetch(router_port_, http::verb::get, "/nowhere").status, 404);
  EXPECT_EQ(Complete(BodyFor("alpaca-native", 3, false)).status, 200);
}

TEST_F(ServeE2eTest, AStalledOrVanishedClientDoesNotBlockOthers) {
  StartBackends();
  StartRouter();
  net::io_context io;
  const tcp::endpoint router{net::ip::make_address("127.0.0.1"), router_port_};
  // A client that sends half a request and then nothing.
  tcp::socket stalled(io);
  stalled.connect(router);
  net::write(stalled, net::buffer(std::string("POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
                                              "Content-Length: 1000\r\n\r\n{\"prompt\"")));
  // A client that asks for a long stream, reads its first bytes and goes away.
  tcp::socket vanished(io);
  vanished.connect(router);
  const std::string body = BodyFor("alpaca-native", 120, true);
  net::write(vanished, net::buffer("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                   "application/json\r\nContent-Length: " +
                                   std::to_string(body.size()) + "\r\n\r\n" + body));
  char first[64];
  vanished.read_some(net::buffer(first));
  vanished.close();
  // Everyone else is served as usual, promptly.
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const Reply r = Complete(BodyFor("alpaca-native", 3, false));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  }
  const Reply streamed = Complete(BodyFor("alpaca-native", 30, true));
  bool done = false;
  std::string error;
  EXPECT_EQ(StreamTexts(streamed.body, &done, &error).size(), 30u);
  EXPECT_TRUE(done);
}

TEST_F(ServeE2eTest, ApiKeysAreRequiredAndForwardedButNeverEchoed) {
  WriteFile("client.key", "client-secret-123\n");
  WriteFile("backend.key", "backend-secret-456\n");
  StartBackends({"--api-key-file", Path("backend.key")});
  std::vector<std::string> extra = {"--api-key-file", Path("client.key")};
  for (const auto& e : kExperts)
    extra.insert(extra.end(), {"--backend-key-file", e + "=" + Path("backend.key")});
  StartRouter(extra);
  const std::string body = BodyFor("alpaca-native", 3, false);
  Reply r = Complete(body);
  EXPECT_EQ(r.status, 401);
  r = Complete(body, {{"Authorization", "Bearer client-secret-12"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body.find("client-secret"), std::string::npos);
  r = Complete(body, {{"Authorization", "Bearer client-secret-123"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Fetch(router_port_, http::verb::get, "/health").status, 200);
  EXPECT_EQ(Fetch(router_port_, http::verb::get, "/metrics").status, 200);
  EXPECT_EQ(Fetch(router_port_, http::verb::get, "/v1/models").status, 401);
  // The backends want their own key: the router's client key does not open them.
  EXPECT_EQ(Fetch(backend_ports_["alpaca-native"], http::verb::post, "/v1/completions", body,
                  {{"Authorization", "Bearer client-secret-123"}})
                .status,
            401);
  std::ifstream log(Path("router.log"));
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("secret"), std::string::npos) << text;
}

TEST_F(ServeE2eTest, SigtermDrainsRequestsInFlightAndExitsZero) {
  StartBackends();
  StartRouter({"--drain-seconds", "20"});
  Reply in_flight;
  std::thread t([&] { in_flight = Complete(BodyFor("mpt-7b-instruct", 100, true)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  router_->Signal(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // No new connections once draining.
  EXPECT_NE(Fetch(router_port_, http::verb::get, "/health", "", {}, 2).status, 200);
  t.join();
  ASSERT_EQ(in_flight.status, 200);
  bool done = false;
  std::string error;
  EXPECT_EQ(StreamTexts(in_flight.body, &done, &error).size(), 100u);
  EXPECT_TRUE(done);
  EXPECT_EQ(router_->Wait(10), 0);
}

}  // namespace
}  // namespace qosroute
