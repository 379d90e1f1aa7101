#pragma once
// The operator's HTTP endpoint on the daemon's event loop (Boost.Beast):
//   GET /             the status page (status_page/index.html, embedded at build time)
//   GET /status.json  what the page shows, as JSON (status_json.h)
//   GET /metrics  Prometheus text of the metrics registry
//   GET /healthz  200 while every loop turns (this one answers; `healthy` says for the others), else 503
//   GET /readyz   200 when `ready()` says so, else 503 with the reasons
// GET and HEAD only; anything else is 404 with the list of endpoints. One request per connection,
// answered on the loop thread; no request body is read.
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "archer/core/config.h"
#include "archer/core/metrics.h"
#include "archer/core/readiness.h"

namespace archer::daemon {

class HttpServer {
 public:
  // Binds at once; throws boost::system::system_error when the address cannot be bound.
  // `gateway` is the [gateway] id the status page names.
  HttpServer(boost::asio::io_context& io, const HttpConfig& config, const Metrics& metrics,
             std::function<Readiness()> ready, std::function<Readiness()> healthy, std::string gateway);
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  const Metrics& metrics_;
  std::function<Readiness()> ready_;
  std::function<Readiness()> healthy_;
  std::string gateway_;
};

}  // namespace archer::daemon
