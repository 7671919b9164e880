// Tensor-parallel plans: the JSON form (every malformed input with its code and
// offset), glob and {e} matching, assignments and their errors, torch.chunk
// bounds, expert ownership, each rank's part.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sft/tensor_parallel.hpp"

namespace {

using sft::Errc;
using sft::Placement;
using sft::TensorInfo;
using sft::TensorParallelPlan;

constexpr std::string_view kIssueExample =
    R"({"rules": [{"match": "*.q_proj.weight", "split": 0}, {"match": "*.o_proj.weight", "split": 1},)"
    R"( {"match": "*.mlp.experts.{e}.*", "experts": 128}, {"match": "*.norm.weight", "replicate": true}],)"
    R"( "default": "replicate"})";

struct Tensor {
  std::string name;
  sft::DType dtype;
  std::vector<std::uint64_t> shape;
  TensorInfo info() const {
    TensorInfo t;
    t.name = name;
    t.dtype = dtype;
    t.shape = shape;
    std::uint64_t bits = sft::bits(dtype);
    for (auto d : shape) bits *= d;
    t.data_offsets = {0, bits / 8};
    return t;
  }
};

TensorParallelPlan parse_ok(std::string_view json) {
  auto p = TensorParallelPlan::parse(json);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().to_string());
  return p.ok() ? std::move(*p) : TensorParallelPlan{};
}

TEST(PlanJson, IssueExampleParses) {
  const auto plan = parse_ok(kIssueExample);
  ASSERT_EQ(plan.rules.size(), 4u);
  EXPECT_EQ(plan.rules[0].match, "*.q_proj.weight");
  EXPECT_EQ(plan.rules[0].placement, Placement::split);
  EXPECT_EQ(plan.rules[0].dim, 0u);
  EXPECT_EQ(plan.rules[1].dim, 1u);
  EXPECT_EQ(plan.rules[2].placement, Placement::expert);
  EXPECT_EQ(plan.rules[2].experts, 128u);
  EXPECT_EQ(plan.rules[3].placement, Placement::replicate);
  EXPECT_EQ(plan.default_placement, Placement::replicate);
  EXPECT_EQ(plan.uneven, sft::UnevenSplit::chunk);
  // Each rule knows where it is in the text (for messages).
  EXPECT_EQ(plan.rules[0].offset, kIssueExample.find("{\"match\": \"*.q_proj"));
}

TEST(PlanJson, RoundTripsThroughToJson) {
  const auto plan = parse_ok(
      R"({"rules":[{"match":"a\"b\\c\u00e9","split":3},{"match":"x.{e}","experts":7},{"match":"s","skip":true}],)"
      R"("default":"skip","uneven":"error"})");
  const auto again = parse_ok(plan.to_json());
  ASSERT_EQ(again.rules.size(), 3u);
  EXPECT_EQ(again.rules[0].match, "a\"b\\c\xc3\xa9");
  EXPECT_EQ(again.rules[0].dim, 3u);
  EXPECT_EQ(again.rules[1].experts, 7u);
  EXPECT_EQ(again.rules[2].placement, Placement::skip);
  EXPECT_EQ(again.default_placement, Placement::skip);
  EXPECT_EQ(again.uneven, sft::UnevenSplit::error);
  EXPECT_EQ(again.to_json(), plan.to_json());
}

TEST(PlanJson, EmptyPlansAreValid) {
  EXPECT_TRUE(parse_ok("{}").rules.empty());
  EXPECT_TRUE(parse_ok(R"( {"rules": []} )").rules.empty());
}

struct Bad {
  const char* json;
  Errc code;
  std::uint64_t offset;  // ~0: no offset
};

