#include "archer/daemon/http_server.h"

#include <optional>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "archer/core/log.h"

namespace archer::daemon {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

constexpr std::string_view kEndpoints = "/ (status page), /status.json, /metrics, /healthz, /readyz";

// One connection: read a request (within the limits of http_request.h), write the answer, close.
// Counted in `open` from construction to destruction.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(tcp::socket socket, const HttpSources& sources, std::chrono::milliseconds timeout, std::size_t& open)
      : stream_(std::move(socket)), sources_(sources), timeout_(timeout), open_(open) {
    ++open_;
    limit(parser_);
  }
  ~Exchange() { --open_; }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  void start() {
    stream_.expires_after(timeout_);  // reading and writing together
    http::async_read(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) {
        self->write(answer(self->parser_.get(), self->sources_));
      } else if (auto response = answer_failure(ec)) {
        self->write(std::move(*response));
      }
    });
  }

 private:
  void write(HttpResponse response) {
    response_ = std::move(response);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  HttpRequestParser parser_;
  HttpResponse response_;
  const HttpSources& sources_;
  std::chrono::milliseconds timeout_;
  std::size_t& open_;
};

}  // namespace

HttpServer::HttpServer(boost::asio::io_context& io, const HttpConfig& config, Metrics& metrics,
                       std::function<Readiness()> ready, std::function<Readiness()> healthy, std::string gateway,
                       HttpLimits limits)
    : acceptor_(io, tcp::endpoint(boost::asio::ip::make_address(config.host), config.port)),
      sources_{metrics, std::move(ready), std::move(healthy), std::move(gateway)},
      limits_(limits),
      refused_(metrics.counter("archer_http_connections_refused_total",
                               "HTTP connections closed unanswered: the most the endpoint serves at once were open")) {
  const std::string host = config.host.find(':') == std::string::npos ? config.host : "[" + config.host + "]";
  log::info("http", "listening on {}:{} ({}); status page http://{}:{}/", host, port(), kEndpoints, host, port());
  accept();
}

void HttpServer::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted) return;
    if (!ec && open_ >= limits_.connections) {
      refused_.add();
      std::uint64_t suppressed = 0;
      if (refused_log_.allow(suppressed)) {
        log::warn("http", "{} connections open, the most the endpoint serves at once: a new one was closed unanswered",
                  open_);
      }
      beast::error_code ignored;
      socket.close(ignored);
    } else if (!ec) {
      std::make_shared<Exchange>(std::move(socket), sources_, limits_.timeout, open_)->start();
    }
    accept();
  });
}

}  // namespace archer::daemon
