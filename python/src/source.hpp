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

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
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

  // Fault the mapping's data pages in ahead of use, on `threads` threads
  // (MADV_POPULATE_READ where the kernel has it), so that reading every byte
  // afterwards takes no page faults and a cold file is read with several
  // requests in flight. A no-op without a mapping.
  void prefetch(unsigned threads) const noexcept;

 private:
  Source() = default;
  void* map_ = nullptr;  // our mapping (mmap backend); unmapped after file_ is destroyed
  std::size_t map_size_ = 0;
  std::optional<sft::File> file_;
  std::byte* data_ = nullptr;
  bool writable_ = false;
  std::string path_;
};

// Memory the package owns for a copied tensor: 64-byte aligned, or 2 MiB
// aligned with transparent huge pages advised for 4 MiB and more (as numpy's
// own allocator does), so that faulting in large fresh buffers costs less.
class OwnedBuffer {
 public:
  static sft::Result<OwnedBuffer> allocate(std::size_t bytes);
  OwnedBuffer() = default;
  OwnedBuffer(OwnedBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  OwnedBuffer& operator=(OwnedBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  ~OwnedBuffer();
  std::byte* data() const noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }
  std::span<std::byte> span() const noexcept { return {p_, n_}; }

 private:
  std::byte* p_ = nullptr;
  std::size_t n_ = 0;
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
sft::Result<void> read_all(const Source& src, std::span<const ReadJob> jobs, unsigned threads);

// Threads for reading a file: SFT_IO_THREADS when set, else enough requests in
// flight for a solid-state or network device (the kernel's rotational flag is
// unreliable on virtual disks, so it is not consulted), at least 2.
unsigned io_threads() noexcept;

}  // namespace sftpy
