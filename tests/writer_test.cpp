// Unit tests of sft::Writer: layout, escaping, alignment, every error, streaming,
// atomicity under injected failures, and a round-trip property test through
// the parser.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sft/sft.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace sft;

namespace {

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> b(s.size());
  if (!s.empty()) std::memcpy(b.data(), s.data(), s.size());
  return b;
}

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>((i * 131 + seed * 17 + 7) & 0xff);
  return b;
}

// The JSON text of a serialized file (without padding).
std::string header_json(const std::vector<std::byte>& file) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(file.at(i));
  std::string s(reinterpret_cast<const char*>(file.data()) + 8, static_cast<std::size_t>(n));
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::uint64_t header_len(const std::vector<std::byte>& file) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(file.at(i));
  return n;
}

std::vector<std::byte> serialize_ok(const Writer& w) {
  auto r = w.serialize();
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? *r : std::vector<std::byte>{};
}

std::vector<std::string> dir_entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

// ---------------------------------------------------------------- layout ----

TEST(WriterLayout, MatchesTheReferenceForASmallFile) {
  auto a = pattern(3, 1), b = pattern(8, 2);
  Writer w;
  ASSERT_TRUE(w.add("b", DType::F32, {2}, b).ok());
  ASSERT_TRUE(w.add("a", DType::U8, {3}, a).ok());
  auto file = serialize_ok(w);
  // What safetensors 0.8.0 writes for {"a": uint8[3], "b": float32[2]}.
  const std::string json =
      R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}})";
  EXPECT_EQ(header_json(file), json);
  EXPECT_EQ(header_len(file), 112u);  // 107 padded to a multiple of 8
  ASSERT_EQ(file.size(), 8 + 112 + 11u);
  EXPECT_TRUE(std::equal(b.begin(), b.end(), file.begin() + 120));
  EXPECT_TRUE(std::equal(a.begin(), a.end(), file.begin() + 128));
}

TEST(WriterLayout, EmptyWriterWritesAnEmptyObject) {
  Writer w;
  auto file = serialize_ok(w);
  // The reference: b'\x08\0\0\0\0\0\0\0{}      '
  std::string expect = std::string("\x08\0\0\0\0\0\0\0", 8) + "{}      ";
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(file.data()), file.size()), expect);
}

TEST(WriterLayout, MetadataOnly) {
  Writer w;
  ASSERT_TRUE(w.set_metadata("a", "b").ok());
  auto file = serialize_ok(w);
  EXPECT_EQ(header_json(file), R"({"__metadata__":{"a":"b"}})");
  EXPECT_EQ(header_len(file), 32u);
}

TEST(WriterLayout, EmptyMetadataMapIsWrittenWhenEnabled) {
  auto x = pattern(1, 0);
  Writer w;
  w.enable_metadata();
  ASSERT_TRUE(w.add("a", DType::U8, {1}, x).ok());
  EXPECT_EQ(header_json(serialize_ok(w)), R"({"__metadata__":{},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})");
  // With no tensors the reference writes invalid JSON here; sft writes valid JSON.
  Writer e;
  e.enable_metadata();
  EXPECT_EQ(header_json(serialize_ok(e)), R"({"__metadata__":{}})");
}

TEST(WriterLayout, SortsByDtypeDescendingThenNameBytewise) {
  Writer w;
  std::vector<std::vector<std::byte>> keep;
  // Every dtype, added in enum order (the opposite of the output order).
  for (int t = 0; t < dtype_count; ++t) {
    DType d = static_cast<DType>(t);
    std::uint64_t n = is_subbyte(d) ? 4 : 1;
    keep.push_back(pattern(n * bits(d) / 8, t));
    ASSERT_TRUE(w.add("t" + std::to_string(t), d, {n}, keep.back()).ok());
  }
  // Names compare as unsigned bytes: "\xc3\xa9" (é) after "z", "Z" before "a".
  auto one = pattern(1, 9);
  for (std::string n : {"z", "\xc3\xa9", "a", "Z", "aa", ""}) ASSERT_TRUE(w.add(n, DType::U8, {1}, one).ok());
  auto p = w.plan();
  ASSERT_TRUE(p.ok());
  std::vector<std::string> got;
  for (const auto& t : p->tensors()) got.emplace_back(t.name);
  // U64 (21) first, BOOL (0) last; the U8 group (t4) sorted bytewise.
  std::vector<std::string> want = {"t21", "t20", "t19", "t18", "t17", "t16", "t15", "t14", "t13", "t12", "t11",
                                    "t10", "t9",  "t8",  "t7",  "t6",  "t5",  "",    "Z",   "a",   "aa",  "t4",
                                    "z",   "\xc3\xa9", "t3", "t2", "t1", "t0"};
  EXPECT_EQ(got, want);
  // Offsets tile the buffer in that order.
  std::uint64_t at = 0;
  for (const auto& t : p->tensors()) {
    EXPECT_EQ(t.data_offsets.begin, at) << t.name;
    at = t.data_offsets.end;
  }
  EXPECT_EQ(at, p->data_size());
}

