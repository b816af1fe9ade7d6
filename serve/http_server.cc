// Sessions of the serve/ HTTP server: read a request, hand it to the handler, write its answer
// (whole or streamed), then read the next one on a kept-alive connection.
#include "serve/http_server.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace qosroute {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, const HttpServerOptions& options, const HttpHandler& handler,
              std::shared_ptr<long> active, const bool* accepting)
      : stream_(std::move(socket)),
        options_(options),
        handler_(handler),
        active_(std::move(active)),
        accepting_(accepting) {}

  void Start() { ReadRequest(); }

  const HttpRequest& request() const { return request_; }
  bool client_open() const { return open_; }

  void SendWhole(HttpResponse response) {
    response.keep_alive(request_.keep_alive() && *accepting_);
    response.prepare_payload();
    auto owned = std::make_shared<HttpResponse>(std::move(response));
    stream_.expires_after(options_.write_timeout);
    http::async_write(stream_, *owned,
                      [self = shared_from_this(), owned](beast::error_code ec, size_t) {
                        self->FinishExchange(ec, owned->keep_alive());
                      });
  }

  void StartStream(http::status status, const std::string& content_type,
                   const std::vector<std::pair<std::string, std::string>>& headers) {
    stream_header_.emplace(status, request_.version());
    stream_header_->set(http::field::content_type, content_type);
    stream_header_->set(http::field::cache_control, "no-cache");
    for (const auto& [name, value] : headers) stream_header_->set(name, value);
    stream_header_->keep_alive(request_.keep_alive() && *accepting_);
    stream_header_->chunked(true);
    serializer_.emplace(*stream_header_);
    writing_ = true;
    stream_.expires_after(options_.write_timeout);
    http::async_write_header(stream_, *serializer_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               self->writing_ = false;
                               if (ec) self->open_ = false;
                               self->Flush();
                             });
  }

  void QueueChunk(std::string data) {
    if (!open_) return;
    pending_.push_back(std::move(data));
    Flush();
  }

  void EndStream() {
    ending_ = true;
    Flush();
  }

 private:
  void ReadRequest() {
    parser_.emplace();
    parser_->body_limit(options_.body_limit);
    request_ = {};
    stream_.expires_after(first_read_ ? options_.read_timeout : options_.idle_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    first_read_ = false;
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      Close();
      return;
    }
    if (ec) {
      // Answer what can be answered, then close: the rest of the stream cannot be trusted.
      const bool too_large = ec == http::error::body_limit || ec == http::error::header_limit;
      HttpResponse res{too_large ? http::status::payload_too_large : http::status::bad_request, 11};
      res.set(http::field::content_type, "application/json");
      res.body() =
          nlohmann::json{
              {"error",
               {{"message", too_large ? "request body too large (limit " +
                                            std::to_string(options_.body_limit) + " bytes)"
                                      : "malformed HTTP request: " + ec.message()},
                {"type", "invalid_request_error"},
                {"code", too_large ? 413 : 400}}}}
              .dump();
      res.keep_alive(false);
      res.prepare_payload();
      auto owned = std::make_shared<HttpResponse>(std::move(res));
      ++*active_;
      stream_.expires_after(options_.write_timeout);
      http::async_write(stream_, *owned,
                        [self = shared_from_this(), owned](beast::error_code, size_t) {
                          --*self->active_;
                          self->finished_ = true;
                          self->LingerThenClose();
                        });
      return;
    }
    request_ = parser_->release();
    ++*active_;
    auto exchange = std::make_shared<Exchange>(shared_from_this());
    if (!*accepting_) {
      // Draining: a kept-alive connection may still bring a request; it is refused, not served.
      exchange->SendError(http::status::service_unavailable, "the server is shutting down",
                          "Retry-After", "1");
      return;
    }
    handler_(exchange);
  }

  void Flush() {
    if (writing_ || !serializer_) return;
    if (!open_) {
      if (ending_) FinishExchange(net::error::broken_pipe, false);
      return;
    }
    if (!pending_.empty()) {
      auto data = std::make_shared<std::string>(std::move(pending_.front()));
      pending_.pop_front();
      writing_ = true;
      stream_.expires_after(options_.write_timeout);
      net::async_write(stream_, http::make_chunk(net::buffer(*data)),
                       [self = shared_from_this(), data](beast::error_code ec, size_t) {
                         self->writing_ = false;
                         if (ec) {
                           self->open_ = false;
                           self->pending_.clear();
                         }
                         self->Flush();
                       });
      return;
    }
    if (ending_) {
      writing_ = true;
      stream_.expires_after(options_.write_timeout);
      net::async_write(stream_, http::make_chunk_last(),
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         self->writing_ = false;
                         self->FinishExchange(ec, self->stream_header_->keep_alive());
                       });
    }
  }

  void FinishExchange(beast::error_code ec, bool keep_alive) {
    if (finished_) return;
    finished_ = true;
    --*active_;
    if (ec || !keep_alive || !*accepting_) {
      Close();
      return;
    }
    finished_ = false;
    serializer_.reset();
    stream_header_.reset();
    pending_.clear();
    ending_ = false;
    ReadRequest();
  }

  // After refusing a request mid-body: stop sending, read and discard what the client is
  // still sending (up to a deadline), then close. Closing at once would reset the connection
  // and could destroy the answer before the client reads it.
  void LingerThenClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    auto discard = std::make_shared<std::array<char, 16384>>();
    stream_.async_read_some(net::buffer(*discard),
                            [self = shared_from_this(), discard](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->LingerThenClose();
                            });
  }

  void Close() {
    open_ = false;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  const HttpServerOptions& options_;
  const HttpHandler& handler_;
  std::shared_ptr<long> active_;
  const bool* accepting_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;
  bool first_read_ = true;
  bool open_ = true;
  bool finished_ = false;
  // Streaming state.
  std::optional<http::response<http::empty_body>> stream_header_;
  std::optional<http::response_serializer<http::empty_body>> serializer_;
  std::deque<std::string> pending_;
  bool writing_ = false;
  bool ending_ = false;
};

