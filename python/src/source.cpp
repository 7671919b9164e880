// python/src/source.cpp — opening files for the Python package (see source.hpp).
#include "source.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sft/compressed.hpp"
#include "sft_internal/parallel.hpp"

namespace sftpy {

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kMapped = std::size_t{1} << 20;  // copies this large get a mapping of their own
constexpr std::uint64_t kReadPiece = std::uint64_t{8} << 20;  // a large tensor is read in pieces of 8 MiB
constexpr std::uint64_t kDirectMin = std::uint64_t{64} << 20;  // direct I/O from this many bytes

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

sft::Error io_error(const std::string& what, const std::string& path, int err) {
  return sft::Error(sft::Errc::io_error, what + " " + path + ": " + std::strerror(err));
}

// Reads `len` bytes at `at`: 0 once all were read, else the errno of the
// failed pread, or -1 when the file ended first.
int pread_fully(int fd, std::byte* dst, std::size_t len, std::uint64_t at) noexcept {
  std::size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, dst + done, len - done, static_cast<off_t>(at + done));
    if (n > 0)
      done += static_cast<std::size_t>(n);
    else if (n == 0)
      return -1;
    else if (errno != EINTR)
      return errno;
  }
  return 0;
}

sft::Error read_error(int err, std::uint64_t at, std::string_view tensor) {
  return sft::Error(sft::Errc::io_error,
                    err < 0 ? "the file ended early (truncated since it was opened?)" : std::strerror(err), at,
                    std::string(tensor));
}

std::uintptr_t round_up(std::uintptr_t v, std::uintptr_t to) { return (v + to - 1) & ~(to - 1); }

// A small text file from sysfs or /proc into `buf` (NUL-terminated): its
// length, or -1.
ssize_t read_small(const char* path, char* buf, std::size_t cap) noexcept {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  std::size_t got = 0;
  while (got + 1 < cap) {
    ssize_t n = ::read(fd, buf + got, cap - 1 - got);
    if (n > 0)
      got += static_cast<std::size_t>(n);
    else if (n < 0 && errno == EINTR)
      continue;
    else
      break;
  }
  ::close(fd);
  buf[got] = '\0';
  return static_cast<ssize_t>(got);
}

// The selected word of a sysfs policy ("always [madvise] never" -> madvise).
std::string_view selected(const char* text) noexcept {
  const char* a = std::strchr(text, '[');
  const char* b = a ? std::strchr(a, ']') : nullptr;
  if (!b) return {};
  return {a + 1, static_cast<std::size_t>(b - a - 1)};
}

// Free memory in blocks of at least 2^order base pages, in base pages, from
// /proc/buddyinfo ("Node 0, zone   Normal  n0 n1 ... n10" per zone).
std::uint64_t free_pages_in_blocks(unsigned order) noexcept {
  char text[16384];
  if (read_small("/proc/buddyinfo", text, sizeof text) <= 0) return 0;
  std::uint64_t pages = 0;
  for (const char* line = text; *line;) {
    const char* eol = std::strchr(line, '\n');
    if (!eol) eol = line + std::strlen(line);
    const char* z = std::strstr(line, "zone");
    if (z && z < eol) {
      const char* p = z + 4;
      while (p < eol && *p == ' ') ++p;
      while (p < eol && *p != ' ') ++p;  // the zone's name
      for (unsigned k = 0; p < eol && k < 64; ++k) {
        char* end = nullptr;
        unsigned long long count = std::strtoull(p, &end, 10);
        if (end == p || end > eol) break;
        p = end;
        if (k >= order && count < (std::uint64_t{1} << 40)) pages += count << k;
      }
    }
    line = *eol ? eol + 1 : eol;
  }
  return pages;
}

// A private anonymous mapping of `len` bytes whose start lies `phase` bytes
// past a multiple of `align` (a power of two): mapped larger, its ends
// unmapped. Null when the kernel refuses.
std::byte* map_anonymous_at(std::size_t len, std::size_t align, std::size_t phase, int flags) noexcept {
  const std::size_t reserve = len + 2 * align;
  void* r = ::mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
  if (r == MAP_FAILED) return nullptr;
  const auto rb = reinterpret_cast<std::uintptr_t>(r);
  const auto start = round_up(rb, align) + (phase & (align - 1));
  if (start > rb) ::munmap(r, start - rb);
  ::munmap(reinterpret_cast<void*>(start + len), rb + reserve - start - len);
  return reinterpret_cast<std::byte*>(start);
}

}  // namespace

