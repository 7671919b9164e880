// Tests of sft::File (mmap, pread and borrowed memory), TensorView::as<T>() and
// slicing (plan_slice / File::read_slice), which follows the reference's get_slice:
// ranges and single indices on the leading dimensions.
#include <gtest/gtest.h>

#include <complex>
#include <limits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "expect.hpp"
#include "sft/sft.hpp"
#include "slice_oracle.hpp"
#include "test_support.hpp"

namespace {

using namespace sft;
using namespace sft::test;
namespace fs = std::filesystem;

// Bytes of a value, appended to a data buffer.
template <class T>
void put(std::string& data, const T& v) {
  data.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Pads `json` with spaces so that 8 + N is congruent to `residue` modulo 8.
std::string pad_header(std::string json, std::size_t residue = 0) {
  while ((8 + json.size()) % 8 != residue) json += ' ';
  return json;
}

// A file with tensors of several dtypes, the header in an order different from the data's.
struct Sample {
  std::string json;
  std::string data;
  std::vector<std::byte> bytes;

  Sample() {
    std::string first, w, h, c, s, d;
    for (int i = 1; i <= 8; ++i) put(first, static_cast<std::uint8_t>(i));
    for (int i = 0; i < 24; ++i) put(w, static_cast<float>(i));
    put(h, std::uint16_t{0x3f80});
    put(h, std::uint16_t{0x4000});
    put(c, std::complex<float>(1.5f, -2.0f));
    put(s, std::int32_t{-7});
    put(d, 3.25);
    data = first + w + h + c + s + d;  // offsets 0, 8, 104, 108, 116, 120, 128
    json = pad_header(R"({"d":{"dtype":"F64","shape":[1],"data_offsets":[120,128]},)"
                      R"("w":{"dtype":"F32","shape":[4,3,2],"data_offsets":[8,104]},)"
                      R"("__metadata__":{"format":"test"},)"
                      R"("first":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                      R"("s":{"dtype":"I32","shape":[],"data_offsets":[116,120]},)"
                      R"("c":{"dtype":"C64","shape":[1],"data_offsets":[108,116]},)"
                      R"("h":{"dtype":"BF16","shape":[2],"data_offsets":[104,108]}})");
    bytes = make_file(json, data);
  }
  std::uint64_t data_start() const { return 8 + json.size(); }
  std::vector<std::byte> tensor_bytes(std::uint64_t begin, std::uint64_t end) const {
    return {bytes.begin() + static_cast<std::ptrdiff_t>(data_start() + begin),
            bytes.begin() + static_cast<std::ptrdiff_t>(data_start() + end)};
  }
};

const std::vector<std::string> kOffsetOrder = {"first", "w", "h", "c", "s", "d"};

std::vector<std::byte> to_vec(std::span<const std::byte> s) { return {s.begin(), s.end()}; }

// Opens `bytes` in each of the three ways.
enum class How { mmap, pread, memory };
const char* how_name(How h) { return h == How::mmap ? "mmap" : h == How::pread ? "pread" : "memory"; }

class Opened {
 public:
  Opened(const std::vector<std::byte>& bytes, How how, std::string_view test) : bytes_(bytes) {
    if (how == How::memory) {
      result_.emplace(File::from_memory(bytes_));
    } else {
      path_ = temp_dir(test) / "f.safetensors";
      write_all(path_, bytes_);
      OpenOptions o;
      o.mode = how == How::pread ? ReadMode::pread : ReadMode::mmap;
      result_.emplace(File::open(path_, o));
    }
  }
  Result<File>& result() { return *result_; }
  const fs::path& path() const { return path_; }
  const std::byte* source() const { return bytes_.data(); }

 private:
  std::vector<std::byte> bytes_;
  fs::path path_;
  std::optional<Result<File>> result_;
};

class EveryMode : public ::testing::TestWithParam<How> {};
INSTANTIATE_TEST_SUITE_P(File, EveryMode, ::testing::Values(How::mmap, How::pread, How::memory),
                         [](const auto& info) { return std::string(how_name(info.param)); });

TEST_P(EveryMode, OpensAndDescribesTheFile) {
  Sample s;
  Opened o(s.bytes, GetParam(), "opens");
  ASSERT_TRUE(succeeds(o.result()));
  const File& f = *o.result();
  EXPECT_EQ(f.size(), s.bytes.size());
  EXPECT_EQ(f.mapped(), GetParam() != How::pread);
  EXPECT_EQ(f.mode(), GetParam() == How::pread ? ReadMode::pread : ReadMode::mmap);
  EXPECT_EQ(f.fd() >= 0, GetParam() != How::memory);
  const Header& h = f.header();
  ASSERT_EQ(h.size(), kOffsetOrder.size());
  for (std::size_t i = 0; i < kOffsetOrder.size(); ++i) EXPECT_EQ(h.tensors()[i].name, kOffsetOrder[i]);
  EXPECT_EQ(h.data_start(), s.data_start());
  EXPECT_EQ(h.data_size(), s.data.size());
  ASSERT_NE(h.metadata_value("format"), nullptr);
  EXPECT_EQ(*h.metadata_value("format"), "test");
  if (GetParam() == How::pread) {
    EXPECT_TRUE(fails_with(f.bytes(), Errc::not_mapped));  // never an empty span
  } else {
    ASSERT_TRUE(succeeds(f.bytes()));
    EXPECT_EQ(to_vec(*f.bytes()), s.bytes);
  }
  if (GetParam() == How::memory) EXPECT_EQ(f.bytes()->data(), o.source());  // borrowed, not copied
}

TEST_P(EveryMode, ReadCopiesEveryTensor) {
  Sample s;
  Opened o(s.bytes, GetParam(), "read");
  ASSERT_TRUE(succeeds(o.result()));
  const File& f = *o.result();
  for (const TensorInfo& t : f.header().tensors()) {
    SCOPED_TRACE(std::string(t.name));
    std::vector<std::byte> out(t.byte_size() + 3, std::byte{0xAA});
    ASSERT_TRUE(succeeds(f.read(t, out)));
    auto want = s.tensor_bytes(t.data_offsets.begin, t.data_offsets.end);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), out.begin()));
    // bytes past the tensor are untouched
    for (std::size_t i = t.byte_size(); i < out.size(); ++i) EXPECT_EQ(out[i], std::byte{0xAA});
    if (t.byte_size() > 0) {
      std::vector<std::byte> small(t.byte_size() - 1);
      EXPECT_TRUE(fails_with(f.read(t, small), Errc::buffer_too_small));
    }
  }
}