TEST(WriterLayout, KeepInsertionOrder) {
  WriterOptions o;
  o.keep_insertion_order = true;
  Writer w(o);
  auto x = pattern(8, 1);
  ASSERT_TRUE(w.add("z", DType::U8, {8}, x).ok());
  ASSERT_TRUE(w.add("a", DType::F64, {1}, x).ok());
  ASSERT_TRUE(w.set_metadata("y", "1").ok());
  ASSERT_TRUE(w.set_metadata("b", "2").ok());
  EXPECT_EQ(header_json(serialize_ok(w)),
            R"({"__metadata__":{"y":"1","b":"2"},"z":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
            R"("a":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}})");
}

TEST(WriterLayout, MetadataKeysSortedAndReplaced) {
  Writer w;
  ASSERT_TRUE(w.set_metadata("y", "1").ok());
  ASSERT_TRUE(w.set_metadata("b", "2").ok());
  ASSERT_TRUE(w.set_metadata("y", "3").ok());
  EXPECT_EQ(header_json(serialize_ok(w)), R"({"__metadata__":{"b":"2","y":"3"}})");
}

TEST(WriterLayout, ScalarsAndZeroSizeTensors) {
  auto s = pattern(4, 3);
  Writer w;
  ASSERT_TRUE(w.add("scalar", DType::F32, {}, s).ok());
  ASSERT_TRUE(w.add("empty", DType::F32, {0, 3}, {}).ok());
  ASSERT_TRUE(w.declare("empty2", DType::I64, {5, 0}).ok());  // nothing to supply
  auto file = serialize_ok(w);
  EXPECT_EQ(header_json(file),
            R"({"empty2":{"dtype":"I64","shape":[5,0],"data_offsets":[0,0]},)"
            R"("empty":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},)"
            R"("scalar":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})");
}

