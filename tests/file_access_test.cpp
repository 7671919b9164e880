// One data-access suite over every byte source a File can have (mapped, pread,
// memory, compressed, compressed with byte planes): the same files, the same
// checks, the same answers. Only what the source makes possible differs, and
// that is checked too: a view exists where the bytes are in memory and is
// not_mapped everywhere else; load() is a view in memory and an owned,
// 64-byte-aligned copy everywhere else.
//
// Adding a source (the remote HTTP source, for instance): add an entry to
// sources() below whose `open` serves the given file bytes through it (start
// a server on a temporary directory holding them, open the URL). Every test
// then runs over it.
#include <gtest/gtest.h>

#include <algorithm>
#include <complex>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "expect.hpp"
#include "file_internals.hpp"
#include "mini_json.hpp"
#include "sft/sft.hpp"
#include "slice_oracle.hpp"
#include "synthetic_file.hpp"
#include "test_support.hpp"

namespace {

using namespace sft;
using namespace sft::test;
namespace fs = std::filesystem;

// --- sources -------------------------------------------------------------------------

struct Source {
  std::string name;       // test-name suffix
  std::string kind;       // what File::source_kind() must say
  bool in_memory;         // views possible
  // Open `bytes` (a whole safetensors file) through this source; `dir` is a
  // fresh directory the source may write to. `keep` must outlive the File
  // (from_memory borrows it).
  std::function<Result<File>(const std::vector<std::byte>& bytes, const fs::path& dir, std::vector<std::byte>& keep)> open;
};

Result<File> open_on_disk(const std::vector<std::byte>& bytes, const fs::path& dir, ReadMode mode) {
  const auto path = dir / "f.safetensors";
  write_all(path, bytes);
  OpenOptions o;
  o.mode = mode;
  return File::open(path, o);
}

Result<File> open_compressed(const std::vector<std::byte>& bytes, const fs::path& dir, bool planes) {
  auto plain = File::from_memory(bytes);
  if (!plain) return std::move(plain).error();
  CompressOptions o;
  o.frame_bytes = 64;  // many frames: reads cross frame boundaries and decode in parallel
  o.byte_planes = planes;
  o.threads = 2;
  auto z = compress(*plain, o);
  if (!z) return std::move(z).error();
  const auto path = dir / "f.safetensors.zst";
  write_all(path, *z);
  return File::open(path);
}

const std::vector<Source>& sources() {
  static const std::vector<Source> all = {
      {"mapped", "mapped", true,
       [](const auto& b, const auto& dir, auto&) { return open_on_disk(b, dir, ReadMode::mmap); }},
      {"pread", "pread", false,
       [](const auto& b, const auto& dir, auto&) { return open_on_disk(b, dir, ReadMode::pread); }},
      {"memory", "memory", true,
       [](const auto& b, const auto&, auto& keep) {
         keep = b;
         return File::from_memory(keep);
       }},
      {"compressed", "compressed", false,
       [](const auto& b, const auto& dir, auto&) { return open_compressed(b, dir, false); }},
      {"compressed_planes", "compressed", false,
       [](const auto& b, const auto& dir, auto&) { return open_compressed(b, dir, true); }},
  };
  return all;
}

// --- files ---------------------------------------------------------------------------

// Every tensor's expected bytes, computed from the layout the file was built
// with (not from what sft parses).
struct TestFile {
  std::string label;
  std::vector<std::byte> bytes;
  std::vector<std::pair<std::string, std::vector<std::byte>>> tensors;  // name -> bytes
};

std::uint64_t le64(const std::vector<std::byte>& b) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint8_t>(b[static_cast<std::size_t>(i)]);
  return n;
}

TestFile synthetic(std::string label, const std::vector<SyntheticTensor>& list, std::uint32_t seed) {
  TestFile f{std::move(label), synthetic_file(list, {}, seed), {}};
  std::uint64_t at = 8 + le64(f.bytes);  // tensors lie in the order given, from the data start
  for (const auto& t : list) {
    std::uint64_t n = 1;
    for (auto d : t.shape) n *= d;
    const std::uint64_t size = n * bits(t.dtype) / 8;
    f.tensors.emplace_back(t.name, std::vector<std::byte>(f.bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                                          f.bytes.begin() + static_cast<std::ptrdiff_t>(at + size)));
    at += size;
  }
  return f;
}