TEST_P(EveryMode, ReadRangeCopiesPartOfATensor) {
  Sample s;
  Opened o(s.bytes, GetParam(), "read_range");
  ASSERT_TRUE(succeeds(o.result()));
  const File& f = *o.result();
  const TensorInfo* w = f.header().find("w");
  ASSERT_NE(w, nullptr);
  std::vector<std::byte> out(12);
  ASSERT_TRUE(succeeds(f.read_range(*w, 40, out)));
  EXPECT_EQ(out, s.tensor_bytes(8 + 40, 8 + 52));
  std::vector<std::byte> tail(4);
  ASSERT_TRUE(succeeds(f.read_range(*w, 92, tail)));
  EXPECT_EQ(tail, s.tensor_bytes(100, 104));
  std::vector<std::byte> none;
  EXPECT_TRUE(succeeds(f.read_range(*w, 96, none)));
  // Past the tensor's end: an error, never bytes of the next tensor.
  std::vector<std::byte> over(5);
  EXPECT_FALSE(f.read_range(*w, 92, over).ok());
  EXPECT_FALSE(f.read_range(*w, 97, none).ok());
  EXPECT_FALSE(f.read_range(*w, ~std::uint64_t{0}, tail).ok());
}

TEST_P(EveryMode, ViewsAndTensorLookup) {
  Sample s;
  Opened o(s.bytes, GetParam(), "views");
  ASSERT_TRUE(succeeds(o.result()));
  const File& f = *o.result();
  auto missing = f.tensor("nope");
  EXPECT_TRUE(fails_with(missing, Errc::not_found));
  EXPECT_TRUE(names_tensor(missing, "nope"));
  if (GetParam() == How::pread) {
    EXPECT_TRUE(fails_with(f.tensor("w"), Errc::not_mapped));
    EXPECT_TRUE(fails_with(f.views(), Errc::not_mapped));
    for (const TensorInfo& t : f.header().tensors()) EXPECT_TRUE(fails_with(f.view(t), Errc::not_mapped));
    return;
  }
  std::size_t i = 0;
  auto views = f.views();
  ASSERT_TRUE(succeeds(views));
  for (TensorView v : *views) {
    ASSERT_LT(i, kOffsetOrder.size());
    EXPECT_EQ(v.name(), kOffsetOrder[i]);
    const TensorInfo& t = v.info();
    // Zero-copy: the view points into the file's bytes.
    EXPECT_EQ(v.data(), f.bytes()->data() + f.header().data_start() + t.data_offsets.begin);
    EXPECT_EQ(v.size_bytes(), t.byte_size());
    EXPECT_EQ(to_vec(v.bytes()), s.tensor_bytes(t.data_offsets.begin, t.data_offsets.end));
    auto byname = f.tensor(kOffsetOrder[i]);
    ASSERT_TRUE(succeeds(byname));
    EXPECT_EQ(byname->data(), v.data());
    EXPECT_EQ(byname->dtype(), t.dtype);
    ++i;
  }
  EXPECT_EQ(i, kOffsetOrder.size());
  auto w = f.tensor("w");
  ASSERT_TRUE(succeeds(w));
  ASSERT_EQ(w->shape().size(), 3u);
  EXPECT_EQ(w->shape()[0], 4u);
  EXPECT_EQ(w->element_count(), 24u);
}

