#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "archer/core/log.h"
#include "archer/core/log_config.h"

namespace {

using archer::log::Format;
using archer::log::format_line;
using archer::log::Level;

constexpr std::string_view kTs = "2026-11-27T09:00:00.123Z";

TEST(RateLimit, OneLinePerIntervalWithTheCountHeldBack) {
  archer::log::RateLimit limit(std::chrono::seconds(10));
  std::uint64_t suppressed = 99;
  ASSERT_TRUE(limit.allow(suppressed, 1'000'000));
  EXPECT_EQ(suppressed, 0u);
  for (std::int64_t at = 1'000'001; at < 1'000'004; ++at) EXPECT_FALSE(limit.allow(suppressed, at));
  EXPECT_FALSE(limit.allow(suppressed, 1'009'999));
  ASSERT_TRUE(limit.allow(suppressed, 1'010'000));
  EXPECT_EQ(suppressed, 4u) << "the lines held back since the last one written";
  ASSERT_TRUE(limit.allow(suppressed, 1'020'000));
  EXPECT_EQ(suppressed, 0u);
}

TEST(LogFormat, TextIsTheLineAsItWas) {
  EXPECT_EQ(format_line(Format::text, kTs, Level::warn, "ingest", "telemetry: bad_json from 'x'"),
            "2026-11-27T09:00:00.123Z warn  ingest: telemetry: bad_json from 'x'\n");
  EXPECT_EQ(format_line(Format::text, "", Level::error, "spool", "full", 3), "error spool: full\n")
      << "no time without a timestamp; the count is in the message the caller wrote";
}

TEST(LogFormat, Logfmt) {
  EXPECT_EQ(format_line(Format::logfmt, kTs, Level::warn, "ingest", "spool full (12 similar lines suppressed)", 12),
            "ts=2026-11-27T09:00:00.123Z level=warn component=ingest msg=\"spool full (12 similar lines suppressed)\" "
            "suppressed=12\n");
  EXPECT_EQ(format_line(Format::logfmt, "", Level::info, "mqtt", "connected"),
            "level=info component=mqtt msg=connected\n");
  EXPECT_EQ(format_line(Format::logfmt, "", Level::debug, "x", ""), "level=debug component=x msg=\"\"\n");
  EXPECT_EQ(format_line(Format::logfmt, "", Level::info, "x", "a=b"), "level=info component=x msg=\"a=b\"\n");
}

TEST(LogFormat, LogfmtQuotesAndEscapes) {
  EXPECT_EQ(format_line(Format::logfmt, "", Level::error, "x", "say \"hi\"\\\n\tnext\r\x01\x7f"),
            "level=error component=x msg=\"say \\\"hi\\\"\\\\\\n\\tnext\\r\\u0001\\u007f\"\n");
  EXPECT_EQ(format_line(Format::logfmt, "", Level::info, "x", "caf\xC3\xA9"),
            "level=info component=x msg=caf\xC3\xA9\n")
      << "valid UTF-8 stays as it is";
  EXPECT_EQ(format_line(Format::logfmt, "", Level::info, "x", "a\xFF"),
            "level=info component=x msg=\"a\xEF\xBF\xBD\"\n")
      << "a byte that is not UTF-8 becomes U+FFFD";
}

TEST(LogFormat, Json) {
  EXPECT_EQ(format_line(Format::json, kTs, Level::warn, "ingest", "a \"quoted\" line", 4),
            "{\"ts\":\"2026-11-27T09:00:00.123Z\",\"level\":\"warn\",\"component\":\"ingest\","
            "\"msg\":\"a \\\"quoted\\\" line\",\"suppressed\":4}\n");
  EXPECT_EQ(format_line(Format::json, "", Level::info, "x", "ok"),
            "{\"level\":\"info\",\"component\":\"x\",\"msg\":\"ok\"}\n");
}

TEST(LogFormat, JsonEscapesControlCharactersAndBytesThatAreNotUtf8) {
  const std::string message = std::string("a\nb\\c\x1f") + '\0' + "\xC0\xAF" + "\xED\xA0\x80" + "\xE2\x82" +
                              "\xF0\x9F\x98\x80" + "\xE2\x82\xAC";
  EXPECT_EQ(format_line(Format::json, "", Level::info, "x", message),
            "{\"level\":\"info\",\"component\":\"x\",\"msg\":\"a\\nb\\\\c\\u001f\\u0000"
            "\xEF\xBF\xBD\xEF\xBF\xBD"              // an overlong '/'
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"  // a surrogate
            "\xEF\xBF\xBD\xEF\xBF\xBD"              // a sequence cut short
            "\xF0\x9F\x98\x80\xE2\x82\xAC\"}\n");   // valid 4- and 3-byte sequences stay
}

TEST(LogFormat, ParsesItsNames) {
  Format format{};
  ASSERT_TRUE(archer::log::parse_format("logfmt", format));
  EXPECT_EQ(format, Format::logfmt);
  ASSERT_TRUE(archer::log::parse_format("json", format));
  EXPECT_EQ(format, Format::json);
  ASSERT_TRUE(archer::log::parse_format("text", format));
  EXPECT_EQ(format, Format::text);
  EXPECT_FALSE(archer::log::parse_format("JSON", format));
  EXPECT_EQ(archer::log::format_name(Format::logfmt), "logfmt");
}

// Lines written to stderr while it lives, in a file, and the process's level and format as they were.
class CapturedStderr {
 public:
  CapturedStderr() : level_(archer::log::level()), format_(archer::log::format()) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    path_ = ::testing::TempDir() + "archer-log-test-" + std::to_string(::getpid());
    const int fd = ::open(path_.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~CapturedStderr() {
    restore();
    ::unlink(path_.c_str());
    archer::log::set_level(level_);
    archer::log::set_format(format_);
  }
  std::string text() {
    restore();
    std::string out;
    if (std::FILE* in = std::fopen(path_.c_str(), "rb")) {
      char buffer[4096];
      for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, in)) > 0;) out.append(buffer, n);
      std::fclose(in);
    }
    return out;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  Level level_;
  Format format_;
  int saved_ = -1;
  std::string path_;
};