TEST(WriterEscaping, ControlCharactersQuotesAndUnicode) {
  struct Case {
    std::string name, json;
  };
  std::vector<Case> cases = {
      {std::string("\0", 1), "\\u0000"}, {"\x01", "\\u0001"}, {"\x07", "\\u0007"}, {"\b", "\\b"},
      {"\t", "\\t"}, {"\n", "\\n"}, {"\x0b", "\\u000b"}, {"\f", "\\f"}, {"\r", "\\r"}, {"\x1f", "\\u001f"},
      {"\x1b[0m", "\\u001b[0m"}, {"\"", "\\\""}, {"\\", "\\\\"}, {"/", "/"}, {"\x7f", "\x7f"},
      {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"},
      {"a\"b\\c\nd", "a\\\"b\\\\c\\nd"}};
  for (const auto& c : cases) {
    Writer w;
    ASSERT_TRUE(w.add(c.name, DType::U8, {0}, {}).ok());
    ASSERT_TRUE(w.set_metadata(c.name, c.name).ok());
    std::string q = "\"" + c.json + "\"";
    EXPECT_EQ(header_json(serialize_ok(w)),
              "{\"__metadata__\":{" + q + ":" + q + "}," + q + R"(:{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})")
        << "name byte " << int(static_cast<unsigned char>(c.name[0]));
    // And the parser gives the same bytes back.
    auto file = serialize_ok(w);
    auto h = parse_header(file, file.size());
    ASSERT_TRUE(h.ok()) << h.error().to_string();
    ASSERT_EQ(h->size(), 1u);
    EXPECT_EQ(h->tensors()[0].name, c.name);
    ASSERT_NE(h->metadata_value(c.name), nullptr);
    EXPECT_EQ(*h->metadata_value(c.name), c.name);
  }
}

TEST(WriterAlignment, PadsTheHeaderSoDataStartsAligned) {
  for (std::uint64_t align : {8u, 16u, 64u, 4096u, 1u << 20}) {
    for (std::size_t name_len = 0; name_len < 20; ++name_len) {
      WriterOptions o;
      o.alignment = align;
      Writer w(o);
      auto x = pattern(12, 0);
      ASSERT_TRUE(w.add(std::string(name_len, 'n'), DType::F32, {3}, x).ok());
      auto file = serialize_ok(w);
      std::uint64_t n = header_len(file);
      EXPECT_EQ((8 + n) % align, 0u) << align;
      EXPECT_LT(n - header_json(file).size(), align) << "more padding than needed";
      auto f = File::from_memory(file);
      ASSERT_TRUE(f.ok()) << f.error().to_string();
      auto v = f->tensor(std::string(name_len, 'n'));
      ASSERT_TRUE(v.ok());
      EXPECT_TRUE(std::equal(x.begin(), x.end(), v->bytes().begin()));
    }
  }
}

TEST(WriterAlignment, RejectsBadValues) {
  for (std::uint64_t align : {0u, 1u, 4u, 7u, 12u, 24u, 2u << 20, 3u << 20}) {
    WriterOptions o;
    o.alignment = align;
    Writer w(o);
    auto r = w.serialize();
    ASSERT_FALSE(r.ok()) << align;
    EXPECT_EQ(r.error().code, Errc::bad_alignment) << align;
  }
}

// ---------------------------------------------------------------- errors ----

TEST(WriterErrors, EachBadInputHasItsOwnCode) {
  auto four = pattern(4, 0);
  Writer w;
  ASSERT_TRUE(w.add("x", DType::F32, {1}, four).ok());
  auto expect = [](Result<void> r, Errc code, std::string_view tensor) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, code) << r.error().to_string();
    EXPECT_EQ(r.error().tensor, tensor);
  };
  expect(w.add("x", DType::F32, {1}, four), Errc::duplicate_name, "x");
  expect(w.declare("x", DType::U8, {4}), Errc::duplicate_name, "x");
  expect(w.add("__metadata__", DType::F32, {1}, four), Errc::reserved_name, "__metadata__");
  expect(w.add("bad\xff", DType::F32, {1}, four), Errc::invalid_name, "bad\xff");
  expect(w.add("\xed\xa0\x80", DType::F32, {1}, four), Errc::invalid_name, "\xed\xa0\x80");  // a surrogate
  expect(w.add("\xc0\x80", DType::F32, {1}, four), Errc::invalid_name, "\xc0\x80");          // overlong NUL
  expect(w.add("y", DType::F32, {2}, four), Errc::data_size_mismatch, "y");
  expect(w.add("y", DType::F32, {}, std::span<const std::byte>(four).first(3)), Errc::data_size_mismatch, "y");
  expect(w.declare("y", DType::F64, {1ull << 32, 1ull << 32}), Errc::size_overflow, "y");
  expect(w.declare("y", DType::F64, {1ull << 61}), Errc::size_overflow, "y");
  expect(w.declare("y", DType::F4, {3}), Errc::misaligned_subbyte, "y");
  expect(w.declare("y", DType::F6_E2M3, {2}), Errc::misaligned_subbyte, "y");
  expect(w.declare("y", static_cast<DType>(200), {1}), Errc::invalid_argument, "y");
  auto m = w.set_metadata("k\xff", "v");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, Errc::invalid_name);
  m = w.set_metadata("k", "v\xc3");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, Errc::invalid_name);
  // Nothing refused was added.
  EXPECT_EQ(w.size(), 1u);
  EXPECT_TRUE(w.declare("y", DType::F4, {4}).ok());
  EXPECT_TRUE(w.declare("z", DType::F6_E3M2, {4}).ok());
}