TEST_P(EveryMode, AsChecksDtypeAndAlignment) {
  Sample s;
  Opened o(s.bytes, GetParam(), "as");
  ASSERT_TRUE(succeeds(o.result()));
  const File& f = *o.result();
  if (GetParam() == How::pread) {  // no views to cast in pread mode
    for (const TensorInfo& t : f.header().tensors()) EXPECT_TRUE(fails_with(f.tensor(t.name), Errc::not_mapped));
    return;
  }
  auto w = f.tensor("w");
  ASSERT_TRUE(succeeds(w));
  auto floats = w->as<float>();
  ASSERT_TRUE(succeeds(floats));
  ASSERT_EQ(floats->size(), 24u);
  for (std::size_t i = 0; i < 24; ++i) EXPECT_EQ((*floats)[i], static_cast<float>(i));
  EXPECT_TRUE(fails_with(w->as<double>(), Errc::dtype_mismatch));
  EXPECT_TRUE(fails_with(w->as<std::uint32_t>(), Errc::dtype_mismatch));
  EXPECT_TRUE(names_tensor(w->as<std::int32_t>(), "w"));

  auto h = f.tensor("h");
  ASSERT_TRUE(succeeds(h));
  auto bf = h->as<bfloat16>();
  ASSERT_TRUE(succeeds(bf));
  EXPECT_EQ((*bf)[0].bits, 0x3f80);
  EXPECT_EQ((*bf)[1].bits, 0x4000);
  EXPECT_TRUE(fails_with(h->as<float16>(), Errc::dtype_mismatch));
  EXPECT_TRUE(fails_with(h->as<std::uint16_t>(), Errc::dtype_mismatch));

  auto c = f.tensor("c");
  ASSERT_TRUE(succeeds(c));
  auto cs = c->as<std::complex<float>>();
  ASSERT_TRUE(succeeds(cs));
  EXPECT_EQ((*cs)[0], std::complex<float>(1.5f, -2.0f));

  auto sc = f.tensor("s");
  ASSERT_TRUE(succeeds(sc));
  ASSERT_TRUE(succeeds(sc->as<std::int32_t>()));
  EXPECT_EQ(sc->as<std::int32_t>()->front(), -7);

  auto d = f.tensor("d");
  ASSERT_TRUE(succeeds(d));
  ASSERT_TRUE(succeeds(d->as<double>()));
  EXPECT_EQ(d->as<double>()->front(), 3.25);

  auto first = f.tensor("first");
  ASSERT_TRUE(succeeds(first));
  ASSERT_TRUE(succeeds(first->as<std::uint8_t>()));
  EXPECT_EQ((*first->as<std::uint8_t>())[7], 8);
  EXPECT_TRUE(fails_with(first->as<std::int8_t>(), Errc::dtype_mismatch));
}

// A 1-byte tensor before an F32 one puts the F32 data at an odd address.
TEST_P(EveryMode, MisalignedDataIsReportedNotCast) {
  std::string data;
  put(data, std::uint8_t{9});
  put(data, 1.0f);
  put(data, 2.0f);
  std::string json = pad_header(R"({"one":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                R"("f":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})");
  Opened o(make_file(json, data), GetParam(), "misaligned");
  ASSERT_TRUE(succeeds(o.result()));
  const File& f = *o.result();
  const TensorInfo* info = f.header().find("f");
  ASSERT_NE(info, nullptr);
  std::vector<std::byte> out(8);
  ASSERT_TRUE(succeeds(f.read(*info, out)));  // copying out works in every mode
  float v[2];
  std::memcpy(v, out.data(), 8);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 2.0f);
  if (GetParam() == How::pread) return;
  auto t = f.tensor("f");
  ASSERT_TRUE(succeeds(t));
  ASSERT_NE(reinterpret_cast<std::uintptr_t>(t->data()) % alignof(float), 0u);
  auto r = t->as<float>();
  EXPECT_TRUE(fails_with(r, Errc::misaligned_data));
  EXPECT_TRUE(names_tensor(r, "f"));
  // The dtype check comes first.
  EXPECT_TRUE(fails_with(t->as<double>(), Errc::dtype_mismatch));
}

// A header whose length leaves the data buffer at an odd file offset.
TEST_P(EveryMode, OddHeaderLengthMisalignsTheData) {
  std::string data;
  put(data, std::uint16_t{0x1234});
  std::string json = pad_header(R"({"u":{"dtype":"U16","shape":[1],"data_offsets":[0,2]}})", 1);
  ASSERT_EQ((8 + json.size()) % 2, 1u);
  Opened o(make_file(json, data), GetParam(), "oddheader");
  ASSERT_TRUE(succeeds(o.result()));
  const File& f = *o.result();
  EXPECT_EQ(f.header().header_size(), json.size());
  if (GetParam() == How::pread) return;
  auto t = f.tensor("u");
  ASSERT_TRUE(succeeds(t));
  EXPECT_TRUE(fails_with(t->as<std::uint16_t>(), Errc::misaligned_data));
  auto one = f.tensor("u");
  ASSERT_TRUE(succeeds(one));
  EXPECT_EQ(to_vec(one->bytes()), to_vec(std::as_bytes(std::span(data))));
}

