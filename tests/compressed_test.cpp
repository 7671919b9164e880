// Compressed checkpoints: round trips, on-demand frame decoding, zstd -d
// compatibility, and a specific error for every way the seek table or a frame
// can be wrong.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sft/compressed.hpp"
#include "sft/file.hpp"
#include "file_internals.hpp"
#include "synthetic_file.hpp"
#include "test_support.hpp"

namespace sft {
namespace {

using test::SyntheticTensor;

std::uint32_t le32(const std::vector<std::byte>& b, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<std::uint32_t>(b[at + static_cast<std::size_t>(i)]);
  return v;
}
void put_le32(std::vector<std::byte>& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}

// A model-like file: BF16 matrices, an F32 vector, an odd-sized U8 tensor
// before a BF16 one (so that tensor starts at an odd offset), a zero-size
// tensor and a scalar.
std::vector<std::byte> model_file() {
  return test::synthetic_file({
      {"embed.weight", DType::BF16, {64, 256}},
      {"layer0.attn.weight", DType::BF16, {128, 128}},
      {"layer0.norm", DType::F32, {300}},
      {"odd.bytes", DType::U8, {7}},
      {"after_odd", DType::BF16, {1001}},
      {"empty", DType::F16, {0, 4}},
      {"scale", DType::F32, {}},
      {"layer1.mlp.weight", DType::BF16, {96, 200}},
  });
}

CompressOptions small_frames(bool planes = false) {
  CompressOptions o;
  o.frame_bytes = 4096;
  o.byte_planes = planes;
  o.threads = 3;
  return o;
}

std::vector<std::byte> compressed_model(bool planes = false) {
  auto original = model_file();
  auto f = File::from_memory(original);
  EXPECT_TRUE(f) << f.error().to_string();
  auto z = compress(*f, small_frames(planes));
  EXPECT_TRUE(z) << z.error().to_string();
  return *z;
}

std::vector<std::byte> read_all(const CompressedReader& r) {
  std::vector<std::byte> out(static_cast<std::size_t>(r.size()));
  auto s = r.read(0, out);
  EXPECT_TRUE(s) << s.error().to_string();
  return out;
}

// Offsets of the seek table pieces of a file written with 8-byte entries.
struct TableLayout {
  std::size_t footer, entries, start;
  std::uint32_t n;
};
TableLayout layout_of(const std::vector<std::byte>& z) {
  TableLayout t;
  t.footer = z.size() - 9;
  t.n = le32(z, t.footer);
  t.entries = t.footer - 8 * std::size_t{t.n};
  t.start = t.entries - 8;
  return t;
}

class Compressed : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!compression_available()) GTEST_SKIP() << "sft was built without zstd";
  }
};

TEST_F(Compressed, RoundTripInMemory) {
  for (bool planes : {false, true}) {
    SCOPED_TRACE(planes ? "byte planes" : "plain");
    auto original = model_file();
    auto z = compressed_model(planes);
    auto r = CompressedReader::from_memory(z);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->byte_planes(), planes);
    EXPECT_EQ(r->size(), original.size());
    EXPECT_EQ(read_all(*r), original);
    // Every frame holds at most 4096 original bytes, and one starts exactly
    // where the data buffer starts.
    bool boundary = false;
    for (const FrameInfo& f : r->frames()) {
      EXPECT_LE(f.size, 4096u);
      boundary |= f.offset == r->header().data_start();
    }
    EXPECT_TRUE(boundary);
    EXPECT_EQ(r->header().size(), 8u);
  }
}

TEST_F(Compressed, BytePlanesCompressBf16Smaller) {
  auto original = test::synthetic_file({{"w", DType::BF16, {512, 1024}}});
  auto f = File::from_memory(original);
  ASSERT_TRUE(f);
  CompressOptions o;
  auto plain = compress(*f, o);
  o.byte_planes = true;
  auto planes = compress(*f, o);
  ASSERT_TRUE(plain && planes);
  EXPECT_LT(plain->size(), original.size());
  EXPECT_LT(planes->size(), plain->size());
  // The byte-plane file announces itself so that zstd -d refuses it.
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(planes->data()), 4), "SFTZ");
  EXPECT_EQ(le32(*plain, 0), 0xFD2FB528u);
}

