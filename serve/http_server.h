#pragma once
// The asynchronous HTTP/1.1 server under `qosroute serve` and `qosroute fake-backend`
// (Boost.Beast over Asio: one io_context, no thread per connection). Each request becomes an
// Exchange that its handler answers once, either whole (Send) or as a chunked stream of
// server-sent events (StartStream, Write, End). Every read and write has a deadline, so a slow
// or vanished client holds only its own connection.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace qosroute {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  unsigned short port = 0;                 // 0: the system picks one (see HttpServer::port)
  size_t body_limit = 1 << 20;             // larger bodies get 413
  std::chrono::seconds read_timeout{30};   // a request must arrive whole within this
  std::chrono::seconds write_timeout{30};  // each write to a client
  std::chrono::seconds idle_timeout{75};   // keep-alive connections with nothing to say
};

class HttpSession;

// One request and its one response.
class Exchange {
 public:
  explicit Exchange(std::shared_ptr<HttpSession> session);
  const HttpRequest& request() const;
  // A whole response (keep-alive follows the request).
  void Send(HttpResponse response);
  // A JSON error body {"error": {"message", "type", "code"}} as OpenAI servers answer.
  void SendError(http::status status, const std::string& message,
                 const std::string& extra_header = "", const std::string& extra_value = "");
  // A chunked response: the header now, then each Write as one chunk, then End.
  void StartStream(http::status status, const std::string& content_type,
                   const std::vector<std::pair<std::string, std::string>>& headers);
  void Write(std::string data);
  void End();
  bool answered() const { return answered_; }
  // False once the client has gone (a write failed or timed out).
  bool client_open() const;

 private:
  std::shared_ptr<HttpSession> session_;
  bool answered_ = false;
};

using HttpHandler = std::function<void(std::shared_ptr<Exchange>)>;

class HttpServer {
 public:
  HttpServer(net::io_context& io, const HttpServerOptions& options, HttpHandler handler);
  unsigned short port() const { return port_; }
  // Stops accepting; open connections finish their exchanges and then close.
  void StopAccepting();
  bool accepting() const { return accepting_; }
  // Exchanges read but not yet completely answered.
  long active_exchanges() const { return *active_; }

 private:
  void Accept();

  net::io_context& io_;
  HttpServerOptions options_;
  HttpHandler handler_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  bool accepting_ = true;
  std::shared_ptr<long> active_ = std::make_shared<long>(0);
};

// Writes the bound port to `path` (for scripts and tests that start servers on port 0).
void WriteReadyFile(const std::string& path, unsigned short port);

// Constant-time comparison of an Authorization header against "Bearer <key>".
bool BearerMatches(const HttpRequest& request, const std::string& key);

}  // namespace qosroute

namespace qosroute {

// An API key from a file (its first line, trimmed) or, when `path` is empty, from the
// environment variable `env_var` ("" when neither is set). Throws UserError naming the file
// when it cannot be read or is empty. Keys are never logged.
std::string ReadApiKey(const std::string& path, const char* env_var);

}  // namespace qosroute
