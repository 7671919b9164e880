// sft::strict_check: each rule fires on exactly the input that breaks it, with
// its rule name, offset and tensor, and stays silent on a strictly clean file.
#include "sft/strict.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sft/header.hpp"
#include "test_support.hpp"

namespace {

using sft::Errc;
using sft::Error;
using sft::test::make_file;

// JSON padded with spaces to a multiple of 8, as the reference writer does.
std::string padded(std::string json) {
  json.append((8 - json.size() % 8) % 8, ' ');
  return json;
}

struct Checked {
  bool parsed = false;
  Error parse_error;
  std::vector<Error> findings;
};

Checked check(const std::vector<std::byte>& file) {
  Checked c;
  auto h = sft::parse_header(file, file.size());
  if (!h) {
    c.parse_error = h.error();
    return c;
  }
  c.parsed = true;
  c.findings = sft::strict_check(file, *h);
  return c;
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

TEST(Strict, CleanFileHasNoFindings) {
  auto c = check(make_file(padded(R"({"__metadata__":{"a":"b"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}})"),
                           11));
  ASSERT_TRUE(c.parsed) << c.parse_error.to_string();
  EXPECT_TRUE(c.findings.empty()) << c.findings.front().to_string();
}

TEST(Strict, EmptyTensorAtTheEndIsClean) {
  auto c = check(make_file(padded(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                  R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}})"),
                           4));
  ASSERT_TRUE(c.parsed) << c.parse_error.to_string();
  EXPECT_TRUE(c.findings.empty()) << c.findings.front().to_string();
}