Exchange::Exchange(std::shared_ptr<HttpSession> session) : session_(std::move(session)) {}

const HttpRequest& Exchange::request() const {
  return session_->request();
}

bool Exchange::client_open() const {
  return session_->client_open();
}

void Exchange::Send(HttpResponse response) {
  QR_CHECK_MSG(!answered_, "an exchange is answered once");
  answered_ = true;
  session_->SendWhole(std::move(response));
}

void Exchange::SendError(http::status status, const std::string& message,
                         const std::string& extra_header, const std::string& extra_value) {
  HttpResponse res{status, request().version()};
  res.set(http::field::content_type, "application/json");
  if (!extra_header.empty()) res.set(extra_header, extra_value);
  res.body() =
      nlohmann::json{
          {"error",
           {{"message", message},
            {"type", static_cast<int>(status) >= 500 ? "server_error" : "invalid_request_error"},
            {"code", static_cast<int>(status)}}}}
          .dump();
  Send(std::move(res));
}

void Exchange::StartStream(http::status status, const std::string& content_type,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
  QR_CHECK_MSG(!answered_, "an exchange is answered once");
  answered_ = true;
  session_->StartStream(status, content_type, headers);
}

void Exchange::Write(std::string data) {
  session_->QueueChunk(std::move(data));
}

void Exchange::End() {
  session_->EndStream();
}

HttpServer::HttpServer(net::io_context& io, const HttpServerOptions& options, HttpHandler handler)
    : io_(io), options_(options), handler_(std::move(handler)), acceptor_(io) {
  beast::error_code ec;
  const auto address = net::ip::make_address(options.address, ec);
  if (ec) throw UserError("--host: '" + options.address + "' is not an IP address");
  const tcp::endpoint endpoint{address, options.port};
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw UserError("cannot listen on " + options.address + ":" + std::to_string(options.port) +
                    ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  Accept();
}

void HttpServer::Accept() {
  acceptor_.async_accept(io_, [this](beast::error_code ec, tcp::socket socket) {
    if (!accepting_) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<HttpSession>(std::move(socket), options_, handler_, active_, &accepting_)
          ->Start();
    }
    Accept();
  });
}

void HttpServer::StopAccepting() {
  accepting_ = false;
  beast::error_code ignored;
  acceptor_.close(ignored);
}

void WriteReadyFile(const std::string& path, unsigned short port) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
    if (!out) throw UserError("cannot write the ready file " + path);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw UserError("cannot write the ready file " + path);
}

bool BearerMatches(const HttpRequest& request, const std::string& key) {
  const auto it = request.find(http::field::authorization);
  const std::string given = it == request.end() ? std::string() : std::string(it->value());
  const std::string expected = "Bearer " + key;
  // Compare every byte whatever the first difference, so timing tells nothing about the key.
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i]) ^
            static_cast<unsigned char>(i < given.size() ? given[i] : 0);
  return diff == 0;
}

}  // namespace qosroute

namespace qosroute {

std::string ReadApiKey(const std::string& path, const char* env_var) {
  if (path.empty()) {
    const char* v = env_var ? std::getenv(env_var) : nullptr;
    return v ? std::string(v) : std::string();
  }
  std::ifstream in(path);
  if (!in) throw UserError("cannot read the API key file " + path);
  std::string key;
  std::getline(in, key);
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  key.erase(key.begin(), std::find_if(key.begin(), key.end(), not_space));
  key.erase(std::find_if(key.rbegin(), key.rend(), not_space).base(), key.end());
  if (key.empty()) throw UserError("the API key file " + path + " is empty");
  return key;
}

}  // namespace qosroute