TEST_F(Compressed, FileOpenReadsTensorsOnDemand) {
  auto dir = test::temp_dir("compressed_open");
  auto original = model_file();
  auto plain = File::from_memory(original);
  ASSERT_TRUE(plain);
  for (bool planes : {false, true}) {
    SCOPED_TRACE(planes ? "byte planes" : "plain");
    auto path = dir / (planes ? "m.planes.zst" : "m.zst");
    test::write_all(path, compressed_model(planes));
    auto f = File::open(path);
    ASSERT_TRUE(f) << f.error().to_string();
    EXPECT_TRUE(f->compressed());
    EXPECT_FALSE(f->mapped());
    EXPECT_EQ(f->fd(), -1);
    EXPECT_EQ(f->size(), original.size());
    const detail::CompressedSource* r = test::decoder(*f);
    ASSERT_NE(r, nullptr);
    r->frames();
    // Opening decoded only the frames of the header.
    std::size_t header_frames = 0;
    for (const FrameInfo& fr : r->frames()) header_frames += fr.offset < f->header().data_start();
    EXPECT_EQ(r->frames_decompressed(), header_frames);

    for (const TensorInfo& t : f->header().tensors()) {
      SCOPED_TRACE(std::string(t.name));
      // Frames that hold some of this tensor's bytes.
      const std::uint64_t b = f->header().data_start() + t.data_offsets.begin;
      const std::uint64_t e = f->header().data_start() + t.data_offsets.end;
      std::uint64_t touched = 0;
      for (const FrameInfo& fr : r->frames()) touched += fr.size && fr.offset < e && fr.offset + fr.size > b;
      const std::uint64_t before = r->frames_decompressed();
      std::vector<std::byte> got(static_cast<std::size_t>(t.byte_size()));
      auto s = f->read(t, got);
      ASSERT_TRUE(s) << s.error().to_string();
      const TensorInfo* pt = plain->header().find(t.name);
      ASSERT_NE(pt, nullptr);
      auto want = plain->view(*pt)->bytes();
      EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin(), want.end()));
      // At most the frames it covers; fewer when a neighbour already left one in the cache.
      EXPECT_LE(r->frames_decompressed() - before, touched);
      auto v = f->tensor(t.name);
      ASSERT_FALSE(v);
      EXPECT_EQ(v.error().code, Errc::not_mapped);
    }
    // The whole file, frames decoded in parallel.
    std::vector<std::byte> all(original.size());
    ASSERT_TRUE(f->read_bytes(0, all));
    EXPECT_EQ(all, original);
    // A slice goes through the same reads.
    const TensorInfo* w = f->header().find("layer0.attn.weight");
    ASSERT_NE(w, nullptr);
    std::vector<SliceSpec> spec = {SliceSpec::range(3, 5)};
    std::vector<std::byte> part(2 * 128 * 2);
    auto plan = f->read_slice(*w, spec, part);
    ASSERT_TRUE(plan) << plan.error().to_string();
    auto full = plain->view(*plain->header().find("layer0.attn.weight"))->bytes();
    EXPECT_TRUE(std::equal(part.begin(), part.end(), full.begin() + 3 * 256));
  }
}

TEST_F(Compressed, OneTensorReadDecodesExactlyItsFrames) {
  // Big tensors, tiny frames: reading the middle tensor decodes exactly the
  // frames that overlap it and nothing else.
  auto original = test::synthetic_file({{"a", DType::BF16, {40000}}, {"b", DType::BF16, {30000}},
                                        {"c", DType::BF16, {50000}}});
  auto plain = File::from_memory(original);
  ASSERT_TRUE(plain);
  auto z = compress(*plain, small_frames());
  ASSERT_TRUE(z);
  auto path = test::temp_dir("compressed_one") / "m.zst";
  test::write_all(path, *z);
  auto f = File::open(path);
  ASSERT_TRUE(f) << f.error().to_string();
  const detail::CompressedSource* r = test::decoder(*f);
  const std::uint64_t after_open = r->frames_decompressed();
  const TensorInfo* b = f->header().find("b");
  const std::uint64_t lo = f->header().data_start() + b->data_offsets.begin;
  const std::uint64_t hi = f->header().data_start() + b->data_offsets.end;
  std::uint64_t overlapping = 0;
  for (const FrameInfo& fr : r->frames()) overlapping += fr.offset < hi && fr.offset + fr.size > lo;
  std::vector<std::byte> got(static_cast<std::size_t>(b->byte_size()));
  ASSERT_TRUE(f->read(*b, got));
  EXPECT_EQ(r->frames_decompressed() - after_open, overlapping);
  EXPECT_LT(overlapping, r->frames().size() / 2);
  auto want = plain->view(*plain->header().find("b"))->bytes();
  EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin(), want.end()));
}