TEST_P(EveryMode, MalformedFilesGiveTheirParseError) {
  Opened trailing(make_file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "xyz"), GetParam(),
                  "malformed1");
  EXPECT_TRUE(fails_with(trailing.result(), Errc::incomplete_buffer));
  Opened lying(make_file_with_length(100, "{}"), GetParam(), "malformed2");
  EXPECT_TRUE(fails_with(lying.result(), Errc::header_length));
  Opened tiny(std::vector<std::byte>(7, std::byte{0}), GetParam(), "malformed3");
  EXPECT_TRUE(fails_with(tiny.result(), Errc::header_too_small));
  Opened empty(std::vector<std::byte>{}, GetParam(), "malformed4");
  EXPECT_TRUE(fails_with(empty.result(), Errc::header_too_small));
}

TEST(FileOpen, LimitsAreApplied) {
  Sample s;
  auto dir = temp_dir("limits");
  write_all(dir / "f.safetensors", s.bytes);
  for (ReadMode m : {ReadMode::mmap, ReadMode::pread}) {
    OpenOptions o;
    o.mode = m;
    o.limits.max_tensors = 5;
    EXPECT_TRUE(fails_with(File::open(dir / "f.safetensors", o), Errc::limit_exceeded));
    o.limits.max_tensors = 6;
    o.limits.max_header_bytes = s.json.size() - 1;
    EXPECT_TRUE(fails_with(File::open(dir / "f.safetensors", o), Errc::header_too_large));
  }
  Limits l;
  l.max_rank = 2;
  EXPECT_TRUE(fails_with(File::from_memory(s.bytes, l), Errc::limit_exceeded));
}

TEST(FileOpen, HintsAndPopulateDoNotChangeWhatIsRead) {
  Sample s;
  auto dir = temp_dir("hints");
  write_all(dir / "f.safetensors", s.bytes);
  for (AccessHint hint : {AccessHint::normal, AccessHint::sequential, AccessHint::random}) {
    for (bool populate : {false, true}) {
      OpenOptions o;
      o.hint = hint;
      o.populate = populate;
      auto f = File::open(dir / "f.safetensors", o);
      ASSERT_TRUE(succeeds(f));
      ASSERT_TRUE(succeeds(f->bytes()));
      EXPECT_EQ(to_vec(*f->bytes()), s.bytes);
    }
  }
}

TEST(FileOpen, NonexistentPathIsIoError) {
  auto dir = temp_dir("missing");
  EXPECT_TRUE(fails_with(File::open(dir / "no-such-file.safetensors"), Errc::io_error));
  OpenOptions p;
  p.mode = ReadMode::pread;
  EXPECT_TRUE(fails_with(File::open(dir / "no-such-file.safetensors", p), Errc::io_error));
}

TEST(FileOpen, DirectoryIsIoError) {
  auto dir = temp_dir("directory");
  EXPECT_TRUE(fails_with(File::open(dir), Errc::io_error));
  OpenOptions p;
  p.mode = ReadMode::pread;
  EXPECT_TRUE(fails_with(File::open(dir, p), Errc::io_error));
}

TEST(FileOpen, EmptyFileIsHeaderTooSmall) {
  auto dir = temp_dir("emptyfile");
  write_all(dir / "e.safetensors", {});
  EXPECT_TRUE(fails_with(File::open(dir / "e.safetensors"), Errc::header_too_small));
  OpenOptions p;
  p.mode = ReadMode::pread;
  EXPECT_TRUE(fails_with(File::open(dir / "e.safetensors", p), Errc::header_too_small));
  EXPECT_TRUE(fails_with(File::from_memory({}), Errc::header_too_small));
}

TEST(FileOpen, TruncatedAfterOpenInPreadModeIsIoError) {
  Sample s;
  auto dir = temp_dir("truncated");
  auto path = dir / "t.safetensors";
  write_all(path, s.bytes);
  OpenOptions p;
  p.mode = ReadMode::pread;
  auto f = File::open(path, p);
  ASSERT_TRUE(succeeds(f));
  // Another process truncates the file in the middle of "w" (data bytes 8..104).
  fs::resize_file(path, s.data_start() + 50);
  const TensorInfo* first = f->header().find("first");
  const TensorInfo* w = f->header().find("w");
  const TensorInfo* d = f->header().find("d");
  std::vector<std::byte> out(128);
  EXPECT_TRUE(succeeds(f->read(*first, out)));  // still there
  auto rw = f->read(*w, out);
  EXPECT_TRUE(fails_with(rw, Errc::io_error));
  EXPECT_TRUE(names_tensor(rw, "w"));
  EXPECT_TRUE(fails_with(f->read(*d, out), Errc::io_error));
  std::vector<std::byte> slice(96);
  std::vector<SliceSpec> spec = {SliceSpec::range(2, 4)};
  EXPECT_TRUE(fails_with(f->read_slice(*w, spec, slice), Errc::io_error));
}

