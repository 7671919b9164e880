// tests/adversarial_test.cpp — every hostile file gets its specific error.
//
// The corpus (tests/adversarial/files, written by make_corpus.py) comes with
// expectations.tsv: for each file the Errc, and where meaningful the byte
// offset and the tensor the error must name. Each file is opened three ways
// (mmap, pread, from memory), which must agree. Files too big to commit —
// headers near the 100 MB limit, a million tensors — are built here.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sft/sft.hpp"
#include "test_support.hpp"

namespace {

using namespace sft;

struct Expectation {
  std::string file;
  std::string errc;
  std::string offset;  // "-" when not checked
  std::string tensor;  // JSON string, or "-" when not checked
  std::string what;
};

std::filesystem::path corpus_dir() { return std::filesystem::path(SFT_SOURCE_DIR) / "tests" / "adversarial"; }

// The JSON strings of the tensor column: quotes, \" \\ and \u00XX only.
std::string unquote(const std::string& s) {
  std::string out;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    char c = s[++i];
    if (c == 'u') {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 4), nullptr, 16));
      i += 4;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<Expectation> load() {
  std::vector<Expectation> out;
  std::ifstream f(corpus_dir() / "expectations.tsv");
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> col;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, '\t');) col.push_back(c);
    if (col.size() != 6) continue;
    out.push_back({col[0], col[1], col[2], col[3], col[5]});
  }
  return out;
}

std::string errc_or_ok(const Error* e) { return e ? std::string(errc_name(e->code)) : "ok"; }

class Adversarial : public ::testing::TestWithParam<Expectation> {};

TEST(AdversarialCorpus, HasAtLeastSixtyHostileFiles) {
  auto all = load();
  std::size_t hostile = 0;
  for (const auto& e : all) hostile += e.errc != "ok";
  EXPECT_GE(hostile, 60u) << "expectations.tsv missing or short; run tests/adversarial/make_corpus.py";
  for (const auto& e : all)
    EXPECT_TRUE(std::filesystem::exists(corpus_dir() / "files" / e.file)) << e.file;
}

TEST_P(Adversarial, GivesItsSpecificError) {
  const Expectation& x = GetParam();
  const auto path = corpus_dir() / "files" / x.file;
  SCOPED_TRACE(x.file + ": " + x.what);

  auto mapped = File::open(path);
  OpenOptions po;
  po.mode = ReadMode::pread;
  auto preads = File::open(path, po);
  const auto bytes = test::read_all(path);
  auto mem = File::from_memory(bytes);

  const Error* me = mapped ? nullptr : &mapped.error();
  const Error* pe = preads ? nullptr : &preads.error();
  const Error* fe = mem ? nullptr : &mem.error();
  ASSERT_EQ(errc_or_ok(me), x.errc) << (me ? me->to_string() : "accepted");
  EXPECT_EQ(errc_or_ok(pe), x.errc) << "pread mode disagrees: " << (pe ? pe->to_string() : "accepted");
  EXPECT_EQ(errc_or_ok(fe), x.errc) << "from_memory disagrees: " << (fe ? fe->to_string() : "accepted");

  if (x.errc == "ok") {
    // Accepted files: every tensor readable, in every mode.
    for (const TensorInfo& t : mapped->header().tensors()) {
      std::vector<std::byte> a(t.byte_size()), b(t.byte_size());
      ASSERT_TRUE(mapped->read(t, a).ok());
      const TensorInfo* pt = preads->header().find(t.name);  // each File reads its own entries
      ASSERT_NE(pt, nullptr);
      ASSERT_TRUE(preads->read(*pt, b).ok());
      EXPECT_EQ(a, b);
    }
    return;
  }
  EXPECT_FALSE(me->message.empty());
  if (x.offset != "-") EXPECT_EQ(me->offset, std::stoull(x.offset)) << me->to_string();
  if (x.tensor != "-") EXPECT_EQ(me->tensor, unquote(x.tensor)) << me->to_string();
  // The three ways of opening report the same place.
  if (pe) EXPECT_EQ(pe->offset, me->offset) << pe->to_string();
  if (fe) {
    EXPECT_EQ(fe->offset, me->offset) << fe->to_string();
    EXPECT_EQ(fe->tensor, me->tensor) << fe->to_string();
  }
}