TEST(PlanJson, MalformedPlansHaveSpecificErrorsAndOffsets) {
  const std::uint64_t none = sft::Error::no_offset;
  const std::vector<Bad> cases = {
      {R"({"rules": [)", Errc::plan_invalid, 11},                           // ends inside the array
      {R"({"rules": [] } x)", Errc::plan_invalid, 15},                      // trailing bytes
      {"[1]", Errc::plan_invalid, 0},                                         // not an object
      {R"({"rule": []})", Errc::plan_invalid, 1},                            // unknown key (a typo)
      {R"({"rules": [], "rules": []})", Errc::plan_invalid, 14},            // repeated key
      {R"({"rules": {}})", Errc::plan_invalid, 10},                          // not an array
      {R"({"rules": [3]})", Errc::plan_invalid, 11},                         // a rule that is not an object
      {R"({"rules": [{"split": 0}]})", Errc::plan_invalid, 11},              // no match
      {R"({"rules": [{"match": "a"}]})", Errc::plan_invalid, 11},            // no placement
      {R"({"rules": [{"match": "a", "split": 0, "replicate": true}]})", Errc::plan_invalid, 38},  // two
      {R"({"rules": [{"match": "a", "split": -1}]})", Errc::plan_invalid, 35},
      {R"({"rules": [{"match": "a", "split": 1.0}]})", Errc::plan_invalid, 35},
      {R"({"rules": [{"match": "a", "split": "0"}]})", Errc::plan_invalid, 35},
      {R"({"rules": [{"match": "a", "split": 4294967296}]})", Errc::plan_invalid, 35},
      {R"({"rules": [{"match": 5, "split": 0}]})", Errc::plan_invalid, 21},
      {R"({"rules": [{"match": "a", "replicate": false}]})", Errc::plan_invalid, 39},
      {R"({"rules": [{"match": "a", "Split": 0}]})", Errc::plan_invalid, 26},
      {R"({"rules": [{"match": "a", "match": "b", "split": 0}]})", Errc::plan_invalid, 26},
      {R"({"rules": [{"match": "e.{e}", "experts": 0}]})", Errc::plan_experts, 41},
      {R"({"rules": [{"match": "e.*", "experts": 4}]})", Errc::plan_experts, 21},
      {R"({"rules": [{"match": "{e}.{e}", "experts": 4}]})", Errc::plan_experts, 21},
      {R"({"rules": [{"match": "e.{e}", "split": 0}]})", Errc::plan_experts, 21},
      {R"({"default": "split"})", Errc::plan_invalid, 12},
      {R"({"default": 1})", Errc::plan_invalid, 12},
      {R"({"uneven": "pad"})", Errc::plan_invalid, 11},
      {"{\"rules\": [{\"match\": \"\xff\", \"split\": 0}]}", Errc::plan_invalid, 22},  // not UTF-8
      {R"({"rules": [{"match": "a", "split": 0}}])", Errc::plan_invalid, none},    // bad nesting
  };
  for (const Bad& b : cases) {
    auto p = TensorParallelPlan::parse(b.json);
    ASSERT_FALSE(p.ok()) << b.json;
    EXPECT_EQ(p.error().code, b.code) << b.json << " -> " << p.error().to_string();
    if (b.offset != none) EXPECT_EQ(p.error().offset, b.offset) << b.json << " -> " << p.error().to_string();
    else EXPECT_NE(p.error().offset, none) << b.json;
  }
}

TEST(PlanJson, LimitsBoundTheText) {
  sft::PlanLimits limits;
  limits.max_plan_bytes = 10;
  EXPECT_EQ(TensorParallelPlan::parse(kIssueExample, limits).error().code, Errc::plan_invalid);
  limits = {};
  limits.max_rules = 2;
  auto many = TensorParallelPlan::parse(kIssueExample, limits);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error().code, Errc::plan_invalid);
  EXPECT_EQ(many.error().offset, kIssueExample.find("{\"match\": \"*.mlp"));
  limits = {};
  limits.max_pattern_bytes = 5;
  EXPECT_EQ(TensorParallelPlan::parse(kIssueExample, limits).error().code, Errc::plan_invalid);
  // Nesting deeper than a plan needs is refused before any walk.
  std::string deep = "{\"rules\":[{\"match\":\"a\",\"split\":0,\"x\":" + std::string(40, '[') + std::string(40, ']') + "}]}";
  EXPECT_EQ(TensorParallelPlan::parse(deep).error().code, Errc::plan_invalid);
}