TEST(FileOpen, MovedFileKeepsWorking) {
  Sample s;
  auto f = File::from_memory(s.bytes);
  ASSERT_TRUE(succeeds(f));
  File moved = std::move(*f);
  auto w = moved.tensor("w");
  ASSERT_TRUE(succeeds(w));
  EXPECT_EQ(w->as<float>()->back(), 23.0f);
  File assigned = std::move(moved);
  EXPECT_EQ(assigned.header().size(), 6u);
}

// The overloads that would hand out views of a temporary File are deleted.
template <class F>
concept views_of_rvalue = requires(F&& f) { std::forward<F>(f).tensor(std::string_view{}); } ||
                          requires(F&& f) { std::forward<F>(f).bytes(); } ||
                          requires(F&& f) { std::forward<F>(f).header(); } ||
                          requires(F&& f) { std::forward<F>(f).views(); } ||
                          requires(F&& f, const TensorInfo& t) { std::forward<F>(f).view(t); };
static_assert(!views_of_rvalue<File>, "views of a temporary File must not compile");
static_assert(!views_of_rvalue<File&&>, "views of a temporary File must not compile");
static_assert(requires(const File& f) { f.tensor(std::string_view{}); f.bytes(); f.header(); f.views(); });
static_assert(!std::is_copy_constructible_v<File> && std::is_nothrow_move_constructible_v<File>);
// Nor through a temporary Result: File::open(p)->tensor("w") would view a File
// destroyed at the end of the statement; a named Result (or another Result type) is fine.
template <class R>
concept arrow_works = requires { std::declval<R>().operator->(); };
static_assert(!arrow_works<sft::Result<File>> && !arrow_works<const sft::Result<File>>);
static_assert(arrow_works<sft::Result<File>&> && arrow_works<sft::Result<sft::Header>>);

// ---------------------------------------------------------------------------
// Slicing.

// The expected result of a slice (tests/support/slice_oracle.hpp).
struct Expected {
  std::vector<std::uint64_t> shape;
  std::vector<std::byte> bytes;
};

Expected brute_force_slice(const TensorInfo& t, std::span<const std::byte> data, std::span<const SliceSpec> spec) {
  auto e = expected_slice(t, data, spec);
  if (!e) return {};
  return {e->shape, e->bytes};
}

// A file with one tensor `t` of the given dtype and shape; data bytes 0, 1, 2, ...
std::vector<std::byte> one_tensor_file(std::string_view dtype, const std::vector<std::uint64_t>& shape,
                                       std::uint64_t bytes) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  s += "]";
  std::string json = pad_header(R"({"t":{"dtype":")" + std::string(dtype) + R"(","shape":)" + s +
                                R"(,"data_offsets":[0,)" + std::to_string(bytes) + "]}}");
  std::string data(bytes, '\0');
  for (std::uint64_t i = 0; i < bytes; ++i) data[i] = static_cast<char>(i * 13 + 5);
  return make_file(json, data);
}

struct SliceCase {
  const char* label;
  std::vector<SliceSpec> spec;
  std::vector<std::uint64_t> shape;
  std::vector<ByteRange> ranges;  // in F32 bytes within the tensor; adjacent runs may be merged
};

// Merges adjacent ranges so that plans that split a contiguous run compare equal.
std::vector<ByteRange> merged(std::vector<ByteRange> in) {
  std::vector<ByteRange> out;
  for (auto r : in) {
    if (r.begin == r.end) continue;
    if (!out.empty() && out.back().end == r.begin)
      out.back().end = r.end;
    else
      out.push_back(r);
  }
  return out;
}

// t: F32 [4,3,2] (96 bytes): rows of 24 bytes, pairs of 8 bytes.
class SliceF32 : public ::testing::Test {
 protected:
  std::vector<std::byte> file_ = one_tensor_file("F32", {4, 3, 2}, 96);
  Result<File> f = File::from_memory(file_);
  TensorInfo dummy_;  // stands in when the file fails to open (the tests then stop at their first ASSERT)
  const TensorInfo& t = f.ok() ? f->header().tensors()[0] : dummy_;
};

