#include "archer/core/json_text.h"

#include <gtest/gtest.h>

namespace {

using archer::json_string;

TEST(JsonString, QuotesAndEscapesWhatJsonRequires) {
  EXPECT_EQ(json_string(""), R"("")");
  EXPECT_EQ(json_string(R"(a "b" \c)"), R"("a \"b\" \\c")");
  EXPECT_EQ(json_string("line\nnext\r\ttab"), R"("line\nnext\r\ttab")");
  EXPECT_EQ(json_string(std::string_view("\x01\0", 2)), R"("\u0001\u0000")");
}

TEST(JsonString, KeepsValidUtf8AndEscapesInvalidBytes) {
  EXPECT_EQ(json_string("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");
  EXPECT_EQ(json_string("\xff"), R"("\u00ff")");
  EXPECT_EQ(json_string("\xc3"), R"("\u00c3")");  // a sequence cut short
  EXPECT_EQ(json_string("</script>"), R"("</script>")");
}

}  // namespace