TEST(WriterErrors, Limits) {
  WriterOptions o;
  o.limits.max_rank = 2;
  o.limits.max_name_bytes = 3;
  o.limits.max_tensors = 2;
  Writer w(o);
  auto r = w.declare("a", DType::U8, {1, 1, 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  r = w.declare("abcd", DType::U8, {1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  ASSERT_TRUE(w.declare("a", DType::U8, {1}).ok());
  ASSERT_TRUE(w.declare("b", DType::U8, {1}).ok());
  r = w.declare("c", DType::U8, {1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
}

TEST(WriterErrors, HeaderTooLarge) {
  WriterOptions o;
  o.limits.max_header_bytes = 128;
  Writer w(o);
  ASSERT_TRUE(w.declare(std::string(40, 'a'), DType::U8, {0}).ok());
  ASSERT_TRUE(w.plan().ok());
  ASSERT_TRUE(w.declare(std::string(40, 'b'), DType::U8, {0}).ok());
  auto p = w.plan();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::header_too_large);
  // Alignment padding counts: 8 + N rounded to 4096 exceeds a 128-byte limit.
  o.alignment = 4096;
  Writer w2(o);
  auto p2 = w2.plan();
  ASSERT_FALSE(p2.ok());
  EXPECT_EQ(p2.error().code, Errc::header_too_large);
}

TEST(WriterErrors, DataBufferOverflow) {
  Writer w;
  // Each 2^60 bytes (its bit count still fits in 64 bits); 16 of them do not.
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(w.declare("t" + std::to_string(i), DType::F64, {1ull << 57}).ok());
  auto p = w.plan();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::size_overflow);
}

TEST(WriterErrors, MissingDataBeforeAnythingIsWritten) {
  auto dir = test::temp_dir("writer_missing");
  Writer w;
  ASSERT_TRUE(w.declare("d", DType::F32, {2}).ok());
  auto s = w.serialize();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::missing_data);
  EXPECT_EQ(s.error().tensor, "d");
  auto f = w.write_file(dir / "out.safetensors");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, Errc::missing_data);
  EXPECT_TRUE(dir_entries(dir).empty());
}

// -------------------------------------------------------------- files ----

TEST(WriterFile, WriteFileEqualsSerializeAndReplacesTheTarget) {
  auto dir = test::temp_dir("writer_file");
  auto a = pattern(1000, 1), b = pattern(24, 2);
  Writer w;
  ASSERT_TRUE(w.add("a", DType::U8, {10, 100}, a).ok());
  ASSERT_TRUE(w.add("b", DType::I64, {3}, b).ok());
  ASSERT_TRUE(w.set_metadata("format", "pt").ok());
  const auto target = dir / "model.safetensors";
  test::write_all(target, bytes_of("old contents"));
  ASSERT_TRUE(w.write_file(target).ok());
  EXPECT_EQ(test::read_all(target), serialize_ok(w));
  EXPECT_EQ(dir_entries(dir), std::vector<std::string>{"model.safetensors"});
}

TEST(WriterFile, AMappedOldFileKeepsItsBytes) {
  // The writer never writes in place: a reader that mapped the old file keeps
  // seeing the old bytes after the new file took its name.
  auto dir = test::temp_dir("writer_mapped");
  const auto target = dir / "m.safetensors";
  auto old_bytes = pattern(4096, 5);
  test::write_all(target, old_bytes);
  int fd = ::open(target.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  void* map = ::mmap(nullptr, old_bytes.size(), PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED);
  auto x = pattern(64, 9);
  Writer w;
  ASSERT_TRUE(w.add("x", DType::F64, {8}, x).ok());
  ASSERT_TRUE(w.write_file(target).ok());
  EXPECT_EQ(std::memcmp(map, old_bytes.data(), old_bytes.size()), 0);
  ::munmap(map, old_bytes.size());
  ::close(fd);
  EXPECT_EQ(test::read_all(target), serialize_ok(w));
}

TEST(WriterFile, InjectedFailureLeavesNoTargetAndNoTemporary) {
  auto a = pattern(5000, 1), b = pattern(3000, 2);
  auto make = [&](std::uint64_t fail_after) {
    WriterOptions o;
    o.fail_after_bytes = fail_after;
    Writer w(o);
    EXPECT_TRUE(w.add("a", DType::U8, {5000}, a).ok());
    EXPECT_TRUE(w.add("b", DType::U16, {1500}, b).ok());
    return w;
  };
  const Writer probe = make(~std::uint64_t{0});
  const std::uint64_t total = probe.plan()->file_size();
  for (std::uint64_t cut : {std::uint64_t{0}, std::uint64_t{5}, std::uint64_t{100}, total / 2, total - 1}) {
    auto dir = test::temp_dir("writer_inject");
    const Writer w = make(cut);
    auto r = w.write_file(dir / "out.safetensors");
    ASSERT_FALSE(r.ok()) << cut;
    EXPECT_EQ(r.error().code, Errc::write_failed) << r.error().to_string();
    EXPECT_NE(r.error().message.find("No space"), std::string::npos) << r.error().message;
    EXPECT_TRUE(dir_entries(dir).empty()) << cut;

    // With an existing target: untouched.
    test::write_all(dir / "out.safetensors", bytes_of("previous"));
    ASSERT_FALSE(w.write_file(dir / "out.safetensors").ok());
    EXPECT_EQ(test::read_all(dir / "out.safetensors"), bytes_of("previous"));
    EXPECT_EQ(dir_entries(dir), std::vector<std::string>{"out.safetensors"});
  }
  // Exactly enough bytes: success.
  auto dir = test::temp_dir("writer_inject_ok");
  ASSERT_TRUE(make(total).write_file(dir / "out.safetensors").ok());
  EXPECT_EQ(test::read_all(dir / "out.safetensors"), serialize_ok(probe));
}

TEST(WriterFile, RenameFailureRemovesTheTemporary) {
  auto dir = test::temp_dir("writer_rename");
  fs::create_directory(dir / "target");
  fs::create_directory(dir / "target" / "child");  // rename over a non-empty directory fails
  Writer w;
  auto r = w.write_file(dir / "target");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::write_failed);
  EXPECT_EQ(dir_entries(dir), std::vector<std::string>{"target"});
}

TEST(WriterFile, MissingDirectoryIsWriteFailed) {
  auto dir = test::temp_dir("writer_nodir");
  Writer w;
  auto r = w.write_file(dir / "no" / "such" / "x.safetensors");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::write_failed);
}

// ---------------------------------------------------------- streaming ----

namespace {

struct TensorSet {
  struct T {
    std::string name;
    DType dtype;
    std::vector<std::uint64_t> shape;
    std::vector<std::byte> data;
  };
  std::vector<T> tensors;
  std::vector<std::pair<std::string, std::string>> metadata;
};

std::string random_name(std::mt19937_64& rng) {
  static const std::vector<std::string> pieces = {"a", "b", "layer", ".", "_", "0", "9", "Z", "\xc3\xa9",
                                                  "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\"", "\\", "\n", "\x01",
                                                  "\x1f", "\x7f", " ", "/", "__metadata"};
  std::string n;
  auto len = rng() % 6;
  for (std::size_t i = 0; i < len; ++i) n += pieces[rng() % pieces.size()];
  return n;
}

TensorSet random_set(std::mt19937_64& rng) {
  TensorSet s;
  std::set<std::string> used{"__metadata__"};
  auto count = rng() % 12;
  for (std::size_t i = 0; i < count; ++i) {
    std::string name = random_name(rng);
    if (!used.insert(name).second) continue;
    DType d = static_cast<DType>(rng() % dtype_count);
    std::vector<std::uint64_t> shape(rng() % 4);
    for (auto& x : shape) x = rng() % 5;  // zero dims included
    std::uint64_t n = 1;
    for (auto x : shape) n *= x;
    if (is_subbyte(d) && (n * bits(d)) % 8 != 0) {  // make it whole bytes
      shape.push_back(d == DType::F4 ? 2 : 4);
      n *= shape.back();
    }
    auto bytes = pattern(static_cast<std::size_t>(n * bits(d) / 8), static_cast<unsigned>(rng()));
    s.tensors.push_back({name, d, shape, bytes});
  }
  auto meta = rng() % 4;
  std::set<std::string> keys;
  for (std::size_t i = 0; i < meta; ++i) {
    std::string k = random_name(rng);
    if (keys.insert(k).second) s.metadata.emplace_back(k, random_name(rng));
  }
  return s;
}

void add_all(Writer& w, const TensorSet& s, bool declare) {
  for (const auto& t : s.tensors) {
    auto r = declare ? w.declare(t.name, t.dtype, t.shape) : w.add(t.name, t.dtype, t.shape, t.data);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
  }
  for (const auto& [k, v] : s.metadata) ASSERT_TRUE(w.set_metadata(k, v).ok());
}

}  // namespace

TEST(WriterStreaming, RandomOrderChunksGiveTheWholeFileBytes) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 40; ++round) {
    auto set = random_set(rng);
    Writer whole;
    add_all(whole, set, false);
    auto expect = serialize_ok(whole);

    auto dir = test::temp_dir("writer_stream");
    Writer w;
    add_all(w, set, true);
    auto s = w.begin_file(dir / "s.safetensors");
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    // Cut every tensor into random chunks, shuffle all chunks, write them.
    struct Chunk {
      std::size_t t;
      std::uint64_t off, len;
    };
    std::vector<Chunk> chunks;
    for (std::size_t i = 0; i < set.tensors.size(); ++i) {
      std::uint64_t size = set.tensors[i].data.size(), off = 0;
      while (off < size) {
        std::uint64_t len = std::min<std::uint64_t>(size - off, 1 + rng() % 7);
        chunks.push_back({i, off, len});
        off += len;
      }
    }
    std::shuffle(chunks.begin(), chunks.end(), rng);
    for (const auto& c : chunks) {
      const auto& t = set.tensors[c.t];
      auto r = s->write_at(t.name, c.off, std::span<const std::byte>(t.data).subspan(c.off, c.len));
      ASSERT_TRUE(r.ok()) << r.error().to_string();
    }
    EXPECT_EQ(s->remaining(), 0u);
    ASSERT_TRUE(s->commit().ok());
    EXPECT_EQ(test::read_all(dir / "s.safetensors"), expect) << "round " << round;
    EXPECT_EQ(dir_entries(dir).size(), 1u);
  }
}