TEST_F(SliceF32, PlansMatchGetSlice) {
  ASSERT_TRUE(succeeds(f));
  using S = SliceSpec;
  std::vector<SliceCase> cases = {
      {"[]", {}, {4, 3, 2}, {{0, 96}}},
      {"[:]", {S::all_of()}, {4, 3, 2}, {{0, 96}}},
      {"[1:3]", {S::range(1, 3)}, {2, 3, 2}, {{24, 72}}},
      {"[2]", {S::index(2)}, {3, 2}, {{48, 72}}},
      {"[3]", {S::index(3)}, {3, 2}, {{72, 96}}},
      {"[0:4]", {S::range(0, 4)}, {4, 3, 2}, {{0, 96}}},
      {"[1:1]", {S::range(1, 1)}, {0, 3, 2}, {}},
      {"[:, 1]", {S::all_of(), S::index(1)}, {4, 2}, {{8, 16}, {32, 40}, {56, 64}, {80, 88}}},
      {"[1:3, 0:2]", {S::range(1, 3), S::range(0, 2)}, {2, 2, 2}, {{24, 40}, {48, 64}}},
      {"[1, 2, 1]", {S::index(1), S::index(2), S::index(1)}, {}, {{44, 48}}},
      {"[1:3, :, 0]", {S::range(1, 3), S::all_of(), S::index(0)}, {2, 3},
       {{24, 28}, {32, 36}, {40, 44}, {48, 52}, {56, 60}, {64, 68}}},
      {"[0, 1:3]", {S::index(0), S::range(1, 3)}, {2, 2}, {{8, 24}}},
      {"[:, :, 1:2]", {S::all_of(), S::all_of(), S::range(1, 2)}, {4, 3, 1},
       {{4, 8}, {12, 16}, {20, 24}, {28, 32}, {36, 40}, {44, 48}, {52, 56}, {60, 64}, {68, 72}, {76, 80}, {84, 88},
        {92, 96}}},
      {"[:, 0:0]", {S::all_of(), S::range(0, 0)}, {4, 0, 2}, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    auto plan = plan_slice(t, c.spec);
    ASSERT_TRUE(succeeds(plan));
    EXPECT_EQ(plan->shape, c.shape);
    std::uint64_t total = 0;
    for (auto r : c.ranges) total += r.end - r.begin;
    EXPECT_EQ(plan->byte_size, total);
    auto got = merged(plan->ranges());
    ASSERT_EQ(got.size(), c.ranges.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].begin, c.ranges[i].begin) << i;
      EXPECT_EQ(got[i].end, c.ranges[i].end) << i;
    }
    // read_slice copies exactly those bytes.
    std::vector<std::byte> out(plan->byte_size);
    auto r = f->read_slice(t, c.spec, out);
    ASSERT_TRUE(succeeds(r));
    auto want = brute_force_slice(t, f->view(t)->bytes(), c.spec);
    EXPECT_EQ(want.shape, c.shape);
    EXPECT_EQ(out, want.bytes);
  }
}

TEST_F(SliceF32, ErrorsAreSpecific) {
  ASSERT_TRUE(succeeds(f));
  using S = SliceSpec;
  struct Case {
    const char* label;
    std::vector<SliceSpec> spec;
    Errc code;
  };
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  std::vector<Case> cases = {
      {"[0:4:0]", {S::range(0, 4, 0)}, Errc::slice_bad_range},
      {"[:, ::0]", {S::all_of(), S::range(S::none, S::none, 0)}, Errc::slice_bad_range},
      {"[4]", {S::index(4)}, Errc::slice_out_of_range},
      {"[-5]", {S::index(-5)}, Errc::slice_out_of_range},
      {"[big]", {S::index(big)}, Errc::slice_out_of_range},
      {"[-big]", {S::index(-big)}, Errc::slice_out_of_range},
      {"[min]", {S::index(S::none)}, Errc::slice_out_of_range},
      {"[:, 3]", {S::all_of(), S::index(3)}, Errc::slice_out_of_range},
      {"[0, 0, 2]", {S::index(0), S::index(0), S::index(2)}, Errc::slice_out_of_range},
      {"[0, 0, 0, 0]", {S::index(0), S::index(0), S::index(0), S::index(0)}, Errc::slice_too_many_indices},
      {"[:, :, :, :]", {S::all_of(), S::all_of(), S::all_of(), S::all_of()}, Errc::slice_too_many_indices},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    auto p = plan_slice(t, c.spec);
    EXPECT_TRUE(fails_with(p, c.code));
    EXPECT_TRUE(names_tensor(p, "t"));
    std::vector<std::byte> out(96);
    EXPECT_TRUE(fails_with(f->read_slice(t, c.spec, out), c.code));
    EXPECT_TRUE(fails_with(f->slice(t, c.spec), c.code));
  }
  std::vector<std::byte> small(23);
  std::vector<SliceSpec> row = {S::index(1)};
  EXPECT_TRUE(fails_with(f->read_slice(t, row, small), Errc::buffer_too_small));
}

