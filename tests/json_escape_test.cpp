// src/json_escape: JSON string literals, byte-exact against what serde_json and
// Python's json.dumps(ensure_ascii=False) write for the same strings.
#include "sft_internal/json_escape.hpp"

#include <gtest/gtest.h>

#include <string>

using sft::detail::json_string;
using namespace std::string_literals;

TEST(JsonEscape, PlainAsciiIsQuotedOnly) {
  EXPECT_EQ(json_string("model.layers.0.weight"), "\"model.layers.0.weight\"");
  EXPECT_EQ(json_string(""), "\"\"");
}

TEST(JsonEscape, QuoteAndBackslash) {
  EXPECT_EQ(json_string("a\"b\\c"), R"("a\"b\\c")");
}

TEST(JsonEscape, ShortEscapesForTheFiveNamedControls) {
  EXPECT_EQ(json_string("\b\f\n\r\t"), R"("\b\f\n\r\t")");
}

TEST(JsonEscape, OtherControlsAsLowercaseU00xx) {
  EXPECT_EQ(json_string("a\0b"s), R"("a\u0000b")");
  EXPECT_EQ(json_string("\x01\x1f\x0b"), R"("\u0001\u001f\u000b")");
  EXPECT_EQ(json_string("\x1a"), R"("\u001a")");
}

TEST(JsonEscape, DelAndValidUtf8StayRaw) {
  EXPECT_EQ(json_string("\x7f"), "\"\x7f\"");
  const std::string s = "na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";  // naïve 日本 😀
  EXPECT_EQ(json_string(s), "\"" + s + "\"");
}

TEST(JsonEscape, InvalidUtf8BecomesReplacementCharacterPerByte) {
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(json_string("a\xff" "b"), "\"a" + fffd + "b\"");
  EXPECT_EQ(json_string("\xc0\xaf"), "\"" + fffd + fffd + "\"");          // overlong '/'
  EXPECT_EQ(json_string("\xed\xa0\x80"), "\"" + fffd + fffd + fffd + "\"");  // encoded surrogate
  EXPECT_EQ(json_string("\xe6\x97"), "\"" + fffd + fffd + "\"");          // truncated sequence
}

TEST(JsonEscape, AppendsToExistingText) {
  std::string out = "x=";
  sft::detail::append_json_string(out, "\n");
  EXPECT_EQ(out, R"(x="\n")");
}
