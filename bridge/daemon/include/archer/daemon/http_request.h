#pragma once
// The HTTP endpoint's answers, apart from its sockets (http_server.h has those): what a request read
// whole is answered, what a request that could not be read is answered, and the limits a request is
// held to while it is read. Pure functions of their arguments, so they can be tested and fuzzed
// without a socket; called on the daemon's event loop.
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>

#include "archer/core/metrics.h"
#include "archer/core/readiness.h"

namespace archer::daemon {

// Limits (docs/limits.md). The endpoint serves an operator and Prometheus, so every legitimate
// request is a short GET: the request line and headers fit in kMaxHttpRequestBytes with far fewer
// than kMaxHttpHeaders fields, a few scrapers and browsers connect at once, and an answer takes
// milliseconds.
inline constexpr std::size_t kMaxHttpRequestBytes = 8 * 1024;  // request line and headers
inline constexpr std::size_t kMaxHttpHeaders = 32;
inline constexpr std::size_t kMaxHttpConnections = 16;
// To read the request and write the answer: a client slower than that is dropped.
inline constexpr std::chrono::seconds kHttpTimeout{10};

// What the server holds its connections to; tests shorten them.
struct HttpLimits {
  std::size_t connections = kMaxHttpConnections;
  std::chrono::milliseconds timeout = kHttpTimeout;
};

using HttpRequest = boost::beast::http::request<boost::beast::http::empty_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using HttpRequestParser = boost::beast::http::request_parser<boost::beast::http::empty_body>;

// What the endpoints report. The functions are called on the loop thread, once per request.
struct HttpSources {
  const Metrics& metrics;
  std::function<Readiness()> ready;
  std::function<Readiness()> healthy;
  std::string gateway;  // the [gateway] id the status page names
};

// Holds `parser` to kMaxHttpRequestBytes of request line and headers, and to no body.
void limit(HttpRequestParser& parser);

// The answer to a request read whole (GET and HEAD of the endpoints in http_server.h; 405 for
// another method, 404 for another path, 431 beyond kMaxHttpHeaders fields). Never keeps the
// connection open.
HttpResponse answer(const HttpRequest& request, const HttpSources& sources);

// The answer to a request that could not be read because of `error` from the parser: 431 for one
// beyond kMaxHttpRequestBytes, 413 for one with a body, 400 for one that is not HTTP/1.x. nullopt
// when there is no one to answer: the client closed, or kHttpTimeout passed.
std::optional<HttpResponse> answer_failure(boost::beast::error_code error);

}  // namespace archer::daemon