TEST(PlanJson, ReadNamesTheFile) {
  auto missing = TensorParallelPlan::read("/nonexistent/plan.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::io_error);
  EXPECT_NE(missing.error().message.find("/nonexistent/plan.json"), std::string::npos);
}

TEST(Glob, StarQuestionAndLiterals) {
  EXPECT_TRUE(sft::glob_match("*.q_proj.weight", "model.layers.0.self_attn.q_proj.weight"));
  EXPECT_FALSE(sft::glob_match("*.q_proj.weight", "model.layers.0.self_attn.q_proj.bias"));
  EXPECT_TRUE(sft::glob_match("*", ""));
  EXPECT_TRUE(sft::glob_match("a*b*c", "axxbyyc"));
  EXPECT_FALSE(sft::glob_match("a*b*c", "axxbyy"));
  EXPECT_TRUE(sft::glob_match("a?c", "abc"));
  EXPECT_FALSE(sft::glob_match("a?c", "ac"));
  EXPECT_TRUE(sft::glob_match("layers.*.w", "layers.1.2.w"));  // * crosses dots
  EXPECT_FALSE(sft::glob_match("[ab]", "a"));                  // brackets are literal
  EXPECT_TRUE(sft::glob_match("[ab]", "[ab]"));
  EXPECT_TRUE(sft::glob_match("a\\b", "a\\b"));                 // no escapes
  // A pattern that makes naive backtracking exponential finishes (and fails).
  const std::string name(5000, 'a');
  EXPECT_FALSE(sft::glob_match(std::string(50, '*') + "a*a*a*a*a*a*a*a*a*b", name));
}

TEST(Glob, ExpertIndexIsAMaximalDigitRun) {
  const auto plan = parse_ok(R"({"rules":[{"match":"*.experts.{e}.*","experts":1000000}]})");
  std::uint64_t e = 0;
  EXPECT_EQ(plan.match("model.layers.3.mlp.experts.17.down_proj.weight", &e), 0u);
  EXPECT_EQ(e, 17u);
  EXPECT_EQ(plan.match("x.experts.007.w", &e), 0u);
  EXPECT_EQ(e, 7u);
  EXPECT_EQ(plan.match("x.experts..w"), sft::TensorAssignment::no_rule);     // no digits
  EXPECT_EQ(plan.match("x.experts.1a.w"), sft::TensorAssignment::no_rule);   // not only digits before the dot
  const auto tail = parse_ok(R"({"rules":[{"match":"w{e}","experts":100}]})");
  EXPECT_EQ(tail.match("w12", &e), 0u);
  EXPECT_EQ(e, 12u);
  EXPECT_EQ(tail.match("w1x"), sft::TensorAssignment::no_rule);
  // The leftmost run that lets the whole name match.
  const auto two = parse_ok(R"({"rules":[{"match":"*{e}*","experts":100}]})");
  EXPECT_EQ(two.match("a12b34", &e), 0u);
  EXPECT_EQ(e, 12u);
  // Digits beyond 64 bits read as ~0 (and are then plan_experts).
  EXPECT_EQ(plan.match("x.experts.99999999999999999999999.w", &e), 0u);
  EXPECT_EQ(e, ~std::uint64_t{0});
}

TEST(Assign, FirstMatchWinsThenTheDefault) {
  auto plan = parse_ok(R"({"rules":[{"match":"a.*","split":0},{"match":"a.b","replicate":true}],"default":"skip"})");
  Tensor t{"a.b", sft::DType::F32, {4, 4}};
  auto a = plan.assign(t.info(), 2);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->placement, Placement::split);
  EXPECT_EQ(a->rule, 0u);
  Tensor other{"c", sft::DType::F32, {4}};
  auto d = plan.assign(other.info(), 2);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->placement, Placement::skip);
  EXPECT_EQ(d->rule, sft::TensorAssignment::no_rule);
}

TEST(Assign, SplitErrorsNameTheTensorAndTheRule) {
  const std::string json = R"({"rules":[{"match":"*","split":2}]})";
  auto plan = parse_ok(json);
  Tensor t{"w", sft::DType::F32, {4, 4}};
  auto a = plan.assign(t.info(), 2);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, Errc::plan_split);
  EXPECT_EQ(a.error().tensor, "w");
  EXPECT_EQ(a.error().offset, json.find("{\"match\""));
  Tensor scalar{"s", sft::DType::F32, {}};
  EXPECT_EQ(parse_ok(R"({"rules":[{"match":"*","split":0}]})").assign(scalar.info(), 1).error().code, Errc::plan_split);
  EXPECT_EQ(plan.assign(t.info(), 0).error().code, Errc::invalid_argument);
}