// Every dtype; odd sizes in front so that later tensors start misaligned in
// the file; scalars and zero-size tensors.
std::vector<TestFile> generated_files() {
  std::vector<TestFile> out;
  out.push_back(synthetic("every_dtype",
                          {{"odd", DType::U8, {3}},
                           {"bool", DType::BOOL, {5}},
                           {"f4", DType::F4, {4, 6}},
                           {"f6a", DType::F6_E2M3, {2, 8}},
                           {"f6b", DType::F6_E3M2, {4}},
                           {"i8", DType::I8, {7}},
                           {"f8a", DType::F8_E5M2, {3, 2}},
                           {"f8b", DType::F8_E4M3, {2, 3}},
                           {"f8c", DType::F8_E8M0, {4}},
                           {"f8d", DType::F8_E4M3FNUZ, {1, 5}},
                           {"f8e", DType::F8_E5M2FNUZ, {5}},
                           {"i16", DType::I16, {3, 3}},
                           {"u16", DType::U16, {2}},
                           {"f16", DType::F16, {4, 2}},
                           {"bf16", DType::BF16, {3, 4, 5}},
                           {"i32", DType::I32, {6}},
                           {"u32", DType::U32, {2, 2}},
                           {"f32", DType::F32, {5, 3, 4}},
                           {"c64", DType::C64, {3}},
                           {"f64", DType::F64, {2, 3}},
                           {"i64", DType::I64, {}},
                           {"u64", DType::U64, {4, 1}},
                           {"empty", DType::F32, {0, 7}},
                           {"tail", DType::U8, {1}}},
                          7));
  // Larger tensors, spanning many compressed frames.
  out.push_back(synthetic("large",
                          {{"emb", DType::BF16, {64, 48}}, {"w", DType::F32, {33, 17, 5}}, {"b", DType::I64, {129}}},
                          11));
  return out;
}

fs::path real_dir() { return fixtures_dir() / "real"; }

