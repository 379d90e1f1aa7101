// libFuzzer target for the HTTP endpoint's request handling without a socket: the input is what a
// client sends, fed to Beast's request parser as the server's read does (held to the limits of
// archer/daemon/http_request.h), and what it reads is answered (answer, or answer_failure when the
// parser refuses it). Whatever the bytes: no crash, nothing read beyond kMaxHttpRequestBytes of
// header, no request body; every answer closes the connection, says how long its body is, and is
// empty for HEAD.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <boost/asio/buffer.hpp>

#include "archer/core/metrics.h"
#include "archer/daemon/http_request.h"

namespace {

namespace http = boost::beast::http;
using archer::daemon::HttpResponse;

void require(bool condition) {
  if (!condition) std::abort();
}

archer::daemon::HttpSources& sources() {
  static auto* made = [] {
    auto* metrics = new archer::Metrics;
    metrics->counter("archer_fuzz_total", "a counter", {{"section", "telemetry"}}).add(3);
    metrics->gauge("archer_fuzz_level", "a gauge").set(1.5);
    metrics->histogram("archer_fuzz_seconds", "a histogram").observe(0.25);
    metrics->dead_letters().add({1764000000000, {{"section", "telemetry"}, {"reason", "bad_json"}}});
    archer::Readiness not_ready;
    not_ready.not_ready("spool: the disk is full");
    return new archer::daemon::HttpSources{*metrics, [not_ready] { return not_ready; },
                                           [] { return archer::Readiness(); }, "gw-fuzz"};
  }();
  return *made;
}

void check(const HttpResponse& response, bool head) {
  require(!response.keep_alive());
  require(response.result_int() >= 200 && response.result_int() < 600);
  const auto length = response.find(http::field::content_length);
  require(length != response.end());
  if (head) {
    require(response.body().empty());
  } else {
    require(std::string(length->value()) == std::to_string(response.body().size()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  archer::daemon::HttpRequestParser parser;
  archer::daemon::limit(parser);
  // As http::read does: give the parser what has arrived, keep what it did not take. Here all of it
  // has arrived: a parser that still wants more would wait for the timeout.
  std::size_t used = 0;
  boost::beast::error_code error;
  while (!parser.is_done() && !error) {
    if (used == size) return 0;  // incomplete: the server would wait for more, then time out
    const std::size_t taken = parser.put(boost::asio::buffer(data + used, size - used), error);
    used += taken;
    require(used <= size);
    if (error == http::error::need_more) {
      if (taken == 0) return 0;  // it wants more than has arrived
      error = {};
    }
  }
  if (error) {
    const auto response = archer::daemon::answer_failure(error);
    if (response) check(*response, false);
    return 0;
  }
  require(parser.is_header_done() && parser.content_length().value_or(0) == 0);
  require(std::string(parser.get().target()).size() <= archer::daemon::kMaxHttpRequestBytes);
  const HttpResponse response = archer::daemon::answer(parser.get(), sources());
  check(response, parser.get().method() == http::verb::head);
  return 0;
}
