// python/src/source.hpp — an open safetensors file as the Python package holds it.
//
// A Source owns an sft::File and, in the mmap backend, the mapping under it.
// The package maps the file itself, MAP_PRIVATE with PROT_READ | PROT_WRITE
// (and MAP_NORESERVE, so a mapping larger than RAM is not refused by the
// overcommit heuristic), and parses it with File::from_memory: arrays and
// tensors handed to Python view that mapping, writes to them are private
// copy-on-write pages that never reach the file, and the Source (held by a
// shared_ptr in every array's owner) keeps the mapping alive as long as any
// view of it lives. Where the kernel refuses a writable private mapping (an
// overcommit policy of "never"), the mapping is read-only and views are
// read-only too (torch has no read-only tensors: it gets copies then).
//
// The pread backend and compressed checkpoints never map: every tensor is
// copied out into memory the package owns.
//
// A Source is immutable once opened, so any number of threads may read it at
// once; every function here runs without the GIL.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sft/file.hpp"
#include "sft/result.hpp"

namespace sftpy {

enum class Backend : std::uint8_t { mmap, pread };

class Source {
 public:
  // Opens `path`. On failure, *sys_errno is the errno of a failed open(2)
  // (ENOENT: the file does not exist), 0 otherwise.
  static sft::Result<std::shared_ptr<const Source>> open(const std::string& path, Backend backend, int* sys_errno);

  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  ~Source();

  const sft::File& file() const noexcept { return *file_; }
  const sft::Header& header() const noexcept { return file_->header(); }
  const std::string& path() const noexcept { return path_; }

  // The data buffer in memory (null for pread / compressed).
  std::byte* data() const noexcept { return data_; }
  bool mapped() const noexcept { return data_ != nullptr; }
  // Writes to the mapping are allowed (private copy-on-write pages).
  bool writable() const noexcept { return writable_; }
  std::byte* tensor_data(const sft::TensorInfo& info) const noexcept { return data_ + info.data_offsets.begin; }

  // Whether the bytes [begin, end) of the data buffer look cached, from 64
  // samples spread evenly over the range (asking about all of a 4 GiB range
  // walks a million pages, about 90 ms): runs of 16 pages asked with mincore
  // where the file is mapped, runs of 4 pages read with preadv2(RWF_NOWAIT)
  // where it is read with pread. True when at least 15/16 of the sampled
  // pages are resident, or when the kernel cannot tell a pread file's
  // residency; false when mincore fails or for a compressed checkpoint.
  bool looks_cached(std::uint64_t begin, std::uint64_t end) const noexcept;

  // Read a cold file's data into the page cache and map it, on io_threads()
  // threads (MADV_POPULATE_READ where the kernel has it), so that it comes
  // from the device with many requests in flight instead of one page fault
  // at a time. Nothing is done for a file already (nearly) all in the page
  // cache (looks_cached), nor without a mapping. With `may_fill_direct`
  // (the caller's promise that fill_direct's condition holds), a cold file
  // is filled with fill_direct instead where SFT_DIRECT_IO allows it (and
  // a cached one too where SFT_DIRECT_IO=1 forces it); the page cache is
  // the fallback.
  void prefetch(bool may_fill_direct = false) const noexcept;

  // For a cold file whose mapping nobody has seen yet: read the data's
  // whole pages from the device with direct I/O into fresh anonymous memory
  // (in huge pages within HugePageBudget), then move that memory over the
  // mapping's pages (mremap), so that the tensors view bytes the device
  // wrote straight into them, with no page-cache copy in between: 4 GiB in
  // about 1.8 s here against 3.5 s through the page cache. Any failure
  // leaves the mapping as it was and returns false (prefetch then reads
  // the usual way). The pages stay private copy-on-write memory of this
  // process, as before; what changes is that they are anonymous (the file
  // is not left in the page cache, and another process mapping the same
  // file does not share them). Reads of the mapping by other threads see
  // the file's bytes before and after the move; a write made to the mapping
  // before the move would be lost, so the caller must be sure that no view
  // of it has been handed out (load_file: a safe_open nobody else holds).
  // Only for a writable mapping of at least 64 MiB of data.
  bool fill_direct() const noexcept;

  // Copy `out.size()` bytes of a tensor starting at `offset` within it: with
  // pread (from the mapped file's descriptor too, which spares setting up the
  // mapping's page tables for bytes that are copied anyway), or through the
  // File for compressed checkpoints. A short read is io_error, never SIGBUS.
  sft::Result<void> read(const sft::TensorInfo& info, std::uint64_t offset, std::span<std::byte> out) const;

  // The same with direct I/O: `direct_fd` is this file opened with O_DIRECT
  // (open_direct()). The bytes of whole 4 KiB file blocks go from the device
  // into `out` without the page cache (so `out` must sit at the same offset
  // within a page as the file range); the partial blocks at either end, and
  // any range the file system refuses to read directly, go through read().
  sft::Result<void> read_direct(int direct_fd, const sft::TensorInfo& info, std::uint64_t offset,
                                std::span<std::byte> out) const;
  // This file (the same inode, reopened through /proc/self/fd) with
  // O_DIRECT, or -1 where that is impossible (a compressed checkpoint, no
  // /proc, a file system without direct I/O). The caller closes it.
  int open_direct() const noexcept;
  // The descriptor reads go through: the mapped file's, or the pread-mode
  // File's; -1 for a compressed checkpoint.
  int read_fd() const noexcept;
  // The absolute file offset of a byte of a tensor.
  std::uint64_t file_offset(const sft::TensorInfo& info, std::uint64_t offset) const noexcept {
    return header().data_start() + info.data_offsets.begin + offset;
  }

