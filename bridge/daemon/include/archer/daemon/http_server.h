#pragma once
// The operator's HTTP endpoint on the daemon's event loop (Boost.Beast):
//   GET /             the status page (status_page/index.html, embedded at build time)
//   GET /status.json  what the page shows, as JSON (status_json.h)
//   GET /metrics  Prometheus text of the metrics registry
//   GET /healthz  200 while every loop turns (this one answers; `healthy` says for the others), else 503
//   GET /readyz   200 when `ready()` says so, else 503 with the reasons
// GET and HEAD only; anything else is 404 with the list of endpoints. One request per connection,
// answered on the loop thread (http_request.h: the answers and the limits); no request body is read.
// At most kMaxHttpConnections connections at once: beyond, a new one is closed unanswered (counted in
// archer_http_connections_refused_total, with a rate-limited warning); each has kHttpTimeout to send
// its request and read the answer, then it is closed.
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "archer/core/config.h"
#include "archer/core/log.h"
#include "archer/core/metrics.h"
#include "archer/core/readiness.h"
#include "archer/daemon/http_request.h"

namespace archer::daemon {

class HttpServer {
 public:
  // Binds at once; throws boost::system::system_error when the address cannot be bound.
  // `gateway` is the [gateway] id the status page names.
  HttpServer(boost::asio::io_context& io, const HttpConfig& config, Metrics& metrics, std::function<Readiness()> ready,
             std::function<Readiness()> healthy, std::string gateway, HttpLimits limits = {});
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  HttpSources sources_;   // the connections refer to it: the server outlives its loop's handlers
  HttpLimits limits_;
  std::size_t open_ = 0;  // connections being served
  Counter& refused_;
  log::RateLimit refused_log_{std::chrono::seconds(10)};
};

}  // namespace archer::daemon
