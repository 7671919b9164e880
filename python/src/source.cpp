// python/src/source.cpp — opening files for the Python package (see source.hpp).
#include "source.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sft/compressed.hpp"
#include "sft_internal/parallel.hpp"

namespace sftpy {

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kHuge = std::size_t{2} << 20;
constexpr std::uint64_t kReadPiece = std::uint64_t{8} << 20;  // a large tensor is read in pieces of 8 MiB

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

sft::Error io_error(const std::string& what, const std::string& path, int err) {
  return sft::Error(sft::Errc::io_error, what + " " + path + ": " + std::strerror(err));
}

}  // namespace

Source::~Source() {
  file_.reset();  // the File views the mapping: destroy it first
  if (map_) ::munmap(map_, map_size_);
}

sft::Result<std::shared_ptr<const Source>> Source::open(const std::string& path, Backend backend, int* sys_errno) {
  *sys_errno = 0;
  std::shared_ptr<Source> s(new Source());
  s->path_ = path;
  if (backend == Backend::pread) {
    sft::OpenOptions o;
    o.mode = sft::ReadMode::pread;
    SFT_TRY_ASSIGN(auto f, sft::File::open(path, o));
    s->file_.emplace(std::move(f));
    return std::shared_ptr<const Source>(std::move(s));
  }

  Fd fd;
  fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd.fd < 0) {
    *sys_errno = errno;
    return io_error("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) return io_error("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return sft::Error(sft::Errc::io_error, "not a regular file: " + path);
  const auto size = static_cast<std::uint64_t>(st.st_size);

  // Compressed checkpoints and files too short for a header go through
  // File::open: the first are served by decompression (like pread), the
  // second get the library's own error.
  bool via_library = size < 8;
  if (!via_library) {
    std::byte magic[4];
    if (::pread(fd.fd, magic, sizeof magic, 0) != static_cast<ssize_t>(sizeof magic))
      return io_error("cannot read", path, errno ? errno : EIO);
    via_library = sft::is_compressed(magic);
  }
  if (via_library) {
    // Never mapped (a compressed checkpoint is decompressed on demand): data_
    // stays null and tensors are copied out.
    SFT_TRY_ASSIGN(auto f, sft::File::open(path));
    s->file_.emplace(std::move(f));
    return std::shared_ptr<const Source>(std::move(s));
  }

  const auto n = static_cast<std::size_t>(size);
  void* m = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd.fd, 0);
  if (m != MAP_FAILED) {
    s->writable_ = true;
  } else {
    m = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd.fd, 0);
    if (m == MAP_FAILED) return io_error("cannot map", path, errno);
  }
  s->map_ = m;
  s->map_size_ = n;
  auto bytes = std::span<const std::byte>(static_cast<const std::byte*>(m), n);
  SFT_TRY_ASSIGN(auto f, sft::File::from_memory(bytes));
  s->file_.emplace(std::move(f));
  s->data_ = static_cast<std::byte*>(m) + s->file_->header().data_start();
  return std::shared_ptr<const Source>(std::move(s));
}

void Source::prefetch(unsigned threads) const noexcept {
  if (!data_ || header().data_size() == 0) return;
  // Page-aligned pieces of the data buffer.
  auto begin = reinterpret_cast<std::uintptr_t>(data_) & ~(kPage - 1);
  auto end = reinterpret_cast<std::uintptr_t>(data_) + header().data_size();
  const std::uintptr_t piece = kReadPiece;
  const std::size_t count = (end - begin + piece - 1) / piece;
  sft::detail::parallel_for(count, threads, [&](std::size_t i, unsigned) {
    auto a = begin + i * piece;
    auto b = std::min<std::uintptr_t>(a + piece, end);
#ifdef MADV_POPULATE_READ
    if (::madvise(reinterpret_cast<void*>(a), b - a, MADV_POPULATE_READ) == 0) return;
#endif
    // Older kernels: touch one byte per page.
    volatile unsigned char sink = 0;
    for (auto p = a; p < b; p += kPage) sink = sink + *reinterpret_cast<const volatile unsigned char*>(p);
    (void)sink;
  });
}

sft::Result<OwnedBuffer> OwnedBuffer::allocate(std::size_t bytes) {
  OwnedBuffer b;
  if (bytes == 0) return b;
  const std::size_t align = bytes >= 2 * kHuge ? kHuge : 64;
  void* p = nullptr;
  if (::posix_memalign(&p, align, bytes) != 0 || !p)
    return sft::Error(sft::Errc::out_of_memory, "cannot allocate " + std::to_string(bytes) + " bytes");
#ifdef MADV_HUGEPAGE
  if (align == kHuge) ::madvise(p, bytes & ~(kHuge - 1), MADV_HUGEPAGE);
#endif
  b.p_ = static_cast<std::byte*>(p);
  b.n_ = bytes;
  return b;
}

OwnedBuffer::~OwnedBuffer() { std::free(p_); }

sft::Result<void> read_all(const Source& src, std::span<const ReadJob> jobs, unsigned threads) {
  // Cut every job into pieces of at most kReadPiece bytes.
  std::vector<ReadJob> pieces;
  pieces.reserve(jobs.size());
  for (const auto& j : jobs) {
    for (std::uint64_t off = 0; off < j.length; off += kReadPiece) {
      auto len = std::min<std::uint64_t>(kReadPiece, j.length - off);
      pieces.push_back({j.info, j.offset + off, len, j.dst + off});
    }
  }
  if (pieces.empty()) return {};
  std::atomic<bool> failed{false};
  sft::Error first;
  std::atomic_flag first_taken = ATOMIC_FLAG_INIT;
  // One thread for copies out of a mapping (memory bandwidth, not requests
  // in flight, is the limit there: the calling thread's memcpy is as fast).
  if (src.mapped()) threads = std::min(threads, 2u);
  sft::detail::parallel_for(pieces.size(), threads, [&](std::size_t i, unsigned) {
    if (failed.load(std::memory_order_relaxed)) return;
    const auto& p = pieces[i];
    auto r = src.file().read_range(*p.info, p.offset, {p.dst, static_cast<std::size_t>(p.length)});
    if (!r && !first_taken.test_and_set()) {
      first = std::move(r).error();
      failed.store(true);
    }
  });
  if (failed.load()) return first;
  return {};
}

unsigned io_threads() noexcept {
  if (const char* env = std::getenv("SFT_IO_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && v >= 1 && v <= 256) return static_cast<unsigned>(v);
  }
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp(2 * hw, 4u, 16u);
}

}  // namespace sftpy
