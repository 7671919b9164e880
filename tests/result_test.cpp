// Result<T> composition: SFT_TRY, SFT_TRY_ASSIGN, and_then, transform,
// value_or, with_tensor / with_context, and the rule that an Error held by a
// Result never has code ok.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "sft/result.hpp"

namespace {

using sft::Errc;
using sft::Error;
using sft::Result;

Result<int> parse_positive(int x) {
  if (x <= 0) return Error(Errc::invalid_argument, "not positive", 7, "t");
  return x;
}

Result<void> check_even(int x) {
  if (x % 2) return Error(Errc::bad_schema, "odd");
  return {};
}

Result<int> twice_if_even(int x) {
  SFT_TRY_ASSIGN(int v, parse_positive(x));
  SFT_TRY(check_even(v).with_tensor("w"));
  return 2 * v;
}

TEST(Result, TryPropagatesTheFirstErrorAndItsContext) {
  ASSERT_TRUE(twice_if_even(4));
  EXPECT_EQ(*twice_if_even(4), 8);
  auto neg = twice_if_even(-1);
  ASSERT_FALSE(neg);
  EXPECT_EQ(neg.error().code, Errc::invalid_argument);
  EXPECT_EQ(neg.error().offset, 7u);
  EXPECT_EQ(neg.error().tensor, "t");
  auto odd = twice_if_even(3);
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().code, Errc::bad_schema);
  EXPECT_EQ(odd.error().tensor, "w");
}

TEST(Result, AndThenTransformAndValueOr) {
  auto r = parse_positive(3).and_then([](int v) -> Result<std::string> { return std::to_string(v); });
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "3");
  auto e = parse_positive(0).and_then([](int) -> Result<std::string> {
    ADD_FAILURE() << "called on an error";
    return std::string();
  });
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Errc::invalid_argument);
  EXPECT_EQ(parse_positive(5).transform([](int v) { return v + 1; }).value_or(-1), 6);
  EXPECT_EQ(parse_positive(-5).transform([](int v) { return v + 1; }).value_or(-1), -1);
  Result<void> v = parse_positive(2).transform([](int) {});
  EXPECT_TRUE(v);
  auto chained = check_even(2).and_then([] { return parse_positive(9); });
  ASSERT_TRUE(chained);
  EXPECT_EQ(*chained, 9);
  EXPECT_FALSE(check_even(1).transform([] { return 1; }));
  // Move-only values pass through.
  auto p = Result<std::unique_ptr<int>>(std::make_unique<int>(4)).transform([](std::unique_ptr<int> q) { return *q; });
  EXPECT_EQ(p.value_or(0), 4);
}

TEST(Result, ErrorContextComposes) {
  Error e(Errc::io_error, "short read", 10);
  auto named = e.with_tensor("a").with_tensor("b");  // the innermost name stays
  EXPECT_EQ(named.tensor, "a");
  auto ctx = std::move(named).with_context("model.safetensors");
  EXPECT_EQ(ctx.message, "model.safetensors: short read");
  EXPECT_EQ(ctx.to_string(), "io_error: model.safetensors: short read (offset 10, tensor a)");
  EXPECT_EQ(Error(Errc::io_error, "x").with_offset(5).offset, 5u);
  EXPECT_EQ(Error(Errc::io_error, "x", 3).with_offset(5).offset, 3u);
  auto r = Result<void>(Error(Errc::not_found, "gone")).with_context("ckpt");
  EXPECT_EQ(r.error().message, "ckpt: gone");
  EXPECT_TRUE(Result<void>().with_context("unused"));
}

TEST(Result, AnErrorWithCodeOkIsNeverSuccess) {
  Result<void> v{Error{}};
  EXPECT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::internal);
  Result<int> i{Error(Errc::ok, "oops")};
  ASSERT_FALSE(i);
  EXPECT_EQ(i.error().code, Errc::internal);
  EXPECT_NE(i.error().message.find("oops"), std::string::npos);
}

}  // namespace