// Ranges follow Python: bounds clamp, start > stop is empty, negatives count from the end.
TEST_F(SliceF32, RangesClampAndCountFromTheEndLikePython) {
  ASSERT_TRUE(succeeds(f));
  using S = SliceSpec;
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  struct Case {
    const char* label;
    std::vector<SliceSpec> spec;
    std::vector<std::uint64_t> shape;
  };
  std::vector<Case> cases = {
      {"[2:1]", {S::range(2, 1)}, {0, 3, 2}},
      {"[0:5]", {S::range(0, 5)}, {4, 3, 2}},
      {"[5:5]", {S::range(5, 5)}, {0, 3, 2}},
      {"[0:big]", {S::range(0, big)}, {4, 3, 2}},
      {"[-big:big]", {S::range(-big, big)}, {4, 3, 2}},
      {"[-1:]", {S::range(-1, S::none)}, {1, 3, 2}},
      {"[:-1]", {S::range(S::none, -1)}, {3, 3, 2}},
      {"[::-1]", {S::range(S::none, S::none, -1)}, {4, 3, 2}},
      {"[::2]", {S::range(S::none, S::none, 2)}, {2, 3, 2}},
      {"[3:0:-2]", {S::range(3, 0, -2)}, {2, 3, 2}},
      {"[::-big]", {S::range(S::none, S::none, -big)}, {1, 3, 2}},
      {"[::big]", {S::range(S::none, S::none, big)}, {1, 3, 2}},
      {"[-1, ::-1, 1]", {S::index(-1), S::range(S::none, S::none, -1), S::index(1)}, {3}},
      {"[:, :, ::-1]", {S::all_of(), S::all_of(), S::range(S::none, S::none, -1)}, {4, 3, 2}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    auto plan = plan_slice(t, c.spec);
    ASSERT_TRUE(succeeds(plan));
    EXPECT_EQ(plan->shape, c.shape);
    auto want = brute_force_slice(t, f->view(t)->bytes(), c.spec);
    EXPECT_EQ(want.shape, c.shape);
    std::vector<std::byte> out(plan->byte_size);
    ASSERT_TRUE(succeeds(f->read_slice(t, c.spec, out)));
    EXPECT_EQ(out, want.bytes);
    auto sliced = f->slice(t, c.spec);
    ASSERT_TRUE(succeeds(sliced));
    EXPECT_EQ(std::vector<std::uint64_t>(sliced->shape().begin(), sliced->shape().end()), c.shape);
    EXPECT_EQ(to_vec(sliced->bytes()), want.bytes);
    EXPECT_EQ(sliced->owned(), !plan->contiguous());
  }
}

TEST(Slice, ScalarTakesNoIndices) {
  auto file = one_tensor_file("I64", {}, 8);
  auto f = File::from_memory(file);
  ASSERT_TRUE(succeeds(f));
  const TensorInfo& t = f->header().tensors()[0];
  auto whole = plan_slice(t, {});
  ASSERT_TRUE(succeeds(whole));
  EXPECT_TRUE(whole->shape.empty());
  EXPECT_EQ(whole->byte_size, 8u);
  std::vector<SliceSpec> one = {SliceSpec::all_of()};
  EXPECT_TRUE(fails_with(plan_slice(t, one), Errc::slice_too_many_indices));
  std::vector<SliceSpec> idx = {SliceSpec::index(0)};
  EXPECT_TRUE(fails_with(plan_slice(t, idx), Errc::slice_too_many_indices));
}

TEST(Slice, SubByteSlicesMustFallOnBytes) {
  using S = SliceSpec;
  // F4 [4,4]: a row is 16 bits = 2 bytes, one element 4 bits.
  auto f4 = one_tensor_file("F4", {4, 4}, 8);
  auto f = File::from_memory(f4);
  ASSERT_TRUE(succeeds(f));
  const TensorInfo& t = f->header().tensors()[0];
  std::vector<std::vector<SliceSpec>> good = {
      {}, {S::index(1)}, {S::range(1, 3)}, {S::all_of(), S::range(0, 2)}, {S::index(2), S::range(2, 4)}};
  for (const auto& spec : good) {
    auto p = plan_slice(t, spec);
    EXPECT_TRUE(succeeds(p)) << spec.size();
  }
  auto row = plan_slice(t, std::vector<SliceSpec>{S::index(1)});
  ASSERT_TRUE(succeeds(row));
  EXPECT_EQ(row->byte_size, 2u);
  ASSERT_EQ(merged(row->ranges()).size(), 1u);
  EXPECT_EQ(merged(row->ranges())[0].begin, 2u);
  std::vector<std::vector<SliceSpec>> bad = {
      {S::all_of(), S::range(0, 1)}, {S::all_of(), S::index(1)}, {S::index(0), S::range(1, 3)},
      {S::index(0), S::index(0)},    {S::range(0, 2), S::range(1, 2)}};
  for (const auto& spec : bad) {
    auto p = plan_slice(t, spec);
    EXPECT_TRUE(fails_with(p, Errc::slice_subbyte)) << spec.size();
    std::vector<std::byte> out(8);
    EXPECT_TRUE(fails_with(f->read_slice(t, spec, out), Errc::slice_subbyte));
  }
  // F4 [3, 2]: one row is exactly a byte; [1:3] is 2 bytes; [0:1] on F4 [3] is half a byte.
  auto rows = one_tensor_file("F4", {3, 2}, 3);
  auto fr = File::from_memory(rows);
  ASSERT_TRUE(succeeds(fr));
  auto two = plan_slice(fr->header().tensors()[0], std::vector<SliceSpec>{S::range(1, 3)});
  ASSERT_TRUE(succeeds(two));
  EXPECT_EQ(two->byte_size, 2u);
  auto flat = one_tensor_file("F4", {4}, 2);
  auto ff = File::from_memory(flat);
  ASSERT_TRUE(succeeds(ff));
  EXPECT_TRUE(fails_with(plan_slice(ff->header().tensors()[0], std::vector<SliceSpec>{S::range(0, 1)}),
                         Errc::slice_subbyte));
  EXPECT_TRUE(fails_with(plan_slice(ff->header().tensors()[0], std::vector<SliceSpec>{S::range(1, 3)}),
                         Errc::slice_subbyte));
  EXPECT_TRUE(succeeds(plan_slice(ff->header().tensors()[0], std::vector<SliceSpec>{S::range(2, 4)})));
  // F6 [8]: four elements are 3 bytes.
  auto f6 = one_tensor_file("F6_E2M3", {8}, 6);
  auto f6f = File::from_memory(f6);
  ASSERT_TRUE(succeeds(f6f));
  const TensorInfo& t6 = f6f->header().tensors()[0];
  auto half = plan_slice(t6, std::vector<SliceSpec>{S::range(4, 8)});
  ASSERT_TRUE(succeeds(half));
  EXPECT_EQ(half->byte_size, 3u);
  EXPECT_TRUE(fails_with(plan_slice(t6, std::vector<SliceSpec>{S::range(0, 1)}), Errc::slice_subbyte));
  EXPECT_TRUE(fails_with(plan_slice(t6, std::vector<SliceSpec>{S::range(1, 5)}), Errc::slice_subbyte));
  EXPECT_TRUE(fails_with(plan_slice(t6, std::vector<SliceSpec>{S::index(3)}), Errc::slice_subbyte));
}

// Random slices of random tensors against the element-by-element definition,
// in every mode.
TEST_P(EveryMode, RandomSlicesMatchTheDefinition) {
  std::mt19937_64 rng(20240611);
  auto pick = [&](std::uint64_t n) { return n == 0 ? 0 : rng() % n; };
  const char* dtypes[] = {"U8", "BF16", "F32", "C64", "I64"};
  const unsigned sizes[] = {1, 2, 4, 8, 8};
  for (int iter = 0; iter < 60; ++iter) {
    std::size_t which = pick(5);
    std::size_t rank = pick(5);
    std::vector<std::uint64_t> shape(rank);
    std::uint64_t elems = 1;
    for (auto& d : shape) {
      d = pick(5);
      elems *= d;
    }
    Opened o(one_tensor_file(dtypes[which], shape, elems * sizes[which]), GetParam(),
             "random" + std::to_string(iter));
    ASSERT_TRUE(succeeds(o.result()));
    const File& f = *o.result();
    const TensorInfo& t = f.header().tensors()[0];
    std::vector<std::byte> all(t.byte_size());
    ASSERT_TRUE(succeeds(f.read(t, all)));
    for (int k = 0; k < 20; ++k) {
      std::vector<SliceSpec> spec;
      const std::size_t n = pick(rank + 1);
      auto bound = [&](std::uint64_t dim) -> std::int64_t {
        if (pick(5) == 0) return SliceSpec::none;
        return static_cast<std::int64_t>(pick(2 * dim + 5)) - static_cast<std::int64_t>(dim) - 2;
      };
      for (std::size_t d = 0; d < n; ++d) {
        switch (pick(3)) {
          case 0: spec.push_back(SliceSpec::all_of()); break;
          case 1: {
            const std::int64_t steps[] = {1, 1, 2, 3, -1, -2, 0};
            const std::int64_t a = bound(shape[d]), b = bound(shape[d]);
            spec.push_back(SliceSpec::range(a, b, steps[pick(7)]));
            break;
          }
          default: spec.push_back(SliceSpec::index(static_cast<std::int64_t>(pick(2 * shape[d] + 3)) -
                                                   static_cast<std::int64_t>(shape[d]) - 1));
        }
      }
      SCOPED_TRACE("iter " + std::to_string(iter) + " slice " + std::to_string(k));
      std::vector<std::byte> out(t.byte_size() + 1);
      auto r = f.read_slice(t, spec, out);
      auto want = expected_slice(t, all, spec);
      if (!want) {
        EXPECT_TRUE(fails_with_one_of(r, {Errc::slice_out_of_range, Errc::slice_bad_range}));
        continue;
      }
      ASSERT_TRUE(succeeds(r));
      EXPECT_EQ(r->shape, want->shape);
      ASSERT_EQ(r->byte_size, want->bytes.size());
      EXPECT_TRUE(std::equal(want->bytes.begin(), want->bytes.end(), out.begin()));
      // The ranges, read in order from the tensor, give the same bytes.
      std::vector<std::byte> joined;
      for (auto br : r->ranges()) joined.insert(joined.end(), all.begin() + br.begin, all.begin() + br.end);
      EXPECT_EQ(joined, want->bytes);
    }
  }
}

}  // namespace
