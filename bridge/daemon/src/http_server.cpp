#include "archer/daemon/http_server.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "archer/core/clock.h"
#include "archer/core/log.h"
#include "archer/core/version.h"
#include "archer/daemon/status_json.h"
#include "status_page_html.h"

namespace archer::daemon {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

// Set while static objects are constructed, before main(): the uptime the status page shows is the
// process's.
const std::chrono::steady_clock::time_point process_start = std::chrono::steady_clock::now();

constexpr std::string_view kEndpoints = "/ (status page), /status.json, /metrics, /healthz, /readyz";

// One connection: read a request, write the answer, close.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(tcp::socket socket, const Metrics& metrics, const std::function<Readiness()>& ready,
           const std::function<Readiness()>& healthy, const std::string& gateway)
      : stream_(std::move(socket)), metrics_(metrics), ready_(ready), healthy_(healthy), gateway_(gateway) {}

  void start() {
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->answer();
    });
  }

 private:
  void answer() {
    response_.version(request_.version());
    response_.keep_alive(false);
    response_.set(http::field::server, "archer-bridge");
    std::string_view target(request_.target().data(), request_.target().size());
    target = target.substr(0, target.find('?'));  // the page's own requests carry no query; ignore any
    if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      response_.set(http::field::allow, "GET, HEAD");
      respond(http::status::method_not_allowed, "text/plain", "only GET and HEAD\n");
    } else if (target == "/") {
      respond(http::status::ok, "text/html; charset=utf-8", std::string(kStatusPageHtml));
    } else if (target == "/status.json") {
      respond(http::status::ok, "application/json", status());
    } else if (target == "/metrics") {
      respond(http::status::ok, "text/plain; version=0.0.4", metrics_.prometheus_text());
    } else if (target == "/healthz") {
      const Readiness health = healthy_();
      respond(health.ready() ? http::status::ok : http::status::service_unavailable, "text/plain",
              health.ready() ? "ok\n" : "unhealthy: " + health.text() + "\n");
    } else if (target == "/readyz") {
      const Readiness readiness = ready_();
      respond(readiness.ready() ? http::status::ok : http::status::service_unavailable, "text/plain",
              readiness.ready() ? "ready\n" : "not ready: " + readiness.text() + "\n");
    } else {
      respond(http::status::not_found, "text/plain", fmt::format("not found; endpoints: {}\n", kEndpoints));
    }
  }

  std::string status() const {
    const std::chrono::duration<double> uptime = std::chrono::steady_clock::now() - process_start;
    return status_json({gateway_, kVersion, unix_ms(), uptime.count()}, ready_(), metrics_.samples(),
                       metrics_.dead_letters().list());
  }

  void respond(http::status status, std::string_view content_type, std::string body) {
    response_.result(status);
    response_.set(http::field::content_type, boost::beast::string_view(content_type.data(), content_type.size()));
    response_.set(http::field::cache_control, "no-store");
    response_.body() = std::move(body);
    response_.prepare_payload();
    // HEAD: the same headers (Content-Length included), no body.
    if (request_.method() == http::verb::head) response_.body().clear();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  http::response<http::string_body> response_;
  const Metrics& metrics_;
  const std::function<Readiness()>& ready_;
  const std::function<Readiness()>& healthy_;
  const std::string& gateway_;
};

}  // namespace

HttpServer::HttpServer(boost::asio::io_context& io, const HttpConfig& config, const Metrics& metrics,
                       std::function<Readiness()> ready, std::function<Readiness()> healthy, std::string gateway)
    : acceptor_(io, tcp::endpoint(boost::asio::ip::make_address(config.host), config.port)),
      metrics_(metrics),
      ready_(std::move(ready)),
      healthy_(std::move(healthy)),
      gateway_(std::move(gateway)) {
  const std::string host = config.host.find(':') == std::string::npos ? config.host : "[" + config.host + "]";
  log::info("http", "listening on {}:{} ({}); status page http://{}:{}/", host, port(), kEndpoints, host, port());
  accept();
}

void HttpServer::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Exchange>(std::move(socket), metrics_, ready_, healthy_, gateway_)->start();
    accept();
  });
}

}  // namespace archer::daemon