// set_threads while other threads read: the setting is an atomic, so this is
// no data race (ThreadSanitizer reported one when it was a plain member), and
// every read still returns the right bytes whatever thread count it picked up.
TEST_F(Compressed, SetThreadsWhileReadingIsSafe) {
  auto original = model_file();
  auto z = compress(*File::from_memory(original), small_frames());
  ASSERT_TRUE(z);
  auto r = CompressedReader::from_memory(*z);
  ASSERT_TRUE(r) << r.error().to_string();
  const CompressedReader& reader = *r;  // set_threads is const: a tuning knob, not state
  std::atomic<bool> stop{false};
  std::thread tuner([&] {
    for (unsigned i = 0; !stop.load(); ++i) reader.set_threads(1 + i % 4);
  });
  std::vector<std::thread> readers;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 3; ++t)
    readers.emplace_back([&] {
      std::vector<std::byte> all(original.size());
      for (int k = 0; k < 5; ++k) {
        if (!reader.read(0, all) || all != original) wrong.fetch_add(1);
      }
    });
  for (auto& t : readers) t.join();
  stop = true;
  tuner.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(Compressed, RecompressingACompressedFileKeepsItsBytes) {
  auto original = model_file();
  auto path = test::temp_dir("compressed_re") / "m.zst";
  test::write_all(path, compressed_model(true));
  auto f = File::open(path);
  ASSERT_TRUE(f);
  CompressOptions o;
  o.level = 1;
  auto again = compress(*f, o);  // reads through the decompressing reader
  ASSERT_TRUE(again) << again.error().to_string();
  auto r = CompressedReader::from_memory(*again);
  ASSERT_TRUE(r);
  EXPECT_EQ(read_all(*r), original);
}

TEST_F(Compressed, HeaderOnlyAndEmptyFiles) {
  for (auto original : {test::synthetic_file({}), test::synthetic_file({{"z", DType::BF16, {0}}}),
                        test::synthetic_file({}, "{\"k\":\"v\"}")}) {
    auto f = File::from_memory(original);
    ASSERT_TRUE(f);
    auto z = compress(*f, small_frames(true));
    ASSERT_TRUE(z);
    auto r = CompressedReader::from_memory(*z);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(read_all(*r), original);
  }
}

TEST_F(Compressed, OptionsOutsideTheirDomain) {
  auto original = model_file();
  auto f = File::from_memory(original);
  ASSERT_TRUE(f);
  CompressOptions o;
  o.frame_bytes = 0;
  EXPECT_EQ(compress(*f, o).error().code, Errc::invalid_argument);
  o.frame_bytes = max_compress_frame_bytes + 1;
  EXPECT_EQ(compress(*f, o).error().code, Errc::invalid_argument);
  o = {};
  o.level = 1000;
  EXPECT_EQ(compress(*f, o).error().code, Errc::invalid_argument);
}

TEST_F(Compressed, AllowCompressedFalseRejectsAsNotSafetensors) {
  auto path = test::temp_dir("compressed_off") / "m.zst";
  test::write_all(path, compressed_model());
  OpenOptions o;
  o.allow_compressed = false;
  auto f = File::open(path, o);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, Errc::header_too_large);
}

// ---- untrusted input: each defect its own error ----------------------------------

Errc open_error(const std::vector<std::byte>& z, const Limits& limits = {}) {
  auto r = CompressedReader::from_memory(z, limits);
  return r ? Errc::ok : r.error().code;
}

// Open, then read every byte: the first error either step reports.
Errc read_error(const std::vector<std::byte>& z) {
  auto r = CompressedReader::from_memory(z);
  if (!r) return r.error().code;
  r->set_threads(1);
  std::vector<std::byte> all(static_cast<std::size_t>(r->size()));
  auto s = r->read(0, all);
  return s ? Errc::ok : s.error().code;
}

TEST_F(Compressed, TruncatedFile) {
  auto z = compressed_model();
  for (std::size_t cut : {std::size_t{1}, std::size_t{5}, std::size_t{9}, z.size() / 2, z.size() - 20}) {
    SCOPED_TRACE(cut);
    std::vector<std::byte> t(z.begin(), z.end() - static_cast<std::ptrdiff_t>(cut));
    EXPECT_EQ(open_error(t), Errc::compressed_truncated);
  }
  EXPECT_EQ(open_error({z.begin(), z.begin() + 3}), Errc::compressed_truncated);
}