std::string case_name(const ::testing::TestParamInfo<Expectation>& info) {
  std::string n = info.param.file.substr(0, info.param.file.find('.'));
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Corpus, Adversarial, ::testing::ValuesIn(load()), case_name);

// --- generated at test time: the 100 MB header limit -----------------------------

std::vector<std::byte> spaces_header(std::uint64_t n) {
  std::vector<std::byte> f(8 + n, std::byte{' '});
  for (int i = 0; i < 8; ++i) f[static_cast<std::size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xff);
  f[8] = std::byte{'{'};
  f[9] = std::byte{'}'};
  return f;
}

TEST(AdversarialLimits, HeaderOfExactly100MBIsAccepted) {
  auto f = spaces_header(100'000'000);
  auto h = parse_header(f, f.size());
  ASSERT_TRUE(h) << h.error().to_string();
  EXPECT_EQ(h->size(), 0u);
  EXPECT_EQ(h->header_size(), 100'000'000u);
}

TEST(AdversarialLimits, HeaderOneByteOver100MBIsTooLarge) {
  auto f = spaces_header(100'000'001);
  auto h = parse_header(f, f.size());
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, Errc::header_too_large);
  EXPECT_EQ(h.error().offset, 0u);
}

TEST(AdversarialLimits, LowerHeaderLimitIsHonoured) {
  auto f = test::make_file("{}      ");
  Limits l;
  l.max_header_bytes = 7;
  auto h = parse_header(f, f.size(), l);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, Errc::header_too_large);
}

// A million tensors in a header just under the limit: 99,777,787 bytes of
// JSON. Built once for the tests below.
const std::string& million_header() {
  static const std::string json = [] {
    constexpr int count = 1'000'000;
    std::string s;
    s.reserve(100'000'000);
    s += '{';
    char buf[160];
    for (int i = 0; i < count; ++i) {
      int n = std::snprintf(buf, sizeof buf,
                            "%s\"layers.%07d.mlp.experts.weight_name_\":{\"dtype\":\"U8\",\"shape\":[1],"
                            "\"data_offsets\":[%d,%d]}",
                            i ? "," : "", i, i, i + 1);
      s.append(buf, static_cast<std::size_t>(n));
    }
    s += '}';
    return s;
  }();
  return json;
}

TEST(AdversarialLimits, MillionTensorsNear100MBAreParsed) {
  const std::string& json = million_header();
  ASSERT_LE(json.size(), 100'000'000u);
  ASSERT_GE(json.size(), 95'000'000u);
  auto f = test::make_file(json, std::string(1'000'000, 'x'));
  auto h = parse_header(f, f.size());
  ASSERT_TRUE(h) << h.error().to_string();
  ASSERT_EQ(h->size(), 1'000'000u);
  EXPECT_EQ(h->tensors().back().data_offsets.end, 1'000'000u);
  const TensorInfo* t = h->find("layers.0500000.mlp.experts.weight_name_");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->data_offsets.begin, 500'000u);
}

TEST(AdversarialLimits, MillionTensorsRejectedByTensorLimit) {
  const std::string& json = million_header();
  auto f = test::make_file(json, std::string(1'000'000, 'x'));
  Limits l;
  l.max_tensors = 1000;
  auto h = parse_header(f, f.size(), l);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, Errc::limit_exceeded);
}

TEST(AdversarialLimits, MillionTensorsWithOneGapNameTheTensor) {
  std::string json = million_header();
  // Move the last tensor one byte up: a gap before it.
  const std::string last = "[999999,1000000]";
  auto at = json.rfind(last);
  ASSERT_NE(at, std::string::npos);
  json.replace(at, last.size(), "[1000000,1000001]");
  auto f = test::make_file(json, std::string(1'000'001, 'x'));
  auto h = parse_header(f, f.size());
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, Errc::bad_offsets);
  EXPECT_EQ(h.error().tensor, "layers.0999999.mlp.experts.weight_name_");
}

TEST(AdversarialLimits, MillionTensorsTruncatedDataIsIncomplete) {
  const std::string& json = million_header();
  auto f = test::make_file(json, std::string(999'999, 'x'));
  auto h = parse_header(f, f.size());
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, Errc::incomplete_buffer);
}

}  // namespace
