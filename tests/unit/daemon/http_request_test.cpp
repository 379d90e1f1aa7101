// The HTTP endpoint's answers and request limits, without a socket (archer/daemon/http_request.h).
#include <gtest/gtest.h>

#include <string>

#include <boost/asio/buffer.hpp>

#include "archer/daemon/http_request.h"

namespace {

namespace http = boost::beast::http;
using archer::daemon::answer;
using archer::daemon::answer_failure;
using archer::daemon::HttpRequestParser;
using archer::daemon::HttpResponse;

struct Read {
  boost::beast::error_code error;
  HttpRequestParser parser;
};

// Feeds `bytes` to a limited parser as the server's read does; the error is need_more when it is
// still waiting for the rest.
void read(std::string_view bytes, Read& out) {
  archer::daemon::limit(out.parser);
  std::size_t used = 0;
  while (!out.parser.is_done() && used < bytes.size()) {
    used += out.parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), out.error);
    if (out.error) return;
  }
}

class HttpRequestTest : public ::testing::Test {
 protected:
  HttpResponse get(std::string_view request) {
    Read parsed;
    read(request, parsed);
    EXPECT_FALSE(parsed.error) << parsed.error.message();
    EXPECT_TRUE(parsed.parser.is_done());
    return answer(parsed.parser.get(), sources_);
  }

  archer::Metrics metrics_;
  archer::daemon::HttpSources sources_{metrics_, [] { return archer::Readiness{{"spool: the disk is full"}}; },
                                       [] { return archer::Readiness{}; }, "gw-1"};
};

TEST_F(HttpRequestTest, AnswersTheEndpointsAndClosesTheConnection) {
  const HttpResponse health = get("GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n");
  EXPECT_EQ(health.result(), http::status::ok);
  EXPECT_EQ(health.body(), "ok\n");
  EXPECT_FALSE(health.keep_alive());
  const HttpResponse ready = get("GET /readyz?verbose HTTP/1.1\r\nHost: gw\r\n\r\n");
  EXPECT_EQ(ready.result(), http::status::service_unavailable);
  EXPECT_EQ(ready.body(), "not ready: spool: the disk is full\n");
  const HttpResponse head = get("HEAD /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(head.result(), http::status::ok);
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(head.version(), 10);
  EXPECT_EQ(get("GET /nowhere HTTP/1.1\r\n\r\n").result(), http::status::not_found);
  const HttpResponse post = get("POST /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(post.result(), http::status::method_not_allowed);
  EXPECT_EQ(post[http::field::allow], "GET, HEAD");
}

TEST_F(HttpRequestTest, HeaderFieldsBeyondTheLimitAre431) {
  std::string request = "GET /healthz HTTP/1.1\r\n";
  for (std::size_t i = 0; i < archer::daemon::kMaxHttpHeaders; ++i) request += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(get(request + "\r\n").result(), http::status::ok);
  const HttpResponse refused = get(request + "X-One-More: v\r\n\r\n");
  EXPECT_EQ(refused.result(), http::status::request_header_fields_too_large);
  EXPECT_EQ(refused.body(), "33 header fields, at most 32\n");
}

TEST_F(HttpRequestTest, ARequestBeyondTheSizeLimitIsRefusedWith431) {
  const std::string request = "GET / HTTP/1.1\r\nX-Big: " + std::string(archer::daemon::kMaxHttpRequestBytes, 'a');
  Read parsed;
  read(request + "\r\n\r\n", parsed);
  EXPECT_EQ(parsed.error, http::error::header_limit);
  const auto response = answer_failure(parsed.error);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::request_header_fields_too_large);
  EXPECT_EQ(response->body(), "request line and headers exceed 8192 bytes\n");
  EXPECT_FALSE(response->keep_alive());
}

TEST_F(HttpRequestTest, ARequestWithABodyIsRefusedWith413) {
  Read length;
  read("POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", length);
  EXPECT_EQ(length.error, http::error::body_limit);
  Read chunked;
  read("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", chunked);
  EXPECT_EQ(chunked.error, http::error::body_limit);
  const auto response = answer_failure(length.error);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::payload_too_large);
}

TEST_F(HttpRequestTest, WhatIsNotHttpIs400AndAClientGoneIsNotAnswered) {
  Read garbage;
  read("\x16\x03\x01\x02\x00 hello\r\n\r\n", garbage);
  ASSERT_TRUE(garbage.error);
  const auto response = answer_failure(garbage.error);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), http::status::bad_request);
  EXPECT_FALSE(answer_failure(http::error::end_of_stream));
  EXPECT_FALSE(answer_failure(boost::beast::error::timeout));
  EXPECT_FALSE(answer_failure(boost::asio::error::connection_reset));
}

}  // namespace