TEST_F(Compressed, FramesWithoutSeekTable) {
  auto z = compressed_model();
  auto t = layout_of(z);
  std::vector<std::byte> bare(z.begin(), z.begin() + static_cast<std::ptrdiff_t>(t.start));
  auto r = CompressedReader::from_memory(bare);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::bad_seek_table);
  EXPECT_NE(r.error().message.find("no seek table"), std::string::npos);
}

TEST_F(Compressed, GarbageWithoutSeekTable) {
  std::vector<std::byte> g(100, std::byte{0x41});
  put_le32(g, 0, 0xFD2FB528u);
  // Block headers of 0x414141 run past the end: a frame cut short.
  EXPECT_EQ(open_error(g), Errc::compressed_truncated);
  g[4] = std::byte{0x08};  // the frame header's reserved bit
  EXPECT_EQ(open_error(g), Errc::compressed_corrupt);
  // One complete frame, then bytes that are no frame at all.
  auto z = compressed_model();
  auto r = CompressedReader::from_memory(z);
  ASSERT_TRUE(r);
  std::vector<std::byte> c(z.begin(), z.begin() + static_cast<std::ptrdiff_t>(r->frames()[0].compressed_size));
  c.insert(c.end(), 40, std::byte{0x41});
  auto e = CompressedReader::from_memory(c);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Errc::compressed_corrupt);
  EXPECT_EQ(e.error().offset, r->frames()[0].compressed_size);
}

TEST_F(Compressed, SeekTableDefects) {
  const auto z = compressed_model();
  const auto t = layout_of(z);
  auto with = [&](auto edit) {
    auto c = z;
    edit(c);
    return c;
  };
  // Reserved descriptor bits: a future format this build does not know.
  EXPECT_EQ(open_error(with([&](auto& c) { c[t.footer + 4] = std::byte{0x04}; })), Errc::compressed_unsupported);
  // Wrong skippable magic in front of the table.
  EXPECT_EQ(open_error(with([&](auto& c) { put_le32(c, t.start, 0x184D2A50u); })), Errc::bad_seek_table);
  // Frame_Size field that disagrees with the number of entries.
  EXPECT_EQ(open_error(with([&](auto& c) { put_le32(c, t.start + 4, le32(c, t.start + 4) + 8); })), Errc::bad_seek_table);
  // More frames than the file could hold.
  EXPECT_EQ(open_error(with([&](auto& c) { put_le32(c, t.footer, 1000000); })), Errc::bad_seek_table);
  // More frames than the limit: refused before anything is read or allocated.
  EXPECT_EQ(open_error(with([&](auto& c) { put_le32(c, t.footer, 0xFFFFFFFFu); })), Errc::compressed_too_large);
  // Compressed sizes that do not add up to the frames' bytes.
  EXPECT_EQ(open_error(with([&](auto& c) { put_le32(c, t.entries, le32(c, t.entries) + 1); })), Errc::bad_seek_table);
  EXPECT_EQ(open_error(with([&](auto& c) { put_le32(c, t.entries, le32(c, t.entries) - 1); })), Errc::bad_seek_table);
  // A frame larger than the limit allows.
  EXPECT_EQ(open_error(with([&](auto& c) { put_le32(c, t.entries + 4, 0x7FFFFFFFu); })), Errc::compressed_too_large);
  Limits tight;
  tight.max_frame_bytes = 1024;
  EXPECT_EQ(open_error(z, tight), Errc::compressed_too_large);
  tight = {};
  tight.max_frames = 3;
  EXPECT_EQ(open_error(z, tight), Errc::compressed_too_large);
  // A compressed size beyond what any frame within the limit needs.
  EXPECT_EQ(open_error(with([&](auto& c) { put_le32(c, t.entries, 0x7FFFFFFFu); })), Errc::compressed_too_large);
  // Bytes claimed without any compressed bytes.
  EXPECT_EQ(open_error(with([&](auto& c) {
              const std::size_t last = t.entries + 8 * (t.n - 1);
              put_le32(c, last - 8, le32(c, last - 8) + le32(c, last));  // keep the sum right
              put_le32(c, last, 0);
            })),
            Errc::bad_seek_table);
}