std::string without_ts(const std::string& lines) {
  // ARCHER_LOG_TIMESTAMPS may or may not be set where the test runs.
  std::string out;
  std::size_t at = 0;
  while (at < lines.size()) {
    std::size_t end = lines.find('\n', at);
    std::string line = lines.substr(at, end - at + 1);
    if (line.rfind("ts=", 0) == 0) line.erase(0, line.find(' ') + 1);
    out += line;
    at = end + 1;
  }
  return out;
}

TEST(LogLine, TheCountARateLimitHeldBackGoesToTheNextLineOfTheThreadOnly) {
  CapturedStderr captured;
  archer::log::set_level(Level::info);
  archer::log::set_format(Format::logfmt);
  archer::log::RateLimit limit(std::chrono::seconds(10));
  std::uint64_t suppressed = 0;
  ASSERT_TRUE(limit.allow(suppressed, 1'000'000));
  ASSERT_FALSE(limit.allow(suppressed, 1'000'001));
  ASSERT_FALSE(limit.allow(suppressed, 1'000'002));
  ASSERT_TRUE(limit.allow(suppressed, 1'010'000));
  ASSERT_EQ(suppressed, 2u);
  archer::log::warn("ingest", "bad ({} similar lines suppressed)", suppressed);
  archer::log::info("ingest", "next");
  // A line the level filters out takes its count with it.
  ASSERT_TRUE(limit.allow(suppressed, 1'020'000));
  ASSERT_FALSE(limit.allow(suppressed, 1'020'001));
  ASSERT_TRUE(limit.allow(suppressed, 1'030'000));
  archer::log::debug("ingest", "filtered");
  archer::log::info("ingest", "after");
  EXPECT_EQ(without_ts(captured.text()),
            "level=warn component=ingest msg=\"bad (2 similar lines suppressed)\" suppressed=2\n"
            "level=info component=ingest msg=next\n"
            "level=info component=ingest msg=after\n");
}

TEST(LogConfig, TheFlagsWinOverTheConfigAtStartAndOnReload) {
  CapturedStderr restore_level_and_format;
  archer::apply_log_config(archer::LogConfig{Level::debug, Format::json}, archer::LogFlags{});
  EXPECT_EQ(archer::log::level(), Level::debug);
  EXPECT_EQ(archer::log::format(), Format::json);

  archer::apply_log_config(archer::LogConfig{Level::debug, Format::json}, archer::LogFlags{Level::warn, std::nullopt});
  EXPECT_EQ(archer::log::level(), Level::warn) << "--log-level wins";
  EXPECT_EQ(archer::log::format(), Format::json) << "the config's format, no flag given";

  archer::apply_log_config(archer::LogConfig{Level::error, Format::logfmt});  // a reload
  EXPECT_EQ(archer::log::level(), Level::warn) << "the flag still wins after a reload";
  EXPECT_EQ(archer::log::format(), Format::logfmt) << "a reload applies the new format";

  archer::apply_log_config(archer::LogConfig{}, archer::LogFlags{});
  EXPECT_EQ(archer::log::level(), Level::info);
  EXPECT_EQ(archer::log::format(), Format::text);
}

}  // namespace