std::size_t HugePageBudget::page_size() noexcept {
  static const std::size_t size = [] {
    char buf[64];
    if (read_small("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", buf, sizeof buf) > 0) {
      unsigned long long v = std::strtoull(buf, nullptr, 10);
      if (v > kPage && (v & (v - 1)) == 0 && v <= (1ull << 30)) return static_cast<std::size_t>(v);
    }
    return std::size_t{2} << 20;
  }();
  return size;
}

HugePageBudget HugePageBudget::from_system() noexcept {
  constexpr std::int64_t kUnlimited = std::numeric_limits<std::int64_t>::max();
  if (const char* env = std::getenv("SFT_HUGE_PAGES")) {
    if (std::string_view(env) == "0") return HugePageBudget(0);
    if (std::string_view(env) == "1") return HugePageBudget(kUnlimited);
  }
  char buf[256];
  if (read_small("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf) <= 0) return HugePageBudget(0);
  const auto enabled = selected(buf);
  if (enabled != "always" && enabled != "madvise") return HugePageBudget(0);
  if (read_small("/sys/kernel/mm/transparent_hugepage/defrag", buf, sizeof buf) > 0) {
    const auto defrag = selected(buf);
    if (defrag == "defer" || defrag == "never") return HugePageBudget(kUnlimited);
  }
  unsigned order = 0;
  while ((kPage << order) < page_size()) ++order;
  const std::uint64_t bytes = free_pages_in_blocks(order) * kPage / 4 * 3;
  return HugePageBudget(static_cast<std::int64_t>(std::min<std::uint64_t>(bytes, kUnlimited)));
}

HugePageBudget HugePageBudget::for_copies(std::uint64_t total) noexcept {
  return total >= page_size() ? from_system() : none();
}

bool HugePageBudget::take(std::size_t bytes) noexcept {
  const auto want = static_cast<std::int64_t>(std::min<std::size_t>(bytes, std::numeric_limits<std::int64_t>::max()));
  std::int64_t cur = left_.load();
  while (cur >= want)
    if (left_.compare_exchange_weak(cur, cur - want)) return true;
  return false;
}

Source::~Source() {
  file_.reset();  // the File views the mapping: destroy it first
  if (map_) ::munmap(map_, map_size_);
  if (fd_ >= 0) ::close(fd_);
}

sft::Result<void> Source::read(const sft::TensorInfo& info, std::uint64_t offset, std::span<std::byte> out) const {
  if (fd_ < 0) return file_->read_range(info, offset, out);
  // The mapped file's own descriptor: the kernel copies from the page cache
  // into `out` without setting up the mapping's page tables.
  const std::uint64_t at = file_offset(info, offset);
  if (int err = pread_fully(fd_, out.data(), out.size(), at)) return read_error(err, at, info.name);
  return {};
}

sft::Result<void> Source::read_direct(int direct_fd, const sft::TensorInfo& info, std::uint64_t offset,
                                      std::span<std::byte> out) const {
  const std::uint64_t a = file_offset(info, offset), b = a + out.size();
  const std::uint64_t first = round_up(a, kPage), last = b & ~std::uint64_t{kPage - 1};
  if (direct_fd < 0 || last <= first || ((reinterpret_cast<std::uintptr_t>(out.data()) - a) & (kPage - 1)) != 0)
    return read(info, offset, out);
  if (first > a) SFT_TRY(read(info, offset, out.first(first - a)));
  std::byte* dst = out.data() + (first - a);
  const std::size_t len = last - first;
  if (int err = pread_fully(direct_fd, dst, len, first)) {
    if (err != EINVAL) return read_error(err, first, info.name);
    // Blocks larger than 4 KiB, or a file system that reads only part of a
    // range directly: all of it through the page cache.
    SFT_TRY(read(info, offset + (first - a), {dst, len}));
  }
  if (b > last) SFT_TRY(read(info, offset + (last - a), out.subspan(last - a)));
  return {};
}

int Source::open_direct() const noexcept {
  const int fd = read_fd();
  if (fd < 0) return -1;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  return ::open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
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
  s->fd_ = std::exchange(fd.fd, -1);  // kept: copies are read with pread, not out of the mapping
  auto bytes = std::span<const std::byte>(static_cast<const std::byte*>(m), n);
  SFT_TRY_ASSIGN(auto f, sft::File::from_memory(bytes));
  s->file_.emplace(std::move(f));
  s->data_ = static_cast<std::byte*>(m) + s->file_->header().data_start();
  return std::shared_ptr<const Source>(std::move(s));
}

bool Source::looks_cached(std::uint64_t from, std::uint64_t to) const noexcept {
  if (to <= from) return false;
  const int fd = read_fd();
  if (!data_ && fd < 0) return false;
  // Pages of the file, relative to the page that holds byte `from` of the data.
  const std::uint64_t begin = (header().data_start() + from) & ~std::uint64_t{kPage - 1};
  const std::uint64_t end = header().data_start() + to;
  const std::size_t pages = static_cast<std::size_t>((end - begin + kPage - 1) / kPage);
  // A mapping is asked with mincore (runs of 16 pages); a file read with
  // pread by reading 4 pages at each sample with RWF_NOWAIT, which fails
  // with EAGAIN, or stops short, where the page cache does not have them
  // (a 16 KiB buffer, 1 MiB copied in all).
  const std::size_t kSamples = 64, kRun = data_ ? 16 : 4;
  std::size_t asked = 0, in_cache = 0;
  unsigned char resident[16];
  alignas(64) std::byte scratch[4 * kPage];
  for (std::size_t i = 0; i < kSamples; ++i) {
    const std::size_t first = pages <= kSamples * kRun ? i * kRun : i * (pages - kRun) / (kSamples - 1);
    if (first >= pages) break;
    const std::size_t run = std::min(kRun, pages - first);
    const std::uint64_t at = begin + std::uint64_t{first} * kPage;
    asked += run;
    if (data_) {
      auto* map_base = static_cast<std::byte*>(map_);
      if (::mincore(map_base + at, run * kPage, resident) != 0) return false;
      for (std::size_t j = 0; j < run; ++j) in_cache += resident[j] & 1;
      continue;
    }
    struct iovec v {scratch, run * kPage};
    ssize_t n;
    do n = ::preadv2(fd, &v, 1, static_cast<off_t>(at), RWF_NOWAIT);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
      in_cache += std::min<std::size_t>(run, (static_cast<std::size_t>(n) + kPage - 1) / kPage);
    else if (errno != EAGAIN)
      return true;  // cannot tell (no RWF_NOWAIT here): as cached, the page cache as before
  }
  return asked > 0 && in_cache >= asked - asked / 16;
}

int Source::read_fd() const noexcept {
  if (fd_ >= 0) return fd_;
  if (file_ && !file_->compressed() && file_->mode() == sft::ReadMode::pread) return file_->fd();
  return -1;
}

DirectIoSetting DirectIoSetting::from_env() noexcept {
  DirectIoSetting d;
  if (const char* env = std::getenv("SFT_DIRECT_IO")) {
    d.allowed = std::string_view(env) != "0";
    d.forced = std::string_view(env) == "1";
  }
  return d;
}

bool Source::fill_direct() const noexcept {
  if (!data_ || !writable_ || fd_ < 0) return false;
  const auto base = reinterpret_cast<std::uintptr_t>(map_);
  const auto first = round_up(reinterpret_cast<std::uintptr_t>(data_), kPage);
  const auto last = (reinterpret_cast<std::uintptr_t>(data_) + header().data_size()) & ~std::uintptr_t{kPage - 1};
  if (last <= first || last - first < kDirectMin) return false;
  Fd direct;
  direct.fd = open_direct();
  if (direct.fd < 0) return false;
  const std::size_t len = last - first, hp = HugePageBudget::page_size();
  // A region at the same offset within a huge page as `first`, so that its
  // huge pages move as they are.
  std::byte* region = map_anonymous_at(len, hp, first, MAP_NORESERVE);
  if (!region) return false;
  HugePageBudget huge = HugePageBudget::from_system();
  if (huge.take(len)) ::madvise(region, len, MADV_HUGEPAGE);
  const std::size_t count = (len + kReadPiece - 1) / kReadPiece;
  std::atomic<bool> failed{false};
  try {
    // Every piece must be read: a worker that could not run (parallel_for's
    // error) counts as a failure, never as zeros moved over the file.
    if (!sft::detail::parallel_for(count, io_threads(), [&](std::size_t i, unsigned) {
          if (failed.load(std::memory_order_relaxed)) return;
          const std::size_t at = i * kReadPiece, n = std::min<std::size_t>(kReadPiece, len - at);
          if (pread_fully(direct.fd, region + at, n, first - base + at) != 0) failed.store(true);
        }))
      failed.store(true);
  } catch (...) {  // std::function's allocation
    failed.store(true);
  }
  if (failed.load()) {
    ::munmap(region, len);
    return false;
  }
  if (::mremap(region, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(first)) != MAP_FAILED)
    return true;
  // The move failed (the kernel checks its limits before it unmaps the
  // destination, but to be sure): map the file's pages there again.
  ::munmap(region, len);
  ::mmap(reinterpret_cast<void*>(first), len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE | MAP_FIXED, fd_,
         static_cast<off_t>(first - base));
  return false;
}

void Source::prefetch(bool may_fill_direct) const noexcept {
  if (!data_ || header().data_size() == 0) return;
  // A file (nearly) all in the page cache needs no help: reading it faults
  // its pages in with the kernel's fault-around, at the same cost as
  // populating them here, so nothing is done. A cold one is read with
  // io_threads() requests in flight. A misjudged file only loses or gains
  // the read-ahead, never bytes.
  const bool cached = looks_cached(0, header().data_size());
  if (may_fill_direct) {
    const auto direct = DirectIoSetting::from_env();
    if (direct.allowed && (direct.forced || !cached) && fill_direct()) return;
  }
  if (cached) return;
  // Page-aligned pieces of the data buffer.
  auto begin = reinterpret_cast<std::uintptr_t>(data_) & ~(kPage - 1);
  auto end = reinterpret_cast<std::uintptr_t>(data_) + header().data_size();
  const std::uintptr_t piece = kReadPiece;
  const std::size_t count = (end - begin + piece - 1) / piece;
  const unsigned threads = io_threads();
  // Only a read-ahead: a failure to run it (or its allocation) loses nothing.
  try {
    (void)sft::detail::parallel_for(count, threads, [&](std::size_t i, unsigned) {
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
  } catch (...) {
  }
}

sft::Result<OwnedBuffer> OwnedBuffer::allocate(std::size_t bytes, std::size_t phase, HugePageBudget* huge) {
  OwnedBuffer b;
  if (bytes == 0) return b;
  if (bytes < kMapped) {
    void* p = nullptr;
    if (::posix_memalign(&p, 64, bytes) != 0 || !p)
      return sft::Error(sft::Errc::out_of_memory, "cannot allocate " + std::to_string(bytes) + " bytes");
    b.p_ = static_cast<std::byte*>(p);
    b.n_ = bytes;
    return b;
  }
  phase &= kPage - 1;
  const auto out_of_memory = [bytes] {
    return sft::Error(sft::Errc::out_of_memory, "cannot map " + std::to_string(bytes) + " bytes of memory");
  };
  if (bytes > std::numeric_limits<std::size_t>::max() / 2) return out_of_memory();
  const std::size_t span = round_up(bytes + phase, kPage);
  const std::size_t hp = HugePageBudget::page_size();
  const bool want_huge = huge && span >= hp && huge->take(span);
  if (!want_huge) {
    // A mapping of its own, its pages faulted in by the kernel in one go
    // (MAP_POPULATE): cheaper than the first writes faulting them one at a
    // time.
    void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) return out_of_memory();
    b.base_ = static_cast<std::byte*>(p);
    b.mapped_size_ = span;
  } else {
    // Huge pages need a range aligned to their size.
    b.base_ = map_anonymous_at(span, hp, 0, 0);
    if (!b.base_) return out_of_memory();
    b.mapped_size_ = span;
    ::madvise(b.base_, span, MADV_HUGEPAGE);  // refused: 4 KiB pages, still correct
    bool populated = false;
#ifdef MADV_POPULATE_WRITE
    if (::madvise(b.base_, span, MADV_POPULATE_WRITE) == 0)
      populated = true;
    else if (errno != EINVAL)
      return out_of_memory();  // b unmaps it
#endif
    if (!populated)
      for (std::size_t at = 0; at < span; at += kPage) reinterpret_cast<volatile unsigned char*>(b.base_)[at] = 0;
  }
  b.p_ = b.base_ + phase;
  b.n_ = bytes;
  return b;
}

OwnedBuffer::~OwnedBuffer() {
  if (base_)
    ::munmap(base_, mapped_size_);
  else
    std::free(p_);
}

namespace {

// A first error from several threads: the first to fail keeps its error.
struct FirstError {
  std::atomic<bool> failed{false};
  std::atomic_flag taken = ATOMIC_FLAG_INIT;
  sft::Error error;
  void set(sft::Error e) {
    if (!taken.test_and_set()) {
      error = std::move(e);
      failed.store(true);
    }
  }
};

}  // namespace

sft::Result<std::vector<OwnedBuffer>> copy_tensors(const Source& src, std::span<const sft::TensorInfo* const> infos) {
  std::vector<OwnedBuffer> buffers(infos.size());
  FirstError first;
  std::uint64_t total = 0, from = std::numeric_limits<std::uint64_t>::max(), to = 0;
  for (const auto* info : infos) {
    total += info->byte_size();
    from = std::min(from, info->data_offsets.begin);
    to = std::max(to, info->data_offsets.end);
  }
  // Direct I/O for a large copy of a range that is not in the page cache.
  const auto direct = DirectIoSetting::from_env();
  Fd direct_fd;
  if (src.read_fd() >= 0 && total > 0 && direct.allowed &&
      (direct.forced || (total >= kDirectMin && !src.looks_cached(from, to))))
    direct_fd.fd = src.open_direct();
  // Allocating is not free (the kernel zeroes every page): on several threads
  // too, then the reads. Threads pay off only for large copies: starting one
  // costs as much as copying tens of kilobytes.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const unsigned alloc_threads = total >= (std::uint64_t{64} << 20) ? cores : 1;
  const auto threads =
      static_cast<unsigned>(std::clamp<std::uint64_t>(total / (std::uint64_t{4} << 20), 1, io_threads()));
  HugePageBudget huge = HugePageBudget::for_copies(total);
  auto allocated = sft::detail::parallel_for(infos.size(), alloc_threads, [&](std::size_t i, unsigned) {
    if (first.failed.load(std::memory_order_relaxed)) return;
    // Placed for direct reads: the data at the file range's offset within a page.
    const std::size_t phase = direct_fd.fd >= 0 ? src.file_offset(*infos[i], 0) & (kPage - 1) : 0;
    auto b = OwnedBuffer::allocate(static_cast<std::size_t>(infos[i]->byte_size()), phase, &huge);
    if (b)
      buffers[i] = std::move(*b);
    else
      first.set(std::move(b).error());
  });
  if (first.failed.load()) return first.error;
  SFT_TRY(std::move(allocated));
  std::vector<ReadJob> jobs;
  jobs.reserve(infos.size());
  for (std::size_t i = 0; i < infos.size(); ++i) jobs.push_back({infos[i], 0, infos[i]->byte_size(), buffers[i].data()});
  SFT_TRY(read_all(src, jobs, threads, direct_fd.fd));
  return buffers;
}

sft::Result<void> read_all(const Source& src, std::span<const ReadJob> jobs, unsigned threads, int direct_fd) {
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
  FirstError first;
  auto ran = sft::detail::parallel_for(pieces.size(), threads, [&](std::size_t i, unsigned) {
    if (first.failed.load(std::memory_order_relaxed)) return;
    const auto& p = pieces[i];
    const std::span<std::byte> out{p.dst, static_cast<std::size_t>(p.length)};
    auto r = direct_fd >= 0 ? src.read_direct(direct_fd, *p.info, p.offset, out) : src.read(*p.info, p.offset, out);
    if (!r) first.set(std::move(r).error());
  });
  if (first.failed.load()) return first.error;
  SFT_TRY(std::move(ran));
  return {};
}

unsigned io_threads() noexcept {
  if (const char* env = std::getenv("SFT_IO_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && v >= 1 && v <= 256) return static_cast<unsigned>(v);
  }
  // Reads from a solid-state, virtual or network device reach its bandwidth
  // only with many requests in flight (16 threads of 8 MiB reads measured
  // five times one thread's throughput on this project's virtio disk); the
  // threads mostly sleep in the kernel, so the count does not follow the cores.
  return 16;
}

}  // namespace sftpy