TEST_F(Compressed, FrameDefects) {
  const auto z = compressed_model();
  const auto t = layout_of(z);
  auto r0 = CompressedReader::from_memory(z);
  ASSERT_TRUE(r0);
  const auto frames = std::vector<FrameInfo>(r0->frames().begin(), r0->frames().end());
  const std::size_t k = frames.size() / 2;  // a data frame
  ASSERT_GT(frames[k].offset, r0->header().data_start());
  auto with = [&](auto edit) {
    auto c = z;
    edit(c);
    return c;
  };
  const std::size_t entry_k = t.entries + 8 * k;
  // Decompressed sizes moved between two frames: the total still matches,
  // the frame header's content size does not.
  EXPECT_EQ(read_error(with([&](auto& c) {
              put_le32(c, entry_k + 4, le32(c, entry_k + 4) - 1);
              put_le32(c, entry_k + 12, le32(c, entry_k + 12) + 1);
            })),
            Errc::compressed_corrupt);
  // Compressed sizes moved between two frames: frame k is cut short.
  EXPECT_EQ(read_error(with([&](auto& c) {
              put_le32(c, entry_k, le32(c, entry_k) - 1);
              put_le32(c, entry_k + 8, le32(c, entry_k + 8) + 1);
            })),
            Errc::compressed_truncated);
  // ... or frame k runs on: it ends before the bytes the table gives it.
  EXPECT_EQ(read_error(with([&](auto& c) {
              put_le32(c, entry_k, le32(c, entry_k) + 1);
              put_le32(c, entry_k + 8, le32(c, entry_k + 8) - 1);
            })),
            Errc::compressed_corrupt);
  // A flipped byte in the middle of a frame's compressed bytes.
  EXPECT_EQ(read_error(with([&](auto& c) {
              auto at = static_cast<std::size_t>(frames[k].compressed_offset + frames[k].compressed_size / 2);
              c[at] ^= std::byte{0x5a};
            })),
            Errc::compressed_corrupt);
  // A flipped byte in the checksum at the frame's end.
  EXPECT_EQ(read_error(with([&](auto& c) {
              auto at = static_cast<std::size_t>(frames[k].compressed_offset + frames[k].compressed_size - 1);
              c[at] ^= std::byte{0x01};
            })),
            Errc::compressed_corrupt);
  // A frame that is not zstd at all.
  EXPECT_EQ(read_error(with([&](auto& c) { put_le32(c, static_cast<std::size_t>(frames[k].compressed_offset), 0x12345678u); })),
            Errc::compressed_corrupt);
}

TEST_F(Compressed, CorruptFrameNamesTheTensorThroughFile) {
  auto z = compressed_model();
  auto r0 = CompressedReader::from_memory(z);
  ASSERT_TRUE(r0);
  const TensorInfo* t = r0->header().find("layer1.mlp.weight");
  ASSERT_NE(t, nullptr);
  const std::uint64_t pos = r0->header().data_start() + t->data_offsets.begin + t->byte_size() / 2;
  for (const FrameInfo& f : r0->frames())
    if (f.offset <= pos && pos < f.offset + f.size)
      z[static_cast<std::size_t>(f.compressed_offset + f.compressed_size / 2)] ^= std::byte{0xff};
  auto path = test::temp_dir("compressed_corrupt") / "m.zst";
  test::write_all(path, z);
  auto f = File::open(path);
  ASSERT_TRUE(f) << f.error().to_string();  // the header frames are intact
  std::vector<std::byte> out(static_cast<std::size_t>(t->byte_size()));
  auto s = f->read(*f->header().find("layer1.mlp.weight"), out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::compressed_corrupt);
  EXPECT_EQ(s.error().tensor, "layer1.mlp.weight");
  EXPECT_NE(s.error().offset, Error::no_offset);
  // Other tensors still read.
  std::vector<std::byte> e(static_cast<std::size_t>(f->header().find("embed.weight")->byte_size()));
  EXPECT_TRUE(f->read(*f->header().find("embed.weight"), e));
}

TEST_F(Compressed, BytePlanePrefixDefects) {
  const auto z = compressed_model(true);
  auto c = z;
  c[4] = std::byte{2};  // version
  EXPECT_EQ(open_error(c), Errc::compressed_unsupported);
  c = z;
  c[5] = std::byte{0x03};  // unknown flag
  EXPECT_EQ(open_error(c), Errc::compressed_unsupported);
  EXPECT_EQ(open_error({z.begin(), z.begin() + 6}), Errc::compressed_truncated);
}