TEST(Strict, LeadingWhitespace) {
  auto c = check(make_file(padded(R"(  {"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})"), 1));
  ASSERT_TRUE(c.parsed) << c.parse_error.to_string();
  ASSERT_EQ(c.findings.size(), 1u);
  EXPECT_EQ(c.findings[0].code, Errc::strict_violation);
  EXPECT_TRUE(starts_with(c.findings[0].message, "header_start: ")) << c.findings[0].message;
  EXPECT_EQ(c.findings[0].offset, 8u);
}

TEST(Strict, PaddingOtherThanSpaces) {
  std::string json = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  json += "  \t\n";
  json = padded(json);  // spaces after the tab and LF are fine; the tab is reported
  auto c = check(make_file(json, 1));
  ASSERT_TRUE(c.parsed) << c.parse_error.to_string();
  ASSERT_EQ(c.findings.size(), 1u);
  EXPECT_TRUE(starts_with(c.findings[0].message, "header_padding: ")) << c.findings[0].message;
  EXPECT_EQ(c.findings[0].offset, 8u + json.find('\t'));
}

TEST(Strict, SpacePaddingIsClean) {
  auto c = check(make_file(std::string(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})") + "          ", 1));
  ASSERT_TRUE(c.parsed) << c.parse_error.to_string();
  for (const auto& f : c.findings) EXPECT_FALSE(starts_with(f.message, "header_padding")) << f.message;
}

TEST(Strict, HeaderLengthNotAMultipleOf8) {
  std::string json = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  ASSERT_NE(json.size() % 8, 0u);
  auto c = check(make_file(json, 1));
  ASSERT_TRUE(c.parsed) << c.parse_error.to_string();
  ASSERT_EQ(c.findings.size(), 1u);
  EXPECT_TRUE(starts_with(c.findings[0].message, "header_alignment: ")) << c.findings[0].message;
  EXPECT_EQ(c.findings[0].offset, 0u);
}

TEST(Strict, UnknownFieldsNameTheTensorAndField) {
  auto c = check(make_file(
      padded(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":{"x":[1]},"dtype\u0000":1}})"), 1));
  ASSERT_TRUE(c.parsed) << c.parse_error.to_string();
  ASSERT_EQ(c.findings.size(), 2u);
  EXPECT_TRUE(starts_with(c.findings[0].message, "unknown_field: ")) << c.findings[0].message;
  EXPECT_NE(c.findings[0].message.find("\"extra\""), std::string::npos) << c.findings[0].message;
  EXPECT_EQ(c.findings[0].tensor, "w");
  EXPECT_EQ(c.findings[0].offset, Error::no_offset);
  // The field name is quoted as JSON: the NUL stays visible and the message one line.
  EXPECT_NE(c.findings[1].message.find(R"("dtype\u0000")"), std::string::npos) << c.findings[1].message;
}

TEST(Strict, MisalignedTensorRelativeToTheDataBuffer) {
  const std::string json = padded(R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                  R"("h":{"dtype":"F16","shape":[1],"data_offsets":[2,4]},)"
                                  R"("f":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                                  R"("g":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},)"
                                  R"("c":{"dtype":"U8","shape":[2],"data_offsets":[16,18]},)"
                                  R"("x":{"dtype":"I32","shape":[1],"data_offsets":[18,22]}})");
  auto c = check(make_file(json, 22));
  ASSERT_TRUE(c.parsed) << c.parse_error.to_string();
  ASSERT_EQ(c.findings.size(), 1u) << c.findings.front().to_string();
  const auto& f = c.findings[0];
  EXPECT_TRUE(starts_with(f.message, "tensor_alignment: ")) << f.message;
  EXPECT_EQ(f.tensor, "x");
  EXPECT_EQ(f.offset, 8 + json.size() + 18);  // where the data lies in the file
}

TEST(Strict, SubByteDtypesAreAlwaysAligned) {
  auto c = check(make_file(padded(R"({"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                  R"("q":{"dtype":"F4","shape":[2],"data_offsets":[1,2]},)"
                                  R"("s":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[2,5]}})"),
                           5));
  ASSERT_TRUE(c.parsed) << c.parse_error.to_string();
  EXPECT_TRUE(c.findings.empty()) << c.findings.front().to_string();
}

TEST(Strict, EmptyTensorSharingABeginWithANonEmptyOne) {
  auto file = make_file(padded(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                               R"("e1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                               R"("e2":{"dtype":"I64","shape":[2,0],"data_offsets":[4,4]},)"
                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                               R"("e3":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}})"),
                        8);
  auto c = check(file);
  ASSERT_TRUE(c.parsed) << c.parse_error.to_string();
  std::vector<std::string> tensors;
  for (const auto& f : c.findings) {
    if (!starts_with(f.message, "empty_tensor_offset: ")) continue;
    tensors.push_back(f.tensor);
    EXPECT_NE(f.message.find("\"b\""), std::string::npos) << f.message;
  }
  // e3 sits at the end of the buffer: no non-empty tensor begins there.
  EXPECT_EQ(tensors, (std::vector<std::string>{"e1", "e2"}));
  // e2 is an I64 at offset 4: misaligned as well, reported by its own rule.
  ASSERT_FALSE(c.findings.empty());
  EXPECT_TRUE(starts_with(c.findings[0].message, "tensor_alignment: ")) << c.findings[0].message;
  EXPECT_EQ(c.findings[0].tensor, "e2");
}

TEST(Strict, ShortPrefixIsAnInvalidArgumentNotACrash) {
  auto file = make_file(padded(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})"), 1);
  auto h = sft::parse_header(file, file.size());
  ASSERT_TRUE(h) << h.error().to_string();
  auto findings = sft::strict_check(std::span(file).first(10), *h);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].code, Errc::invalid_argument);
  EXPECT_TRUE(sft::strict_check({}, *h).at(0).code == Errc::invalid_argument);
}

TEST(Strict, EveryRuleAtOnceInTheDocumentedOrder) {
  std::string json = R"( {"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":0},)"
                     R"("e":{"dtype":"U8","shape":[0],"data_offsets":[1,1]},)"
                     R"("f":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})";
  json += "\n";
  if (json.size() % 8 == 0) json += " ";
  auto c = check(make_file(json, 5));
  ASSERT_TRUE(c.parsed) << c.parse_error.to_string();
  std::vector<std::string> rules;
  for (const auto& f : c.findings) rules.push_back(f.message.substr(0, f.message.find(':')));
  EXPECT_EQ(rules, (std::vector<std::string>{"header_start", "header_padding", "header_alignment", "unknown_field",
                                             "tensor_alignment", "empty_tensor_offset"}));
}

}  // namespace