TEST(Assign, UnevenSplitsFollowThePlansRule) {
  Tensor t{"w", sft::DType::BF16, {10, 4}};
  auto chunk = parse_ok(R"({"rules":[{"match":"*","split":0}]})");
  EXPECT_TRUE(chunk.assign(t.info(), 4).ok());
  auto strict = parse_ok(R"({"rules":[{"match":"*","split":0}],"uneven":"error"})");
  auto a = strict.assign(t.info(), 4);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, Errc::plan_split);
  EXPECT_TRUE(strict.assign(t.info(), 5).ok());
  EXPECT_TRUE(strict.assign(t.info(), 2).ok());
}

TEST(Assign, SubByteSplitsOnlyOnWholeBytes) {
  auto dim1 = parse_ok(R"({"rules":[{"match":"*","split":1}]})");
  // F4 [4, 24] split along dim 1: parts of 24/w nibbles, whole bytes for w = 2, 3, 4.
  Tensor f4{"q", sft::DType::F4, {4, 24}};
  for (std::uint32_t w : {1u, 2u, 3u, 4u}) EXPECT_TRUE(dim1.assign(f4.info(), w).ok()) << w;
  // [4, 6] in 4 parts: 2, 2, 2, 0 nibbles a row, whole bytes; [2, 5] in 4: 2, 2, 1, 0, half a byte.
  Tensor odd{"q", sft::DType::F4, {4, 6}};
  EXPECT_TRUE(dim1.assign(odd.info(), 4).ok());
  Tensor bad{"q", sft::DType::F4, {2, 5}};
  auto a = dim1.assign(bad.info(), 4);
  ASSERT_FALSE(a.ok());  // (the file itself is whole bytes: 10 nibbles)
  EXPECT_EQ(a.error().code, Errc::plan_subbyte);
  EXPECT_EQ(a.error().tensor, "q");
  // F6 along dim 0 with rows of 6 x 6 bits = 36 bits: a part of one row is not whole bytes.
  auto dim0 = parse_ok(R"({"rules":[{"match":"*","split":0}]})");
  Tensor f6{"r", sft::DType::F6_E2M3, {4, 6}};
  EXPECT_EQ(dim0.assign(f6.info(), 4).error().code, Errc::plan_subbyte);
  EXPECT_TRUE(dim0.assign(f6.info(), 2).ok());  // two rows: 72 bits = 9 bytes
  // A part that is the whole tensor is always fine.
  EXPECT_TRUE(dim0.assign(f6.info(), 1).ok());
}

TEST(Assign, ExpertIndexMustBeBelowTheCount) {
  auto plan = parse_ok(R"({"rules":[{"match":"experts.{e}.w","experts":8}]})");
  Tensor ok{"experts.7.w", sft::DType::F32, {2}};
  auto a = plan.assign(ok.info(), 4);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->expert, 7u);
  EXPECT_EQ(a->experts, 8u);
  Tensor bad{"experts.8.w", sft::DType::F32, {2}};
  auto b = plan.assign(bad.info(), 4);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, Errc::plan_experts);
  EXPECT_EQ(b.error().tensor, "experts.8.w");
}

TEST(Bounds, ChunkRangeIsTorchChunk) {
  auto sizes = [](std::uint64_t n, std::uint32_t w) {
    std::vector<std::uint64_t> s;
    for (std::uint32_t r = 0; r < w; ++r) {
      auto c = sft::chunk_range(n, r, w);
      s.push_back(c.stop - c.start);
    }
    return s;
  };
  EXPECT_EQ(sizes(10, 4), (std::vector<std::uint64_t>{3, 3, 3, 1}));
  EXPECT_EQ(sizes(5, 4), (std::vector<std::uint64_t>{2, 2, 1, 0}));
  EXPECT_EQ(sizes(8, 4), (std::vector<std::uint64_t>{2, 2, 2, 2}));
  EXPECT_EQ(sizes(2, 4), (std::vector<std::uint64_t>{1, 1, 0, 0}));
  EXPECT_EQ(sizes(0, 3), (std::vector<std::uint64_t>{0, 0, 0}));
  EXPECT_EQ(sft::chunk_range(10, 3, 4).start, 9u);
  EXPECT_EQ(sft::chunk_range(5, 3, 4).start, 5u);  // an empty part sits at the end
  // No overflow near the top of the range.
  const std::uint64_t big = ~std::uint64_t{0} - 1;
  EXPECT_EQ(sft::chunk_range(big, 3, 4).stop, big);
}