TEST(WriterStreaming, SequentialWritesAndMixedAddedTensors) {
  auto dir = test::temp_dir("writer_stream_seq");
  auto a = pattern(100, 1), b = pattern(40, 2), c = pattern(16, 3);
  Writer whole;
  ASSERT_TRUE(whole.add("a", DType::U8, {100}, a).ok());
  ASSERT_TRUE(whole.add("b", DType::F32, {10}, b).ok());
  ASSERT_TRUE(whole.add("c", DType::F64, {2}, c).ok());
  Writer w;
  ASSERT_TRUE(w.declare("a", DType::U8, {100}).ok());
  ASSERT_TRUE(w.add("b", DType::F32, {10}, b).ok());
  ASSERT_TRUE(w.declare("c", DType::F64, {2}).ok());
  auto s = w.begin_file(dir / "x.safetensors");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->remaining(), 116u);
  // b came with add(): no more writes to it.
  auto r = s->write("b", std::span<const std::byte>(b).first(4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::writer_state);
  r = s->write("nope", std::span<const std::byte>(b).first(4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);
  for (std::size_t off = 0; off < a.size(); off += 30)
    ASSERT_TRUE(s->write("a", std::span<const std::byte>(a).subspan(off, std::min<std::size_t>(30, a.size() - off))).ok());
  r = s->write("a", std::span<const std::byte>(a).first(1));  // past the end
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::data_size_mismatch);
  r = s->write_at("c", 10, std::span<const std::byte>(c).first(7));  // 10 + 7 > 16
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::data_size_mismatch);
  ASSERT_TRUE(s->write("c", c).ok());
  ASSERT_TRUE(s->commit().ok());
  EXPECT_EQ(test::read_all(dir / "x.safetensors"), serialize_ok(whole));
  r = s->write("c", c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::writer_state);
  EXPECT_EQ(s->commit().error().code, Errc::writer_state);
}

