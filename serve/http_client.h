#pragma once
// The client side of serve/: calls to one HTTP/1.1 server over kept-alive connections from a
// pool (the router to each backend, the load generator to the router). A call streams a
// chunked body piece by piece as it arrives (server-sent events) and has deadlines for
// connecting and for each read, so a server that stops answering ends the call with an error
// instead of hanging it.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "serve/http_server.h"

namespace qosroute {

// http://host:port[/prefix], the only form accepted (no TLS: put a TLS terminator in front).
struct HttpUrl {
  std::string host;
  unsigned short port = 0;
  std::string prefix;  // "" or "/v1-proxy" etc., prepended to request targets
};
// Throws UserError naming `what` for anything else.
HttpUrl ParseHttpUrl(const std::string& url, const std::string& what);

struct HttpCallOptions {
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds read_timeout{60000};  // between two pieces of the response
};

class ConnectionPool {
 public:
  ConnectionPool(net::io_context& io, const HttpUrl& url, size_t max_idle = 512);
  net::io_context& io() { return io_; }
  const HttpUrl& url() const { return url_; }
  const tcp::endpoint& endpoint() const { return endpoint_; }
  // A kept-alive connection, or nullptr (then the caller connects a new one).
  std::unique_ptr<beast::tcp_stream> TakeIdle();
  void GiveBack(std::unique_ptr<beast::tcp_stream> stream);
  // Closes every idle connection (a backend that went away).
  void Clear() { idle_.clear(); }

 private:
  net::io_context& io_;
  HttpUrl url_;
  tcp::endpoint endpoint_;
  size_t max_idle_;
  std::vector<std::unique_ptr<beast::tcp_stream>> idle_;
};

struct HttpCallHandlers {
  // The whole request has been written.
  std::function<void()> on_written;
  // The status line and headers, once.
  std::function<void(const http::response_header<>& header, bool chunked)> on_header;
  // Each piece of a chunked body as it arrives (not called for a body of known length).
  std::function<void(std::string_view piece)> on_chunk;
  // The end: ec is empty on success; `body` is the whole body when it was not chunked.
  std::function<void(beast::error_code ec, std::string body)> on_done;
};

class HttpCall : public std::enable_shared_from_this<HttpCall> {
 public:
  static std::shared_ptr<HttpCall> Start(ConnectionPool& pool, HttpRequest request,
                                         HttpCallHandlers handlers,
                                         const HttpCallOptions& options = HttpCallOptions());
  // Ends the call now with operation_aborted (its connection is closed, not reused).
  void Cancel();
  bool done() const { return done_; }

 private:
  HttpCall(ConnectionPool& pool, HttpRequest request, HttpCallHandlers handlers,
           const HttpCallOptions& options);
  void Begin(bool reused);
  void Connect();
  void Write(bool reused);
  void ReadHeader(bool reused);
  void ReadBody();
  void ReadSome(std::shared_ptr<void> keep);
  void Finish(beast::error_code ec);

  ConnectionPool& pool_;
  HttpRequest request_;
  HttpCallHandlers handlers_;
  HttpCallOptions options_;
  std::unique_ptr<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::unique_ptr<http::response_parser<http::string_body>> parser_;
  bool header_seen_ = false;
  bool done_ = false;
};

}  // namespace qosroute