TEST(Bounds, ExpertRangeFloorsRankTimesEOverWorld) {
  std::vector<std::uint64_t> owner(10);
  for (std::uint32_t r = 0; r < 4; ++r) {
    auto e = sft::expert_range(10, r, 4);
    for (auto i = e.start; i < e.stop; ++i) owner[i] = r;
  }
  EXPECT_EQ(owner, (std::vector<std::uint64_t>{0, 0, 1, 1, 1, 2, 2, 3, 3, 3}));
  EXPECT_EQ(sft::expert_range(128, 7, 8).start, 112u);
  EXPECT_EQ(sft::expert_range(128, 7, 8).stop, 128u);
}

TEST(Part, ContiguousStridedAndInner) {
  auto plan = parse_ok(R"({"rules":[{"match":"col","split":0},{"match":"row","split":1},{"match":"inner","split":1}]})");
  Tensor col{"col", sft::DType::F32, {8, 6}};
  auto a = *plan.assign(col.info(), 4);
  auto p = sft::tensor_part(col.info(), a, 1, 4);
  EXPECT_TRUE(p.held);
  EXPECT_EQ(p.shape, (std::vector<std::uint64_t>{2, 6}));
  EXPECT_EQ(p.count, 1u);
  EXPECT_EQ(p.first, 2u * 6 * 4);
  EXPECT_EQ(p.byte_size(), 2u * 6 * 4);

  Tensor row{"row", sft::DType::BF16, {3, 10}};
  auto b = *plan.assign(row.info(), 4);
  auto q = sft::tensor_part(row.info(), b, 2, 4);  // columns 6..9
  EXPECT_EQ(q.shape, (std::vector<std::uint64_t>{3, 3}));
  EXPECT_EQ(q.count, 3u);
  EXPECT_EQ(q.run_bytes, 6u);
  EXPECT_EQ(q.stride, 20u);
  EXPECT_EQ(q.first, 12u);
  auto empty = sft::tensor_part(row.info(), b, 3, 4);  // column 9 only
  EXPECT_EQ(empty.shape, (std::vector<std::uint64_t>{3, 1}));

  Tensor inner{"inner", sft::DType::U8, {2, 5, 3}};
  auto c = *plan.assign(inner.info(), 2);
  auto r = sft::tensor_part(inner.info(), c, 1, 2);  // dim 1 indices 3..4
  EXPECT_EQ(r.shape, (std::vector<std::uint64_t>{2, 2, 3}));
  EXPECT_EQ(r.count, 2u);
  EXPECT_EQ(r.run_bytes, 6u);
  EXPECT_EQ(r.stride, 15u);
  EXPECT_EQ(r.first, 9u);

  auto whole = sft::tensor_part(row.info(), *plan.assign(row.info(), 1), 0, 1);
  EXPECT_EQ(whole.count, 1u);
  EXPECT_EQ(whole.byte_size(), row.info().byte_size());
  EXPECT_EQ(whole.shape, (std::vector<std::uint64_t>{3, 10}));
}

TEST(Part, ExpertsAndSkip) {
  auto plan = parse_ok(R"({"rules":[{"match":"e.{e}","experts":4},{"match":"s","skip":true}]})");
  Tensor e3{"e.3", sft::DType::F32, {2}};
  auto a = *plan.assign(e3.info(), 2);
  EXPECT_FALSE(sft::tensor_part(e3.info(), a, 0, 2).held);
  EXPECT_TRUE(sft::tensor_part(e3.info(), a, 1, 2).held);
  Tensor s{"s", sft::DType::F32, {2}};
  EXPECT_FALSE(sft::tensor_part(s.info(), *plan.assign(s.info(), 2), 0, 2).held);
}

TEST(Names, RankFileName) {
  EXPECT_EQ(sft::rank_file_name(2, 4), "rank-00002-of-00004.safetensors");
  EXPECT_EQ(sft::rank_file_name(0, 1), "rank-00000-of-00001.safetensors");
}

}  // namespace