TEST(WriterStreaming, OverlappingWritesCountOnce) {
  auto dir = test::temp_dir("writer_overlap");
  auto x = pattern(20, 4);
  Writer w;
  ASSERT_TRUE(w.declare("x", DType::U8, {20}).ok());
  auto s = w.begin_file(dir / "o.safetensors");
  ASSERT_TRUE(s.ok());
  std::span<const std::byte> xs(x);
  ASSERT_TRUE(s->write_at("x", 0, xs.subspan(0, 10)).ok());
  ASSERT_TRUE(s->write_at("x", 5, xs.subspan(5, 10)).ok());
  EXPECT_EQ(s->remaining(), 5u);
  ASSERT_TRUE(s->write_at("x", 17, xs.subspan(17, 3)).ok());
  EXPECT_EQ(s->remaining(), 2u);
  ASSERT_TRUE(s->write_at("x", 0, xs.subspan(0, 20)).ok());  // covers everything again
  EXPECT_EQ(s->remaining(), 0u);
  ASSERT_TRUE(s->commit().ok());
  auto f = File::open(dir / "o.safetensors");
  ASSERT_TRUE(f.ok());
  auto v = f->tensor("x");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(std::equal(x.begin(), x.end(), v->bytes().begin()));
}

TEST(WriterStreaming, CommitWithMissingBytesAbortsAndCleansUp) {
  auto dir = test::temp_dir("writer_stream_missing");
  auto x = pattern(8, 1);
  Writer w;
  ASSERT_TRUE(w.declare("x", DType::U8, {8}).ok());
  ASSERT_TRUE(w.declare("y", DType::U8, {8}).ok());
  auto s = w.begin_file(dir / "m.safetensors");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(dir_entries(dir).size(), 1u);  // the temporary
  ASSERT_TRUE(s->write("x", x).ok());
  ASSERT_TRUE(s->write("y", std::span<const std::byte>(x).first(7)).ok());
  auto r = s->commit();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::missing_data);
  EXPECT_EQ(r.error().tensor, "y");
  EXPECT_TRUE(dir_entries(dir).empty());
  EXPECT_EQ(s->write("y", x).error().code, Errc::writer_state);
}

