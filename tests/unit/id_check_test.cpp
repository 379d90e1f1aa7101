// The device id rule in words: what an operator reads in a dead letter or an outcome.
#include "archer/core/id_check.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "archer/core/topic_template.h"

namespace archer {
namespace {

TEST(IdCheck, ValidIdsHaveNoProblem) {
  for (const std::string& id : std::vector<std::string>{"dev-a", "env-0001", "a", "A.b_c:d-9", std::string(128, 'x')}) {
    EXPECT_EQ(id_problem(id), "") << id;
  }
}

TEST(IdCheck, EachProblemIsNamed) {
  EXPECT_EQ(id_problem(""), "is empty");
  EXPECT_EQ(id_problem(std::string("a\0b", 3)), "contains a NUL byte");
  EXPECT_EQ(id_problem("dev-b/telemetry"), "contains '/' (a topic level separator)");
  EXPECT_EQ(id_problem("dev+"), "contains the MQTT wildcard '+'");
  EXPECT_EQ(id_problem("#"), "contains the MQTT wildcard '#'");
  EXPECT_EQ(id_problem(std::string(129, 'x')), "is 129 bytes long, over the limit of 128");
  EXPECT_EQ(id_problem("bad id!"), "contains ' ' (allowed: A-Z a-z 0-9 . _ : -)");
  EXPECT_EQ(id_problem("caf\xc3\xa9"), "contains '\\xc3' (allowed: A-Z a-z 0-9 . _ : -)") << "UTF-8, not an id";
}

TEST(IdCheck, InvalidUtf8IsNamedAsSuch) {
  for (const std::string& bad :
       std::vector<std::string>{"\xc3", "a\xc3(", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\xe2\x82"}) {
    EXPECT_EQ(id_problem(bad), "is not valid UTF-8") << printable_id(bad);
  }
}

TEST(IdCheck, AgreesWithIsValidId) {
  for (const std::string& id :
       std::vector<std::string>{"dev-a", "", "a/b", "a+b", "a#", "a b", "x\xc3\xa9", std::string(128, 'a'),
                                std::string(129, 'a'), std::string("\0", 1), "-", "..", "::"}) {
    EXPECT_EQ(id_problem(id).empty(), is_valid_id(id)) << printable_id(id);
  }
}

TEST(IdCheck, PrintableEscapesAndCuts) {
  EXPECT_EQ(printable_id("dev-a"), "dev-a");
  EXPECT_EQ(printable_id(std::string("a\0\\\n", 4)), "a\\x00\\x5c\\x0a");
  EXPECT_EQ(printable_id(std::string(200, 'd')), std::string(64, 'd') + "... (200 bytes)");
  EXPECT_EQ(printable_id("abcdef", 3), "abc... (6 bytes)");
}

}  // namespace
}  // namespace archer