TEST_F(Compressed, RandomDamageNeverCrashes) {
  // Not a fuzzer (fuzz/fuzz_compressed.cpp is), but every build runs it:
  // damaged files give one of the documented errors, or read back fine.
  const auto z = compressed_model(true);
  std::mt19937 rng(7);
  for (int i = 0; i < 400; ++i) {
    auto c = z;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) c[rng() % c.size()] = static_cast<std::byte>(rng() & 0xff);
    if (rng() % 4 == 0) c.resize(rng() % c.size());
    const Errc code = read_error(c);
    const bool expected = code == Errc::ok || code == Errc::compressed_corrupt || code == Errc::compressed_truncated ||
                          code == Errc::compressed_too_large || code == Errc::bad_seek_table ||
                          code == Errc::compressed_unsupported || static_cast<int>(code) < 40;  // header errors
    EXPECT_TRUE(expected) << errc_name(code);
  }
}

// ---- compatibility with the zstd command-line tool ---------------------------

bool have_zstd_cli() { return std::system("zstd --version > /dev/null 2>&1") == 0; }

TEST_F(Compressed, ZstdCliDecompressesByteForByte) {
  if (!have_zstd_cli()) GTEST_SKIP() << "the zstd command-line tool is not installed";
  auto dir = test::temp_dir("compressed_zstd_cli");
  auto original = model_file();
  test::write_all(dir / "m.zst", compressed_model());
  const std::string cmd = "zstd -q -d -f '" + (dir / "m.zst").string() + "' -o '" + (dir / "m.out").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_EQ(test::read_all(dir / "m.out"), original);
  // The byte-plane variant is refused rather than decoded into scrambled bytes.
  test::write_all(dir / "p.zst", compressed_model(true));
  const std::string cmd2 = "zstd -q -d -f '" + (dir / "p.zst").string() + "' -o '" + (dir / "p.out").string() + "' 2>/dev/null";
  EXPECT_NE(std::system(cmd2.c_str()), 0);
}

TEST_F(Compressed, ZstdCliOutputWithoutSeekTableIsRecognisedAndExplained) {
  if (!have_zstd_cli()) GTEST_SKIP() << "the zstd command-line tool is not installed";
  auto dir = test::temp_dir("compressed_zstd_plain");
  test::write_all(dir / "m.safetensors", model_file());
  const std::string cmd = "zstd -q -f '" + (dir / "m.safetensors").string() + "' -o '" + (dir / "m.zst").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto f = File::open(dir / "m.zst");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, Errc::bad_seek_table);
}

}  // namespace
}  // namespace sft

namespace sft {
namespace {

TEST_F(Compressed, FilesOnDiskAtomically) {
  auto dir = test::temp_dir("compressed_files");
  auto original = model_file();
  test::write_all(dir / "m.safetensors", original);
  auto f = File::open(dir / "m.safetensors");
  ASSERT_TRUE(f);
  CompressOptions o = small_frames(true);
  auto stats = compress_file(*f, dir / "m.zst", o);
  ASSERT_TRUE(stats) << stats.error().to_string();
  EXPECT_EQ(stats->original_bytes, original.size());
  EXPECT_EQ(stats->compressed_bytes, std::filesystem::file_size(dir / "m.zst"));
  auto r = CompressedReader::open(dir / "m.zst");
  ASSERT_TRUE(r);
  EXPECT_EQ(stats->frames, r->frames().size());
  ASSERT_TRUE(decompress_file(dir / "m.zst", dir / "back.safetensors", {}, 3));
  EXPECT_EQ(test::read_all(dir / "back.safetensors"), original);

  // Failures leave the target as it was and no temporary behind.
  auto count = [&] {
    return std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator());
  };
  const auto files_before = count();
  auto bad = compress_file(*f, dir / "no-such-dir" / "x.zst", o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::write_failed);
  auto z = test::read_all(dir / "m.zst");
  z[z.size() / 2] ^= std::byte{0xff};
  test::write_all(dir / "damaged.zst", z);
  test::write_all(dir / "target", std::vector<std::byte>(3, std::byte{7}));
  auto d = decompress_file(dir / "damaged.zst", dir / "target");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, Errc::compressed_corrupt);
  EXPECT_EQ(test::read_all(dir / "target"), std::vector<std::byte>(3, std::byte{7}));
  EXPECT_EQ(count(), files_before + 2);  // damaged.zst and target, nothing else
  auto missing = decompress_file(dir / "missing.zst", dir / "out");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::io_error);
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
}

}  // namespace
}  // namespace sft