TEST(WriterStreaming, DestructorWithoutCommitRemovesTheTemporary) {
  auto dir = test::temp_dir("writer_stream_dtor");
  test::write_all(dir / "t.safetensors", bytes_of("keep me"));
  {
    Writer w;
    ASSERT_TRUE(w.declare("x", DType::U8, {8}).ok());
    auto s = w.begin_file(dir / "t.safetensors");
    ASSERT_TRUE(s.ok());
    auto x = pattern(8, 0);
    ASSERT_TRUE(s->write("x", x).ok());
    EXPECT_EQ(dir_entries(dir).size(), 2u);
    StreamingWriter moved = std::move(*s);  // ownership moves; the moved-from one is inert
    EXPECT_EQ(s->write("x", x).error().code, Errc::writer_state);
  }
  EXPECT_EQ(dir_entries(dir), std::vector<std::string>{"t.safetensors"});
  EXPECT_EQ(test::read_all(dir / "t.safetensors"), bytes_of("keep me"));
}

TEST(WriterStreaming, InjectedFailureMidStreamPoisonsTheStream) {
  auto dir = test::temp_dir("writer_stream_fail");
  auto x = pattern(1000, 1);
  WriterOptions o;
  Writer probe;
  ASSERT_TRUE(probe.declare("x", DType::U8, {1000}).ok());
  o.fail_after_bytes = probe.plan()->data_start() + 500;
  Writer w(o);
  ASSERT_TRUE(w.declare("x", DType::U8, {1000}).ok());
  auto s = w.begin_file(dir / "f.safetensors");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->write("x", std::span<const std::byte>(x).first(400)).ok());
  auto r = s->write("x", std::span<const std::byte>(x).subspan(400, 200));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::write_failed);
  EXPECT_EQ(r.error().tensor, "x");
  EXPECT_TRUE(dir_entries(dir).empty());
  EXPECT_EQ(s->write("x", std::span<const std::byte>(x).subspan(400, 200)).error().code, Errc::writer_state);
  EXPECT_EQ(s->commit().error().code, Errc::writer_state);
}

