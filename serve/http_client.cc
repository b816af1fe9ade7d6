// Pooled, deadline-bounded HTTP calls (see http_client.h).
#include "serve/http_client.h"

#include <boost/asio/connect.hpp>

#include "common/error.h"

namespace qosroute {

HttpUrl ParseHttpUrl(const std::string& url, const std::string& what) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    throw UserError(what + ": '" + url +
                    "' is not an http://host:port URL (https is not supported)");
  const std::string rest = url.substr(scheme.size());
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  HttpUrl out;
  out.prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  const size_t colon = authority.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw UserError(what + ": '" + url + "' names no port (http://host:port)");
  out.host = authority.substr(0, colon);
  const std::string port = authority.substr(colon + 1);
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 1 || p > 65535)
    throw UserError(what + ": '" + url + "' has no valid port");
  out.port = static_cast<unsigned short>(p);
  return out;
}

ConnectionPool::ConnectionPool(net::io_context& io, const HttpUrl& url, size_t max_idle)
    : io_(io), url_(url), max_idle_(max_idle) {
  tcp::resolver resolver(io);
  beast::error_code ec;
  const auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec || results.empty())
    throw UserError("cannot resolve " + url.host + ": " + (ec ? ec.message() : "no address"));
  endpoint_ = results.begin()->endpoint();
}

std::unique_ptr<beast::tcp_stream> ConnectionPool::TakeIdle() {
  if (idle_.empty()) return nullptr;
  auto s = std::move(idle_.back());
  idle_.pop_back();
  return s;
}

void ConnectionPool::GiveBack(std::unique_ptr<beast::tcp_stream> stream) {
  if (idle_.size() < max_idle_ && stream->socket().is_open()) idle_.push_back(std::move(stream));
}

std::shared_ptr<HttpCall> HttpCall::Start(ConnectionPool& pool, HttpRequest request,
                                          HttpCallHandlers handlers,
                                          const HttpCallOptions& options) {
  std::shared_ptr<HttpCall> call(
      new HttpCall(pool, std::move(request), std::move(handlers), options));
  call->stream_ = pool.TakeIdle();
  call->Begin(call->stream_ != nullptr);
  return call;
}

HttpCall::HttpCall(ConnectionPool& pool, HttpRequest request, HttpCallHandlers handlers,
                   const HttpCallOptions& options)
    : pool_(pool), request_(std::move(request)), handlers_(std::move(handlers)), options_(options) {
  request_.set(http::field::host, pool.url().host + ":" + std::to_string(pool.url().port));
  request_.keep_alive(true);
  request_.prepare_payload();
}

void HttpCall::Begin(bool reused) {
  if (reused) {
    Write(true);
  } else {
    Connect();
  }
}

void HttpCall::Connect() {
  stream_ = std::make_unique<beast::tcp_stream>(pool_.io());
  stream_->expires_after(options_.connect_timeout);
  stream_->async_connect(pool_.endpoint(), [self = shared_from_this()](beast::error_code ec) {
    if (self->done_) return;
    if (ec) return self->Finish(ec);
    beast::error_code ignored;
    self->stream_->socket().set_option(tcp::no_delay(true), ignored);
    self->Write(false);
  });
}

void HttpCall::Write(bool reused) {
  stream_->expires_after(options_.read_timeout);
  http::async_write(*stream_, request_,
                    [self = shared_from_this(), reused](beast::error_code ec, size_t) {
                      if (self->done_) return;
                      if (ec && reused) return self->Connect();  // the server closed it
                      // A server may answer before it has read everything (413) and close:
                      // its answer is still worth reading.
                      if (ec) return self->ReadHeader(false);
                      if (self->handlers_.on_written) self->handlers_.on_written();
                      self->ReadHeader(reused);
                    });
}

void HttpCall::ReadHeader(bool reused) {
  parser_ = std::make_unique<http::response_parser<http::string_body>>();
  parser_->body_limit(64u << 20);
  buffer_.clear();
  stream_->expires_after(options_.read_timeout);
  http::async_read_header(*stream_, buffer_, *parser_,
                          [self = shared_from_this(), reused](beast::error_code ec, size_t) {
                            if (self->done_) return;
                            // A kept-alive connection the server had already closed: retry once on
                            // a new one.
                            if (ec && reused &&
                                (ec == http::error::end_of_stream || ec == net::error::eof ||
                                 ec == net::error::connection_reset))
                              return self->Connect();
                            if (ec) return self->Finish(ec);
                            self->header_seen_ = true;
                            if (self->handlers_.on_header)
                              self->handlers_.on_header(self->parser_->get().base(),
                                                        self->parser_->chunked());
                            if (self->done_) return;
                            self->ReadBody();
                          });
}

void HttpCall::ReadBody() {
  if (parser_->chunked() && handlers_.on_chunk) {
    // Hand each piece on as it arrives instead of collecting the body.
    auto on_body =
        std::make_shared<std::function<size_t(uint64_t, beast::string_view, beast::error_code&)>>(
            [self = shared_from_this()](uint64_t, beast::string_view body, beast::error_code&) {
              if (!self->done_)
                self->handlers_.on_chunk(std::string_view(body.data(), body.size()));
              return body.size();
            });
    parser_->on_chunk_body(*on_body);
    ReadSome(on_body);
    return;
  }
  stream_->expires_after(options_.read_timeout);
  http::async_read(*stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) {
                     if (self->done_) return;
                     self->Finish(ec);
                   });
}

void HttpCall::ReadSome(std::shared_ptr<void> keep) {
  // Read piece by piece so that the read deadline applies between pieces, not to the whole
  // stream (a long answer streamed steadily is not a stalled one).
  stream_->expires_after(options_.read_timeout);
  http::async_read_some(*stream_, buffer_, *parser_,
                        [self = shared_from_this(), keep](beast::error_code ec, size_t) {
                          if (self->done_) return;
                          if (ec) return self->Finish(ec);
                          if (self->parser_->is_done()) return self->Finish({});
                          self->ReadSome(keep);
                        });
}

void HttpCall::Finish(beast::error_code ec) {
  if (done_) return;
  done_ = true;
  std::string body;
  if (!ec && parser_) {
    body = std::move(parser_->get().body());
    if (parser_->get().keep_alive() && parser_->is_done()) {
      stream_->expires_never();
      pool_.GiveBack(std::move(stream_));
    }
  }
  if (stream_) {
    beast::error_code ignored;
    stream_->socket().close(ignored);
  }
  if (handlers_.on_done) handlers_.on_done(ec, std::move(body));
  handlers_ = {};
}

void HttpCall::Cancel() {
  if (done_) return;
  if (stream_) {
    beast::error_code ignored;
    stream_->socket().close(ignored);
  }
  Finish(net::error::operation_aborted);
}

}  // namespace qosroute
