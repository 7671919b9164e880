// tests/hash_flooding_test.cpp — keys chosen to collide in a hash table.
//
// libstdc++'s std::hash<std::string> (64-bit) has a fixed seed and a per-block
// step that can be inverted, so anyone can compute strings that all share one
// std::hash value. A header holding such keys would make every
// std::unordered_set insertion scan all earlier keys: 40,000 of them in a
// 1.2 MB header took 7.5 s instead of 0.07 s, and a 100 MB header would take
// hours. sft's key sets hash with a per-process seed (detail::NameHash).
//
// These tests feed 500,000 colliding keys (a 12 MB header) through every place
// the parser collects keys, and through the other tables keyed by names from
// files: the index of a sharded checkpoint and the Writer (which `sft rewrite`
// and `sft convert` fill with the names of the file they read). With the seeded hash each parses in well under a
// second; if a std::hash set came back, each would run for longer than CI's
// test timeout, so a regression shows as a ctest timeout. Nothing here
// measures or asserts a time.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_index.hpp"
#include "sft/sft.hpp"
#include "sft/writer.hpp"
#include "test_support.hpp"

namespace {

using namespace sft;
using u64 = std::uint64_t;

constexpr std::size_t kKeys = 500'000;

// libstdc++'s _Hash_bytes for 64-bit size_t, as used by std::hash<std::string>.
constexpr u64 kMul = (u64{0xc6a4a793} << 32) + 0x5bd1e995;
constexpr u64 kSeed = 0xc70f6907;
u64 shift_mix(u64 v) { return v ^ (v >> 47); }
u64 inverse(u64 a) {  // of an odd number modulo 2^64 (Newton's iteration)
  u64 x = a;
  for (int i = 0; i < 6; ++i) x *= 2 - a * x;
  return x;
}
u64 block_mix(u64 x) { return shift_mix(x * kMul) * kMul; }
u64 block_unmix(u64 y) {
  static const u64 inv = inverse(kMul);
  return shift_mix(y * inv) * inv;  // shift_mix by 47 is its own inverse
}

bool valid_utf8(const unsigned char* p, std::size_t n) {
  for (std::size_t i = 0; i < n;) {
    unsigned c = p[i];
    std::size_t extra;
    unsigned cp, min;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { extra = 1; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { extra = 2; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { extra = 3; cp = c & 0x07; min = 0x10000; }
    else return false;
    if (i + extra >= n) return false;
    for (std::size_t j = 1; j <= extra; ++j) {
      if ((p[i + j] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

// `count` distinct 16-byte UTF-8 strings with one std::hash value: the first
// 8 bytes are a counter in hex, the last 8 are solved for so that the hash
// state after them is a fixed value (kept when they happen to be UTF-8).
const std::vector<std::string>& colliding_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> out;
    const u64 state0 = kSeed ^ (16 * kMul);
    const u64 target = 0x5eed;
    for (u64 ctr = 0; out.size() < kKeys; ++ctr) {
      char head[17];
      std::snprintf(head, sizeof head, "%08llx", static_cast<unsigned long long>(ctr));
      u64 w1;
      std::memcpy(&w1, head, 8);
      const u64 state1 = (state0 ^ block_mix(w1)) * kMul;
      const u64 w2 = block_unmix(state1 ^ target);
      unsigned char tail[8];
      std::memcpy(tail, &w2, 8);
      if (!valid_utf8(tail, 8)) continue;
      out.emplace_back(std::string(head, 8) + std::string(reinterpret_cast<char*>(tail), 8));
    }
    return out;
  }();
  return keys;
}

// A key as a JSON string literal (quotes, backslashes and control bytes escaped).
void append_json_key(std::string& out, const std::string& k) {
  out += '"';
  for (unsigned char c : k) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char e[8];
      std::snprintf(e, sizeof e, "\\u%04x", c);
      out += e;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

// "k1":V,"k2":V,... for every colliding key.
std::string members(const std::string& value) {
  std::string s;
  s.reserve(kKeys * (24 + value.size()));
  for (std::size_t i = 0; i < kKeys; ++i) {
    if (i) s += ',';
    append_json_key(s, colliding_keys()[i]);
    s += ':';
    s += value;
  }
  return s;
}

class HashFlooding : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& k = colliding_keys();
    std::hash<std::string> h;
    if (h(k[0]) != h(k[1]) || h(k[0]) != h(k[kKeys - 1]))
      GTEST_SKIP() << "this standard library's std::hash is not libstdc++'s 64-bit one: the keys do not collide";
  }
};

TEST_F(HashFlooding, MetadataKeys) {
  // The fast front end's metadata key set.
  auto f = test::make_file("{\"__metadata__\":{" + members("\"\"") + "}}");
  auto h = parse_header(f, f.size());
  ASSERT_TRUE(h) << h.error().to_string();
  EXPECT_EQ(h->metadata().size(), kKeys);
}

TEST_F(HashFlooding, MetadataKeysOnTheSlowPath) {
  // An escape in a value makes the fast front end decline: the slow one's set.
  auto f = test::make_file("{\"__metadata__\":{\"esc\":\"\\u0041\"," + members("\"\"") + "}}");
  auto h = parse_header(f, f.size());
  ASSERT_TRUE(h) << h.error().to_string();
  EXPECT_EQ(h->metadata().size(), kKeys + 1);
}

TEST_F(HashFlooding, UnknownFieldsOfOneTensor) {
  auto f = test::make_file("{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]," + members("0") + "}}",
                           std::string("x"));
  auto h = parse_header(f, f.size());
  ASSERT_TRUE(h) << h.error().to_string();
  EXPECT_EQ(h->unknown_fields().size(), kKeys);
}

TEST_F(HashFlooding, KeysNestedInAnIgnoredField) {
  auto f = test::make_file("{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":{" + members("0") +
                               "}}}",
                           std::string("x"));
  auto h = parse_header(f, f.size());
  ASSERT_TRUE(h) << h.error().to_string();
  EXPECT_EQ(h->size(), 1u);
}

TEST_F(HashFlooding, TensorNames) {
  auto f = test::make_file("{" + members(R"({"dtype":"U8","shape":[0],"data_offsets":[0,0]})") + "}");
  auto h = parse_header(f, f.size());
  ASSERT_TRUE(h) << h.error().to_string();
  EXPECT_EQ(h->size(), kKeys);
  EXPECT_NE(h->find(colliding_keys()[kKeys / 2]), nullptr);
}

TEST_F(HashFlooding, CheckpointIndexWeightMap) {
  auto idx = detail::parse_index("{\"metadata\":{" + members("0") + "},\"weight_map\":{" +
                                 members("\"model-00001-of-00002.safetensors\"") + "}}");
  ASSERT_TRUE(idx) << idx.error().to_string();
  EXPECT_EQ(idx->tensors.size(), kKeys);
}

TEST_F(HashFlooding, WriterNames) {
  Writer w;
  for (const auto& k : colliding_keys()) ASSERT_TRUE(w.add(k, DType::U8, {0}, {}).ok()) << k;
  EXPECT_EQ(w.add(colliding_keys()[7], DType::U8, {0}, {}).error().code, Errc::duplicate_name);
  auto plan = w.plan();
  ASSERT_TRUE(plan) << plan.error().to_string();
  EXPECT_NE(plan->index_of(colliding_keys()[kKeys - 1]), WriterPlan::npos);
}

TEST_F(HashFlooding, RepeatedKeyAmongCollidingOnesIsStillFound) {
  std::string json = "{\"__metadata__\":{" + members("\"\"") + ",";
  append_json_key(json, colliding_keys()[12345]);
  json += ":\"\"}}";
  auto f = test::make_file(json);
  auto h = parse_header(f, f.size());
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, Errc::duplicate_key);
}

}  // namespace