TEST(WriterSource, CallbackSuppliesDeclaredTensorsInDataOrder) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    auto set = random_set(rng);
    Writer whole;
    add_all(whole, set, false);
    Writer w;
    add_all(w, set, true);
    auto dir = test::temp_dir("writer_source");
    std::vector<std::string> seen;
    auto r = w.write_file(dir / "c.safetensors", [&](const TensorInfo& info, TensorSink& sink) -> Result<void> {
      seen.emplace_back(info.name);
      auto it = std::find_if(set.tensors.begin(), set.tensors.end(), [&](auto& t) { return t.name == info.name; });
      if (it == set.tensors.end()) return Error(Errc::not_found, "unknown");
      std::span<const std::byte> d(it->data);
      while (!d.empty()) {  // in chunks of up to 3 bytes
        auto n = std::min<std::size_t>(d.size(), 3);
        if (auto wr = sink.write(d.first(n)); !wr) return wr;
        d = d.subspan(n);
      }
      EXPECT_EQ(sink.remaining(), 0u);
      return {};
    });
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(test::read_all(dir / "c.safetensors"), serialize_ok(whole));
    std::vector<std::string> order;
    auto plan = whole.plan();  // keep the plan alive: its tensors view its storage
    ASSERT_TRUE(plan.ok());
    for (const auto& t : plan->tensors()) order.emplace_back(t.name);
    EXPECT_EQ(seen, order);
  }
}

TEST(WriterSource, ErrorsAndShortSourcesAbort) {
  auto dir = test::temp_dir("writer_source_err");
  Writer w;
  ASSERT_TRUE(w.declare("x", DType::U8, {8}).ok());
  auto r = w.write_file(dir / "e.safetensors",
                        [](const TensorInfo&, TensorSink&) -> Result<void> { return Error(Errc::io_error, "boom"); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::io_error);
  EXPECT_TRUE(dir_entries(dir).empty());
  auto x = pattern(8, 0);
  r = w.write_file(dir / "e.safetensors",
                   [&](const TensorInfo&, TensorSink& s) { return s.write(std::span<const std::byte>(x).first(5)); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::missing_data);
  EXPECT_EQ(r.error().tensor, "x");
  EXPECT_TRUE(dir_entries(dir).empty());
  r = w.write_file(dir / "e.safetensors", [&](const TensorInfo&, TensorSink& s) {
    auto nine = pattern(9, 0);
    return s.write(nine);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::data_size_mismatch);
  EXPECT_TRUE(dir_entries(dir).empty());
}

// ------------------------------------------------------- round trip ----

TEST(WriterRoundTrip, RandomTensorSetsParseBackExactly) {
  std::mt19937_64 rng(1234);
  for (int round = 0; round < 300; ++round) {
    auto set = random_set(rng);
    WriterOptions o;
    o.alignment = std::uint64_t{8} << (rng() % 4 * 3);  // 8, 64, 512, 4096
    o.keep_insertion_order = rng() % 4 == 0;
    Writer w(o);
    add_all(w, set, false);
    auto file = serialize_ok(w);
    auto f = File::from_memory(file);
    ASSERT_TRUE(f.ok()) << f.error().to_string();
    const Header& h = f->header();
    EXPECT_EQ(h.data_start() % o.alignment, 0u);
    ASSERT_EQ(h.size(), set.tensors.size());
    for (const auto& t : set.tensors) {
      auto v = f->tensor(t.name);
      ASSERT_TRUE(v.ok()) << "round " << round;
      EXPECT_EQ(v->dtype(), t.dtype);
      EXPECT_TRUE(std::equal(t.shape.begin(), t.shape.end(), v->shape().begin(), v->shape().end()));
      EXPECT_TRUE(std::equal(t.data.begin(), t.data.end(), v->bytes().begin(), v->bytes().end()));
    }
    EXPECT_EQ(h.has_metadata(), !set.metadata.empty());
    EXPECT_EQ(h.metadata().size(), set.metadata.size());
    for (const auto& [k, v] : set.metadata) {
      ASSERT_NE(h.metadata_value(k), nullptr);
      EXPECT_EQ(*h.metadata_value(k), v);
    }
    // The tensors come back in the planned order.
    auto p = w.plan();
    ASSERT_TRUE(p.ok());
    for (std::size_t i = 0; i < h.size(); ++i) {
      EXPECT_EQ(h.tensors()[i].name, p->tensors()[i].name);
      EXPECT_EQ(h.tensors()[i].data_offsets, p->tensors()[i].data_offsets);
    }
  }
}