// The real files written by other projects, with their bytes per tensor from
// MANIFEST.json's offsets (the manifest's sha256 is checked separately).
std::vector<TestFile> real_files() {
  std::vector<TestFile> out;
  if (!fs::exists(real_dir() / "MANIFEST.json")) return out;
  auto text = read_all(real_dir() / "MANIFEST.json");
  auto manifest = json::parse(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(real_dir()))
    if (e.path().extension() == ".safetensors") paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    const json::Value* m = manifest.find(p.filename().string());
    if (!m) continue;
    TestFile f{p.filename().string(), read_all(p), {}};
    const std::uint64_t ds = 8 + m->at("header_len").as_u64();
    for (const auto& [name, t] : m->at("tensors").members) {
      const auto& offs = t.at("data_offsets").items;
      f.tensors.emplace_back(name, std::vector<std::byte>(
                                       f.bytes.begin() + static_cast<std::ptrdiff_t>(ds + offs[0].as_u64()),
                                       f.bytes.begin() + static_cast<std::ptrdiff_t>(ds + offs[1].as_u64())));
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<TestFile> all_files() {
  auto out = generated_files();
  for (auto& f : real_files()) out.push_back(std::move(f));
  return out;
}

std::vector<std::byte> to_vec(std::span<const std::byte> s) { return {s.begin(), s.end()}; }

bool aligned(const void* p, std::size_t a) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }

// --- the suite -----------------------------------------------------------------------

class EverySource : public ::testing::TestWithParam<std::size_t> {
 protected:
  const Source& source() const { return sources()[GetParam()]; }
  // Opens `f` through this test's source (or fails the test).
  struct Opened {
    std::vector<std::byte> keep;
    std::optional<Result<File>> file;
  };
  std::unique_ptr<Opened> open(const TestFile& f) {
    auto o = std::make_unique<Opened>();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const auto dir = temp_dir(std::string("access-") + info->name() + "-" + f.label);
    o->file.emplace(source().open(f.bytes, dir, o->keep));
    return o;
  }
  // Calls fn(test file, File) for each of `files` opened through this source.
  template <class Fn>
  void for_each_opened(const std::vector<TestFile>& files, Fn&& fn) {
    for (const TestFile& tf : files) {
      SCOPED_TRACE(tf.label);
      auto o = open(tf);
      ASSERT_TRUE(succeeds(*o->file));
      fn(tf, **o->file);
    }
  }
};

std::string source_name(const ::testing::TestParamInfo<std::size_t>& info) { return sources()[info.param].name; }

INSTANTIATE_TEST_SUITE_P(Sources, EverySource, ::testing::Range<std::size_t>(0, sources().size()), source_name);

// The typed access of one tensor: the T of its dtype succeeds (unless a view is
// misaligned, where to_owned() fixes it), a wrong T is dtype_mismatch.
template <class T>
void check_as(const TensorBytes& t) {
  auto typed = t.as<T>();
  if (!typed) {
    ASSERT_FALSE(t.owned()) << "an owned buffer is always aligned";
    ASSERT_TRUE(fails_with(typed, Errc::misaligned_data));
    auto copy = t.to_owned();
    ASSERT_TRUE(succeeds(copy));
    EXPECT_TRUE(copy->owned());
    EXPECT_TRUE(aligned(copy->data(), TensorBytes::alignment));
    EXPECT_EQ(to_vec(copy->bytes()), to_vec(t.bytes()));
    typed = copy->as<T>();
    ASSERT_TRUE(succeeds(typed));
    return;
  }
  EXPECT_EQ(typed->size() * sizeof(T), t.size_bytes());
  EXPECT_TRUE(typed->empty() || static_cast<const void*>(typed->data()) == static_cast<const void*>(t.data()));
}

void check_typed(const TensorBytes& t) {
  switch (t.dtype()) {
    case DType::BOOL: case DType::U8: check_as<std::uint8_t>(t); break;
    case DType::I8: check_as<std::int8_t>(t); break;
    case DType::F4: check_as<float4_e2m1x2>(t); break;
    case DType::F6_E2M3: check_as<float6_e2m3_packed>(t); break;
    case DType::F6_E3M2: check_as<float6_e3m2_packed>(t); break;
    case DType::F8_E5M2: check_as<float8_e5m2>(t); break;
    case DType::F8_E4M3: check_as<float8_e4m3>(t); break;
    case DType::F8_E8M0: check_as<float8_e8m0>(t); break;
    case DType::F8_E4M3FNUZ: check_as<float8_e4m3fnuz>(t); break;
    case DType::F8_E5M2FNUZ: check_as<float8_e5m2fnuz>(t); break;
    case DType::I16: check_as<std::int16_t>(t); break;
    case DType::U16: check_as<std::uint16_t>(t); break;
    case DType::F16: check_as<float16>(t); break;
    case DType::BF16: check_as<bfloat16>(t); break;
    case DType::I32: check_as<std::int32_t>(t); break;
    case DType::U32: check_as<std::uint32_t>(t); break;
    case DType::F32: check_as<float>(t); break;
    case DType::C64: check_as<std::complex<float>>(t); break;
    case DType::F64: check_as<double>(t); break;
    case DType::I64: check_as<std::int64_t>(t); break;
    case DType::U64: check_as<std::uint64_t>(t); break;
  }
  // A T of another dtype: dtype_mismatch, naming the tensor (I8 is only I8's).
  if (t.dtype() != DType::I8) {
    auto wrong = t.as<std::int8_t>();
    EXPECT_TRUE(fails_with(wrong, Errc::dtype_mismatch));
    EXPECT_TRUE(names_tensor(wrong, t.name()));
  } else {
    EXPECT_TRUE(fails_with(t.as<std::uint8_t>(), Errc::dtype_mismatch));
  }
}

TEST_P(EverySource, OpensWithItsKind) {
  for_each_opened(generated_files(), [&](const TestFile& tf, const File& f) {
    EXPECT_EQ(f.source_kind(), source().kind);
    EXPECT_EQ(byte_source(f).kind(), source().kind);
    EXPECT_EQ(f.mapped(), source().in_memory);
    EXPECT_EQ(f.compressed(), source().kind == "compressed");
    EXPECT_EQ(f.size(), tf.bytes.size());
    EXPECT_EQ(f.mode(), source().in_memory ? ReadMode::mmap : ReadMode::pread);
  });
}

TEST_P(EverySource, LoadGivesEveryTensorsBytesTyped) {
  for_each_opened(all_files(), [&](const TestFile& tf, const File& f) {
    ASSERT_EQ(f.header().size(), tf.tensors.size());
    for (const auto& [name, want] : tf.tensors) {
      SCOPED_TRACE(name);
      auto t = f.load(name);
      ASSERT_TRUE(succeeds(t));
      EXPECT_EQ(t->name(), name);
      EXPECT_EQ(&t->info(), f.header().find(name));
      EXPECT_EQ(to_vec(t->bytes()), want);
      EXPECT_EQ(t->owned(), !source().in_memory);
      if (t->owned()) EXPECT_TRUE(aligned(t->data(), TensorBytes::alignment));
      EXPECT_TRUE(std::equal(t->shape().begin(), t->shape().end(), t->info().shape.begin(), t->info().shape.end()));
      EXPECT_EQ(t->element_count(), t->info().element_count());
      // By TensorInfo: the same.
      auto again = f.load(t->info());
      ASSERT_TRUE(succeeds(again));
      EXPECT_EQ(to_vec(again->bytes()), want);
      check_typed(*t);
      // The view of a TensorBytes carries the same bytes and shape.
      TensorView v = t->view();
      EXPECT_EQ(v.data(), t->data());
      EXPECT_EQ(v.element_count(), t->element_count());
    }
    auto missing = f.load("no such tensor");
    EXPECT_TRUE(fails_with(missing, Errc::not_found));
    EXPECT_TRUE(names_tensor(missing, "no such tensor"));
  });
}

TEST_P(EverySource, ViewsExistExactlyWhereTheBytesAreInMemory) {
  for_each_opened(all_files(), [&](const TestFile& tf, const File& f) {
    auto whole = f.bytes();
    auto views = f.views();
    if (!source().in_memory) {
      EXPECT_TRUE(fails_with(whole, Errc::not_mapped));
      EXPECT_TRUE(fails_with(views, Errc::not_mapped));
      for (const TensorInfo& t : f.header().tensors()) {
        auto v = f.view(t);
        EXPECT_TRUE(fails_with(v, Errc::not_mapped));  // never an empty view
        EXPECT_TRUE(names_tensor(v, t.name));
        EXPECT_TRUE(fails_with(f.tensor(t.name), Errc::not_mapped));
      }
      return;
    }
    ASSERT_TRUE(succeeds(whole));
    EXPECT_EQ(to_vec(*whole), tf.bytes);
    ASSERT_TRUE(succeeds(views));
    std::size_t i = 0;
    for (TensorView v : *views) {
      const TensorInfo& t = f.header().tensors()[i++];
      EXPECT_EQ(&v.info(), &t);
      EXPECT_EQ(v.data(), whole->data() + f.header().data_start() + t.data_offsets.begin);
      auto by_info = f.view(t);
      ASSERT_TRUE(succeeds(by_info));
      EXPECT_EQ(by_info->data(), v.data());
      auto loaded = f.load(t);
      ASSERT_TRUE(succeeds(loaded));
      EXPECT_EQ(loaded->data(), v.data());  // load is the view, not a copy
    }
    EXPECT_EQ(i, f.header().size());
  });
}

TEST_P(EverySource, ReadAndReadRangeCopyExactlyTheTensor) {
  std::mt19937_64 rng(5);
  for_each_opened(all_files(), [&](const TestFile& tf, const File& f) {
    for (const auto& [name, want] : tf.tensors) {
      SCOPED_TRACE(name);
      const TensorInfo& t = *f.header().find(name);
      std::vector<std::byte> out(want.size() + 2, std::byte{0x5a});
      ASSERT_TRUE(succeeds(f.read(t, out)));
      EXPECT_TRUE(std::equal(want.begin(), want.end(), out.begin()));
      EXPECT_EQ(out[want.size()], std::byte{0x5a});  // nothing written past the tensor
      if (!want.empty()) {
        std::vector<std::byte> small(want.size() - 1);
        auto r = f.read(t, small);
        EXPECT_TRUE(fails_with(r, Errc::buffer_too_small));
        EXPECT_TRUE(names_tensor(r, name));
      }
      for (int k = 0; k < 4; ++k) {
        const std::uint64_t a = rng() % (want.size() + 1), b = rng() % (want.size() + 1);
        const std::uint64_t lo = std::min(a, b), hi = std::max(a, b);
        std::vector<std::byte> part(hi - lo);
        ASSERT_TRUE(succeeds(f.read_range(t, lo, part)));
        EXPECT_TRUE(std::equal(part.begin(), part.end(), want.begin() + static_cast<std::ptrdiff_t>(lo)));
      }
      std::vector<std::byte> one(1);
      auto past = f.read_range(t, want.size(), one);
      EXPECT_TRUE(fails_with(past, Errc::invalid_argument));  // never the next tensor's bytes
      EXPECT_TRUE(names_tensor(past, name));
    }
    std::vector<std::byte> all(tf.bytes.size());
    ASSERT_TRUE(succeeds(f.read_bytes(0, all)));
    EXPECT_EQ(all, tf.bytes);
    std::vector<std::byte> two(2);
    EXPECT_TRUE(fails_with(f.read_bytes(tf.bytes.size() - 1, two), Errc::invalid_argument));
    // A batch: every tensor's bytes in one call, in reverse order.
    std::vector<std::vector<std::byte>> outs;
    std::vector<ReadRequest> batch;
    for (const TensorInfo& t : f.header().tensors()) outs.emplace_back(t.byte_size());
    for (std::size_t i = outs.size(); i-- > 0;) {
      const TensorInfo& t = f.header().tensors()[i];
      batch.push_back({f.header().data_start() + t.data_offsets.begin, outs[i]});
    }
    ASSERT_TRUE(succeeds(f.read_bytes(batch)));
    for (std::size_t i = 0; i < outs.size(); ++i) {
      const std::string_view name = f.header().tensors()[i].name;
      auto want = std::find_if(tf.tensors.begin(), tf.tensors.end(), [&](const auto& p) { return p.first == name; });
      ASSERT_NE(want, tf.tensors.end());
      EXPECT_EQ(outs[i], want->second) << name;
    }
    batch.push_back({tf.bytes.size() - 1, two});  // one range past the end: nothing is read
    EXPECT_TRUE(fails_with(f.read_bytes(batch), Errc::invalid_argument));
  });
}

// Random strided slices (negative indices and bounds, steps of both signs,
// bounds past the dimension) against the element-by-element definition.
TEST_P(EverySource, SlicesMatchPythonsDefinition) {
  std::mt19937_64 rng(20240611 + GetParam());
  auto pick = [&](std::uint64_t n) { return n == 0 ? 0 : rng() % n; };
  for_each_opened(all_files(), [&](const TestFile& tf, const File& f) {
    for (const auto& [name, want] : tf.tensors) {
      const TensorInfo& t = *f.header().find(name);
      if (is_subbyte(t.dtype)) continue;  // SubByteSlicesFallOnBytes
      for (int k = 0; k < 12; ++k) {
        std::vector<SliceSpec> spec;
        const std::size_t n = pick(t.rank() + 1);
        auto bound = [&](std::uint64_t dim) -> std::int64_t {
          if (pick(4) == 0) return SliceSpec::none;
          return static_cast<std::int64_t>(pick(2 * dim + 5)) - static_cast<std::int64_t>(dim) - 2;
        };
        for (std::size_t d = 0; d < n; ++d) {
          const std::uint64_t dim = t.shape[d];
          switch (pick(4)) {
            case 0: spec.push_back(SliceSpec::all_of()); break;
            case 1: spec.push_back(SliceSpec::index(static_cast<std::int64_t>(pick(2 * dim + 2)) -
                                                    static_cast<std::int64_t>(dim) - 1)); break;
            default: {
              const std::int64_t steps[] = {1, 1, 2, 3, -1, -1, -2, 0};
              const std::int64_t a = bound(dim), b = bound(dim);
              spec.push_back(SliceSpec::range(a, b, steps[pick(8)]));
            }
          }
        }
        SCOPED_TRACE(std::string(name) + " slice " + std::to_string(k));
        auto expected = expected_slice(t, want, spec);
        auto sliced = f.slice(t, spec);
        std::vector<std::byte> out(want.size() + 1);
        auto plan = f.read_slice(t, spec, out);
        if (!expected) {
          EXPECT_TRUE(fails_with_one_of(sliced, {Errc::slice_out_of_range, Errc::slice_bad_range}));
          EXPECT_TRUE(fails_with_one_of(plan, {Errc::slice_out_of_range, Errc::slice_bad_range}));
          EXPECT_TRUE(names_tensor(sliced, name));
          continue;
        }
        ASSERT_TRUE(succeeds(sliced));
        ASSERT_TRUE(succeeds(plan));
        EXPECT_EQ(std::vector<std::uint64_t>(sliced->shape().begin(), sliced->shape().end()), expected->shape);
        EXPECT_EQ(plan->shape, expected->shape);
        EXPECT_EQ(to_vec(sliced->bytes()), expected->bytes);
        ASSERT_EQ(plan->byte_size, expected->bytes.size());
        EXPECT_TRUE(std::equal(expected->bytes.begin(), expected->bytes.end(), out.begin()));
        // A contiguous slice of bytes in memory is a view; everything else a copy.
        EXPECT_EQ(sliced->owned(), !(source().in_memory && plan->contiguous()));
        if (sliced->owned()) EXPECT_TRUE(aligned(sliced->data(), TensorBytes::alignment));
      }
    }
  });
}

// A slice on the leading dimension with step 1 is one run: a view where the
// bytes are in memory (the brief's zero-copy case), a copy elsewhere.
TEST_P(EverySource, LeadingDimensionSliceIsAViewInMemory) {
  const TestFile tf = generated_files()[1];
  auto o = open(tf);
  ASSERT_TRUE(succeeds(*o->file));
  const File& f = **o->file;
  const TensorInfo& w = *f.header().find("w");  // F32 [33, 17, 5]
  auto rows = f.slice(w, {SliceSpec::range(3, 9)});
  ASSERT_TRUE(succeeds(rows));
  EXPECT_EQ(std::vector<std::uint64_t>(rows->shape().begin(), rows->shape().end()),
            (std::vector<std::uint64_t>{6, 17, 5}));
  EXPECT_EQ(rows->size_bytes(), 6u * 17 * 5 * 4);
  const auto& want = tf.tensors[1].second;
  EXPECT_EQ(to_vec(rows->bytes()), std::vector<std::byte>(want.begin() + 3 * 17 * 5 * 4, want.begin() + 9 * 17 * 5 * 4));
  if (source().in_memory) {
    EXPECT_FALSE(rows->owned());
    EXPECT_EQ(rows->data(), f.view(w)->data() + 3 * 17 * 5 * 4);
  } else {
    EXPECT_TRUE(rows->owned());
  }
  auto one = f.slice(w, {SliceSpec::index(-1), SliceSpec::range(2, 4)});  // [-1, 2:4]: still one run
  ASSERT_TRUE(succeeds(one));
  EXPECT_EQ(one->owned(), !source().in_memory);
  auto strided = f.slice(w, {SliceSpec::range(0, 33, 2)});
  ASSERT_TRUE(succeeds(strided));
  EXPECT_TRUE(strided->owned());
}

TEST_P(EverySource, SubByteSlicesFallOnBytes) {
  const TestFile tf = generated_files()[0];
  auto o = open(tf);
  ASSERT_TRUE(succeeds(*o->file));
  const File& f = **o->file;
  // F4 [4, 6]: a row is 24 bits = 3 bytes.
  const TensorInfo& f4 = *f.header().find("f4");
  const auto& want = std::find_if(tf.tensors.begin(), tf.tensors.end(), [](auto& p) { return p.first == "f4"; })->second;
  auto rows = f.slice(f4, {SliceSpec::range(-3, SliceSpec::none, 2)});  // rows 1 and 3
  ASSERT_TRUE(succeeds(rows));
  std::vector<std::byte> expect(want.begin() + 3, want.begin() + 6);
  expect.insert(expect.end(), want.begin() + 9, want.begin() + 12);
  EXPECT_EQ(to_vec(rows->bytes()), expect);
  auto back = f.slice(f4, {SliceSpec::range(SliceSpec::none, SliceSpec::none, -1), SliceSpec::range(2, 6)});
  ASSERT_TRUE(succeeds(back));  // [::-1, 2:6]: each run 4 elements = 2 bytes, starting at element 2 = byte 1
  EXPECT_EQ(back->size_bytes(), 8u);
  EXPECT_EQ(back->bytes()[0], want[9 + 1]);
  for (auto spec : {std::vector<SliceSpec>{SliceSpec::all_of(), SliceSpec::range(1, 3)},
                    std::vector<SliceSpec>{SliceSpec::all_of(), SliceSpec::range(0, 6, 2)},
                    std::vector<SliceSpec>{SliceSpec::index(0), SliceSpec::index(-1)}}) {
    auto r = f.slice(f4, spec);
    EXPECT_TRUE(fails_with(r, Errc::slice_subbyte));
    EXPECT_TRUE(names_tensor(r, "f4"));
  }
  // F6 [2, 8]: a row is 6 bytes; [1] is the second row.
  const TensorInfo& f6 = *f.header().find("f6a");
  const auto& want6 = std::find_if(tf.tensors.begin(), tf.tensors.end(), [](auto& p) { return p.first == "f6a"; })->second;
  auto row = f.slice(f6, {SliceSpec::index(-1)});
  ASSERT_TRUE(succeeds(row));
  EXPECT_EQ(to_vec(row->bytes()), std::vector<std::byte>(want6.begin() + 6, want6.end()));
  auto typed = row->as<float6_e2m3_packed>();
  if (row->owned() || typed) {
    ASSERT_TRUE(succeeds(typed));
    EXPECT_EQ(typed->size(), 6u);
  }
}

// Every function taking a TensorInfo refuses one that is not an entry of
// this File's header: a copy of the header, another File's entry.
TEST_P(EverySource, ATensorInfoOfAnotherHeaderIsRefused) {
  const TestFile tf = generated_files()[0];
  auto o = open(tf);
  ASSERT_TRUE(succeeds(*o->file));
  const File& f = **o->file;
  const Header copy = f.header();  // equal entries at other addresses
  auto other = File::from_memory(tf.bytes);
  ASSERT_TRUE(succeeds(other));
  TensorInfo forged = *f.header().find("f32");
  forged.data_offsets = {0, ~std::uint64_t{0} / 2};  // what a foreign entry could claim
  for (const TensorInfo* t : std::vector<const TensorInfo*>{copy.find("f32"), other->header().find("f32"), &forged}) {
    std::vector<std::byte> out(t->byte_size() < 4096 ? t->byte_size() : 4096);
    EXPECT_TRUE(fails_with(f.view(*t), Errc::invalid_argument));
    EXPECT_TRUE(names_tensor(f.view(*t), "f32"));
    EXPECT_TRUE(fails_with(f.load(*t), Errc::invalid_argument));
    EXPECT_TRUE(fails_with(f.read(*t, out), Errc::invalid_argument));
    EXPECT_TRUE(fails_with(f.read_range(*t, 0, std::span(out).first(4)), Errc::invalid_argument));
    EXPECT_TRUE(fails_with(f.read_slice(*t, {}, out), Errc::invalid_argument));
    EXPECT_TRUE(fails_with(f.slice(*t, {}), Errc::invalid_argument));
  }
}

// The real files: every tensor loaded through every source hashes to the
// sha256 MANIFEST.json records (a check independent of the offsets above).
TEST_P(EverySource, RealFixturesLoadAsTheirManifestSays) {
  if (!fs::exists(real_dir() / "MANIFEST.json"))
    GTEST_SKIP() << "no fixtures at " << real_dir() << " (the shared fixtures are required in CI)";
  auto text = read_all(real_dir() / "MANIFEST.json");
  auto manifest = json::parse(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
  std::size_t checked = 0;
  for_each_opened(real_files(), [&](const TestFile& tf, const File& f) {
    for (const auto& [name, m] : manifest.at(tf.label).at("tensors").members) {
      auto t = f.load(name);
      ASSERT_TRUE(succeeds(t)) << name;
      EXPECT_EQ(sha256_hex(t->data(), t->size_bytes()), m.at("sha256").str()) << name;
      ++checked;
    }
  });
  EXPECT_GT(checked, 0u);
}

// --- whole-API properties, not per source ----------------------------------------------

static_assert(!std::is_copy_constructible_v<TensorBytes> && std::is_nothrow_move_constructible_v<TensorBytes>);
// Nothing hands out pointers into a temporary TensorBytes, or into a temporary Result of one.
template <class T>
concept bytes_of_rvalue = requires(T&& t) { std::forward<T>(t).bytes(); } ||
                          requires(T&& t) { std::forward<T>(t).data(); } ||
                          requires(T&& t) { std::forward<T>(t).template as<float>(); } ||
                          requires(T&& t) { std::forward<T>(t).view(); };
static_assert(!bytes_of_rvalue<TensorBytes> && !bytes_of_rvalue<TensorBytes&&>);
static_assert(bytes_of_rvalue<const TensorBytes&>);
template <class R>
concept arrow_works = requires { std::declval<R>().operator->(); };
static_assert(!arrow_works<Result<TensorBytes>> && arrow_works<Result<TensorBytes>&>);
// load() and slice() of a temporary File do not compile either.
template <class F>
concept loads_of_rvalue = requires(F&& f, const TensorInfo& t) { std::forward<F>(f).load(t); } ||
                          requires(F&& f) { std::forward<F>(f).load(std::string_view{}); } ||
                          requires(F&& f, const TensorInfo& t) { std::forward<F>(f).slice(t, {}); };
static_assert(!loads_of_rvalue<File> && loads_of_rvalue<const File&>);

// BOOL is read as std::uint8_t; there is no bool element type (a bool whose
// byte is neither 0 nor 1 is undefined behaviour, and files hold any byte).
template <class T>
concept has_dtype = requires { dtype_of<T>::value; };
static_assert(!has_dtype<bool>, "dtype_of<bool> would reinterpret arbitrary file bytes as bool");
static_assert(accepts_dtype<std::uint8_t>(DType::BOOL) && accepts_dtype<std::uint8_t>(DType::U8));
static_assert(!accepts_dtype<std::int8_t>(DType::BOOL));
static_assert(has_dtype<float8_e4m3> && has_dtype<float4_e2m1x2> && has_dtype<float6_e3m2_packed>);

TEST(TensorBytes, BoolTensorsReadAsBytesWhateverTheirValue) {
  // A BOOL tensor holding 0, 1 and 2: as<std::uint8_t>() shows the bytes as they are.
  auto bytes = make_file(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", std::string("\x00\x01\x02", 3));
  auto f = File::from_memory(bytes);
  ASSERT_TRUE(succeeds(f));
  auto m = f->load("m");
  ASSERT_TRUE(succeeds(m));
  auto v = m->as<std::uint8_t>();
  ASSERT_TRUE(succeeds(v));
  EXPECT_EQ((std::vector<std::uint8_t>(v->begin(), v->end())), (std::vector<std::uint8_t>{0, 1, 2}));
}

TEST(TensorBytes, MovedFromIsEmptyAndTheMoveKeepsTheBytes) {
  auto bytes = make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\x01'));
  auto dir = temp_dir("tensor-bytes-move");
  write_all(dir / "x.safetensors", bytes);
  OpenOptions o;
  o.mode = ReadMode::pread;
  auto f = File::open(dir / "x.safetensors", o);
  ASSERT_TRUE(succeeds(f));
  auto t = f->load("x");
  ASSERT_TRUE(succeeds(t));
  const std::byte* p = t->data();
  TensorBytes moved = std::move(*t);
  EXPECT_EQ(moved.data(), p);
  EXPECT_TRUE(moved.owned());
  EXPECT_EQ(t->size_bytes(), 0u);
  EXPECT_FALSE(t->owned());
  TensorBytes assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.data(), p);
  EXPECT_EQ(assigned.size_bytes(), 8u);
}

}  // namespace
