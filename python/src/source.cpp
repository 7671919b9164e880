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
constexpr std::size_t kMapped = std::size_t{1} << 20;  // copies this large get a mapping of their own
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
  if (fd_ >= 0) ::close(fd_);
}

sft::Result<void> Source::read(const sft::TensorInfo& info, std::uint64_t offset, std::span<std::byte> out) const {
  if (fd_ < 0) return file_->read_range(info, offset, out);
  // The mapped file's own descriptor: the kernel copies from the page cache
  // into `out` without setting up the mapping's page tables.
  std::uint64_t at = header().data_start() + info.data_offsets.begin + offset;
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(at + done));
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return sft::Error(sft::Errc::io_error,
                        n == 0 ? "the file ended early (truncated since it was opened?)" : std::strerror(errno),
                        at + done, std::string(info.name));
    }
  }
  return {};
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

void Source::prefetch() const noexcept {
  if (!data_ || header().data_size() == 0) return;
  // Page-aligned pieces of the data buffer.
  auto begin = reinterpret_cast<std::uintptr_t>(data_) & ~(kPage - 1);
  auto end = reinterpret_cast<std::uintptr_t>(data_) + header().data_size();
  const std::uintptr_t piece = kReadPiece;
  const std::size_t count = (end - begin + piece - 1) / piece;
  // A file (nearly) all in the page cache needs no help: reading it faults
  // its pages in with the kernel's fault-around, at the same cost as
  // populating them here, so nothing is done. A cold one is read with
  // io_threads() requests in flight. Whether it is cached is judged from a
  // sample: mincore over the whole range walks every page (about 90 ms of
  // CPU for 4 GiB, most of a warm zero-copy load), so it asks about kSamples
  // runs of kRun pages spread evenly over the range (a few hundred
  // microseconds whatever the size). A misjudged file only loses or gains
  // the read-ahead, never bytes.
  constexpr std::size_t kSamples = 64, kRun = 16;
  const std::size_t pages = (end - begin + kPage - 1) / kPage;
  std::size_t asked = 0, in_cache = 0;
  unsigned char resident[kRun];
  for (std::size_t i = 0; i < kSamples; ++i) {
    const std::size_t first = pages <= kSamples * kRun ? i * kRun : i * (pages - kRun) / (kSamples - 1);
    if (first >= pages) break;
    const std::size_t run = std::min(kRun, pages - first);
    if (::mincore(reinterpret_cast<void*>(begin + first * kPage), run * kPage, resident) != 0) {
      asked = 0;  // cannot tell: read ahead
      break;
    }
    asked += run;
    for (std::size_t j = 0; j < run; ++j) in_cache += resident[j] & 1;
  }
  if (asked > 0 && in_cache >= asked - asked / 16) return;
  const unsigned threads = io_threads();
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
  if (bytes >= kMapped) {
    // A mapping of its own, its pages faulted in by the kernel in one go
    // (MAP_POPULATE): cheaper than the first writes faulting them one at a
    // time. No transparent-huge-page advice: where the kernel's defrag policy
    // is "madvise" (Debian's default), advised regions compact memory
    // synchronously on a busy machine, which measured several times slower.
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED)
      return sft::Error(sft::Errc::out_of_memory, "cannot map " + std::to_string(bytes) + " bytes of memory");
    b.p_ = static_cast<std::byte*>(p);
    b.n_ = bytes;
    b.mapped_ = true;
    return b;
  }
  void* p = nullptr;
  if (::posix_memalign(&p, 64, bytes) != 0 || !p)
    return sft::Error(sft::Errc::out_of_memory, "cannot allocate " + std::to_string(bytes) + " bytes");
  b.p_ = static_cast<std::byte*>(p);
  b.n_ = bytes;
  return b;
}

OwnedBuffer::~OwnedBuffer() {
  if (mapped_)
    ::munmap(p_, n_);
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

sft::Result<std::vector<OwnedBuffer>> copy_tensors(const Source& src, std::span<const sft::TensorInfo* const> infos,
                                                   unsigned threads) {
  // Allocating is not free (the kernel zeroes every page): on several threads
  // too, then the reads.
  std::vector<OwnedBuffer> buffers(infos.size());
  FirstError first;
  std::uint64_t total = 0;
  for (const auto* info : infos) total += info->byte_size();
  // Threads pay off only for large copies: starting one costs as much as
  // copying tens of kilobytes.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const unsigned alloc_threads = total >= (std::uint64_t{64} << 20) ? cores : 1;
  threads = static_cast<unsigned>(std::clamp<std::uint64_t>(total / (std::uint64_t{4} << 20), 1, threads));
  sft::detail::parallel_for(infos.size(), alloc_threads,
                            [&](std::size_t i, unsigned) {
                              if (first.failed.load(std::memory_order_relaxed)) return;
                              auto b = OwnedBuffer::allocate(static_cast<std::size_t>(infos[i]->byte_size()));
                              if (b)
                                buffers[i] = std::move(*b);
                              else
                                first.set(std::move(b).error());
                            });
  if (first.failed.load()) return first.error;
  std::vector<ReadJob> jobs;
  jobs.reserve(infos.size());
  for (std::size_t i = 0; i < infos.size(); ++i) jobs.push_back({infos[i], 0, infos[i]->byte_size(), buffers[i].data()});
  SFT_TRY(read_all(src, jobs, threads));
  return buffers;
}

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
  FirstError first;
  sft::detail::parallel_for(pieces.size(), threads, [&](std::size_t i, unsigned) {
    if (first.failed.load(std::memory_order_relaxed)) return;
    const auto& p = pieces[i];
    auto r = src.read(*p.info, p.offset, {p.dst, static_cast<std::size_t>(p.length)});
    if (!r) first.set(std::move(r).error());
  });
  if (first.failed.load()) return first.error;
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
