#include "archer/daemon/http_request.h"

#include <iterator>

#include <fmt/format.h>

#include "archer/core/clock.h"
#include "archer/core/version.h"
#include "archer/daemon/status_json.h"
#include "status_page_html.h"

namespace archer::daemon {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// Set while static objects are constructed, before main(): the uptime the status page shows is the
// process's.
const std::chrono::steady_clock::time_point process_start = std::chrono::steady_clock::now();

constexpr std::string_view kEndpoints = "/ (status page), /status.json, /metrics, /healthz, /readyz";

HttpResponse respond(const HttpRequest& request, http::status status, std::string_view content_type, std::string body) {
  HttpResponse response;
  response.version(request.version() == 10 ? 10 : 11);
  response.keep_alive(false);
  response.set(http::field::server, "archer-bridge");
  response.result(status);
  response.set(http::field::content_type, beast::string_view(content_type.data(), content_type.size()));
  response.set(http::field::cache_control, "no-store");
  response.body() = std::move(body);
  response.prepare_payload();
  // HEAD: the same headers (Content-Length included), no body.
  if (request.method() == http::verb::head) response.body().clear();
  return response;
}

std::string status(const HttpSources& sources) {
  const std::chrono::duration<double> uptime = std::chrono::steady_clock::now() - process_start;
  return status_json({sources.gateway, kVersion, unix_ms(), uptime.count()}, sources.ready(), sources.metrics.samples(),
                     sources.metrics.dead_letters().list());
}

}  // namespace

void limit(HttpRequestParser& parser) {
  parser.header_limit(static_cast<std::uint32_t>(kMaxHttpRequestBytes));
  parser.body_limit(0);
}

HttpResponse answer(const HttpRequest& request, const HttpSources& sources) {
  if (const auto fields = static_cast<std::size_t>(std::distance(request.begin(), request.end()));
      fields > kMaxHttpHeaders) {
    return respond(request, http::status::request_header_fields_too_large, "text/plain",
                   fmt::format("{} header fields, at most {}\n", fields, kMaxHttpHeaders));
  }
  std::string_view target(request.target().data(), request.target().size());
  target = target.substr(0, target.find('?'));  // the page's own requests carry no query; ignore any
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    HttpResponse response = respond(request, http::status::method_not_allowed, "text/plain", "only GET and HEAD\n");
    response.set(http::field::allow, "GET, HEAD");
    return response;
  }
  if (target == "/")
    return respond(request, http::status::ok, "text/html; charset=utf-8", std::string(kStatusPageHtml));
  if (target == "/status.json") return respond(request, http::status::ok, "application/json", status(sources));
  if (target == "/metrics") {
    return respond(request, http::status::ok, "text/plain; version=0.0.4", sources.metrics.prometheus_text());
  }
  if (target == "/healthz") {
    const Readiness health = sources.healthy();
    return respond(request, health.ready() ? http::status::ok : http::status::service_unavailable, "text/plain",
                   health.ready() ? "ok\n" : "unhealthy: " + health.text() + "\n");
  }
  if (target == "/readyz") {
    const Readiness readiness = sources.ready();
    return respond(request, readiness.ready() ? http::status::ok : http::status::service_unavailable, "text/plain",
                   readiness.ready() ? "ready\n" : "not ready: " + readiness.text() + "\n");
  }
  return respond(request, http::status::not_found, "text/plain", fmt::format("not found; endpoints: {}\n", kEndpoints));
}

std::optional<HttpResponse> answer_failure(beast::error_code error) {
  if (error == http::error::end_of_stream || error == http::error::partial_message || error == beast::error::timeout ||
      error.category() != beast::error_code(http::error::end_of_stream).category()) {
    return std::nullopt;  // the client went away or was too slow; or the socket failed
  }
  const HttpRequest unknown;  // the request was not read: answer as HTTP/1.1 to a GET
  if (error == http::error::header_limit || error == http::error::buffer_overflow) {
    return respond(unknown, http::status::request_header_fields_too_large, "text/plain",
                   fmt::format("request line and headers exceed {} bytes\n", kMaxHttpRequestBytes));
  }
  if (error == http::error::body_limit || error == http::error::unexpected_body) {
    return respond(unknown, http::status::payload_too_large, "text/plain", "no request body is accepted\n");
  }
  return respond(unknown, http::status::bad_request, "text/plain", fmt::format("bad request: {}\n", error.message()));
}

}  // namespace archer::daemon