 private:
  Source() = default;
  void* map_ = nullptr;  // our mapping (mmap backend); unmapped after file_ is destroyed
  int fd_ = -1;          // the mapped file's descriptor (mmap backend), for copies
  std::size_t map_size_ = 0;
  std::optional<sft::File> file_;
  std::byte* data_ = nullptr;
  bool writable_ = false;
  std::string path_;
};

// Whether new copy buffers may ask for transparent huge pages, and for how
// many bytes. A 2 MiB page is faulted in and zeroed in one go: allocating 1
// GiB of copies measured 0.13-0.14 s with the advice against 0.55-0.67 s in
// 4 KiB pages (most of an owned load of a cached file is this allocation).
// The risk is a stall: where the kernel's defrag policy is "always",
// "madvise" or "defer+madvise", a fault in an advised region that finds no
// free 2 MiB block compacts memory synchronously. So the advice is given
// only for as many bytes as the free blocks of that size hold (from
// /proc/buddyinfo, three quarters of them), or without limit where the
// policy never compacts synchronously ("defer", "never"); never where
// transparent huge pages are off. SFT_HUGE_PAGES=0 turns it off, =1 gives
// the advice whatever the memory's state.
class HugePageBudget {
 public:
  // The budget of this machine now (reads sysfs and /proc; no allocation).
  static HugePageBudget from_system() noexcept;
  static HugePageBudget none() noexcept { return HugePageBudget(0); }
  // For copies of `total` bytes in all: none() below one huge page (no
  // buffer could use one, so the system files are not read), else
  // from_system().
  static HugePageBudget for_copies(std::uint64_t total) noexcept;
  HugePageBudget(const HugePageBudget& o) noexcept : left_(o.left_.load()) {}
  // Takes `bytes` from the budget; false (and nothing taken) when it has not
  // that many left. Any thread.
  bool take(std::size_t bytes) noexcept;
  std::int64_t left() const noexcept { return left_.load(); }
  // The size of a huge page (2 MiB with 4 KiB base pages).
  static std::size_t page_size() noexcept;

 private:
  explicit HugePageBudget(std::int64_t left) noexcept : left_(left) {}
  std::atomic<std::int64_t> left_;
};

// Memory the package owns for a copied tensor: 64-byte aligned below 1 MiB;
// from 1 MiB a mapping of its own whose pages the kernel faults in at once,
// in huge pages where `huge` allows (from 2 MiB), with its data starting
// `phase` bytes (< 4096) into its first page, so that it can take a direct
// (O_DIRECT) read of a file range at the same offset within a page.
class OwnedBuffer {
 public:
  static sft::Result<OwnedBuffer> allocate(std::size_t bytes, std::size_t phase = 0, HugePageBudget* huge = nullptr);
  OwnedBuffer() = default;
  OwnedBuffer(OwnedBuffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)),
        n_(std::exchange(o.n_, 0)),
        base_(std::exchange(o.base_, nullptr)),
        mapped_size_(std::exchange(o.mapped_size_, 0)) {}
  OwnedBuffer& operator=(OwnedBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(base_, o.base_);
    std::swap(mapped_size_, o.mapped_size_);
    return *this;
  }
  ~OwnedBuffer();
  std::byte* data() const noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }
  std::span<std::byte> span() const noexcept { return {p_, n_}; }

 private:
  std::byte* p_ = nullptr;
  std::size_t n_ = 0;
  std::byte* base_ = nullptr;  // the mapping of its own, from 1 MiB (else p_ is malloc'd)
  std::size_t mapped_size_ = 0;
};

// One copy: `length` bytes of a tensor starting at `offset` within it, into dst.
struct ReadJob {
  const sft::TensorInfo* info;
  std::uint64_t offset;
  std::uint64_t length;
  std::byte* dst;
};

// Copy every job's bytes (memcpy from the mapping, or pread), on `threads`
// threads, large jobs cut into pieces so that one big tensor is read with
// several requests in flight. The first error wins.
// With direct_fd >= 0, pieces whose destination has the file range's offset
// within a page are read with read_direct.
sft::Result<void> read_all(const Source& src, std::span<const ReadJob> jobs, unsigned threads, int direct_fd = -1);

// New copies of the tensors `infos` of `src`: the buffers allocated on one
// thread per core (huge pages within HugePageBudget::from_system()), then
// read with read_all on io_threads() threads. A file (mapped or pread, not compressed) whose
// requested range looks cold (Source::looks_cached) is read with direct I/O into buffers placed for it
// when the copy is large (64 MiB or more): the device's bytes land in the
// buffers without passing through the page cache (measured 2.5-3.3 GB/s
// against 1.4 GB/s through it on this project's virtio disk, and no second
// copy of the checkpoint in the page cache). SFT_DIRECT_IO=0 turns that
// off, =1 forces it for any file it can be used on.
sft::Result<std::vector<OwnedBuffer>> copy_tensors(const Source& src, std::span<const sft::TensorInfo* const> infos);

// Whether direct I/O may be used: SFT_DIRECT_IO=0 forbids it, =1 asks for
// it even for cached files (forced() true), anything else decides by
// residency.
struct DirectIoSetting {
  bool allowed = true;
  bool forced = false;
  static DirectIoSetting from_env() noexcept;
};

// Threads for reading a file from its device: SFT_IO_THREADS when set, else
// 16, enough requests in flight for a solid-state, virtual or network device
// (the kernel's rotational flag is unreliable on virtual disks, so it is not
// consulted).
unsigned io_threads() noexcept;

}  // namespace sftpy
