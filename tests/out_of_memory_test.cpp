// No exception leaves the library: a failed allocation, on the calling thread
// or on a worker thread of the compressed reader, becomes Errc::out_of_memory.
//
// This executable replaces the global operator new so that a test can make
// every allocation of at least `g_fail_from` bytes throw std::bad_alloc, as it
// does when memory runs out.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <optional>
#include <vector>

#include "expect.hpp"
#include "sft/sft.hpp"
#include "synthetic_file.hpp"
#include "test_support.hpp"

namespace {
std::atomic<std::size_t> g_fail_from{~std::size_t{0}};
}  // namespace

// Every unaligned form, so that no allocation pairs a sanitizer's operator new
// with this free (the aligned forms are left to the runtime, both halves).
void* operator new(std::size_t n) {
  if (n >= g_fail_from.load(std::memory_order_relaxed)) throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

using namespace sft;
using namespace sft::test;

// While alive, allocations of `bytes` or more fail.
struct FailLarge {
  explicit FailLarge(std::size_t bytes) { g_fail_from = bytes; }
  ~FailLarge() { g_fail_from = ~std::size_t{0}; }
};

// A compressed checkpoint of 1 MiB frames, opened from disk.
struct CompressedModel {
  std::vector<std::byte> original = synthetic_file({{"w", DType::F32, {3, 1 << 20}}});
  std::optional<Result<File>> file;
  CompressedModel() {
    auto plain = File::from_memory(original);
    EXPECT_TRUE(succeeds(plain));
    CompressOptions o;
    o.frame_bytes = 1 << 20;
    o.threads = 4;
    auto z = compress(*plain, o);
    EXPECT_TRUE(succeeds(z));
    auto path = temp_dir("oom-compressed") / "m.zst";
    write_all(path, *z);
    file.emplace(File::open(path));
  }
};

TEST(OutOfMemory, WorkersOfTheCompressedReaderReportIt) {
  CompressedModel m;
  ASSERT_TRUE(succeeds(*m.file));
  const File& f = **m.file;
  const TensorInfo& w = f.header().tensors()[0];
  // A range that starts and ends inside frames: those partial frames are
  // decoded into a buffer of a whole frame (1 MiB), on the worker threads.
  std::vector<std::byte> out(static_cast<std::size_t>(w.byte_size() - 1000));
  {
    std::optional<Result<void>> r;
    {
      FailLarge fail(std::size_t{1} << 20);
      r.emplace(f.read_range(w, 500, out));
    }
    EXPECT_TRUE(fails_with(*r, Errc::out_of_memory));
  }
  // Memory back: the same read succeeds, and the reader is still usable.
  ASSERT_TRUE(succeeds(f.read_range(w, 500, out)));
  EXPECT_TRUE(std::equal(out.begin(), out.end(), m.original.begin() + static_cast<std::ptrdiff_t>(f.header().data_start() + 500)));
}

TEST(OutOfMemory, LoadAndSliceReportIt) {
  CompressedModel m;
  ASSERT_TRUE(succeeds(*m.file));
  const File& f = **m.file;
  const TensorInfo& w = f.header().tensors()[0];
  std::optional<Result<TensorBytes>> loaded, sliced;
  {
    FailLarge fail(std::size_t{1} << 20);
    loaded.emplace(f.load(w));
    sliced.emplace(f.slice(w, {SliceSpec::range(0, 2)}));
  }
  EXPECT_TRUE(fails_with(*loaded, Errc::out_of_memory));
  EXPECT_TRUE(fails_with(*sliced, Errc::out_of_memory));
  auto t = f.load(w);
  ASSERT_TRUE(succeeds(t));
  EXPECT_EQ(t->size_bytes(), w.byte_size());
}

TEST(OutOfMemory, OpeningAFileReportsIt) {
  std::vector<std::byte> bytes = synthetic_file({{"a", DType::U8, {4}}});
  std::optional<Result<File>> r;
  {
    FailLarge fail(1);  // every allocation fails
    r.emplace(File::from_memory(bytes));
  }
  EXPECT_TRUE(fails_with(*r, Errc::out_of_memory));
}

}  // namespace
