// sft/file.hpp — opening a safetensors file for reading.
//
// File::open maps the file read-only (MAP_PRIVATE) and parses its header: after
// that, every tensor is a zero-copy TensorView into the mapping. The pread mode
// never maps the data: tensors are copied out with read(), and a file truncated
// by another process yields io_error instead of SIGBUS. File::from_memory
// borrows a caller's buffer, which must outlive the File.
//
// A compressed checkpoint (sft/compressed.hpp) is recognised by its first
// bytes and read like a pread-mode file: the header and the tensors are
// decompressed on demand, only the frames a read covers.
//
// A File is move-only: it owns the mapping. Views (TensorView, spans) point into
// it and into its Header and must not outlive it; the overloads that would
// return a view of a temporary File are deleted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

#include "sft/header.hpp"
#include "sft/limits.hpp"
#include "sft/remote.hpp"
#include "sft/result.hpp"
#include "sft/slice.hpp"
#include "sft/tensor_view.hpp"

namespace sft {

enum class ReadMode : std::uint8_t {
  mmap,   // map the whole file read-only; zero-copy views
  pread,  // read the header with pread, copy tensors out with pread; never maps
};

// madvise hints for the mapping.
enum class AccessHint : std::uint8_t {
  normal,      // no hint
  sequential,  // whole-file streaming: read ahead aggressively (MADV_SEQUENTIAL | MADV_WILLNEED)
  random,      // scattered lookups: no read-ahead (MADV_RANDOM)
};

struct OpenOptions {
  ReadMode mode = ReadMode::mmap;
  AccessHint hint = AccessHint::normal;
  bool populate = false;  // MAP_POPULATE: fault every page in at open
  Limits limits{};
  // Recognise compressed checkpoints (sft/compressed.hpp); when false, such a
  // file is rejected by the header parser like any other non-safetensors file.
  bool allow_compressed = true;
  // How an http:// or https:// URL is fetched (sft/remote.hpp); unused for paths.
  RemoteOptions remote{};
};

class CompressedReader;

class File {
 public:
  static Result<File> open(const std::filesystem::path& path, const OpenOptions& options = {});
  // Borrow `bytes` (the whole file). The caller keeps them alive and unchanged.
  static Result<File> from_memory(std::span<const std::byte> bytes, const Limits& limits = {});

  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  const Header& header() const& noexcept;
  const Header& header() && = delete;
  std::uint64_t size() const noexcept;       // bytes in the file
  ReadMode mode() const noexcept;
  bool mapped() const noexcept;              // true unless opened in pread mode

  // The whole file / the data buffer as bytes (empty in pread mode).
  std::span<const std::byte> bytes() const& noexcept;
  std::span<const std::byte> bytes() && = delete;

  // Zero-copy view of one tensor: not_found, or not_mapped in pread mode.
  Result<TensorView> tensor(std::string_view name) const&;
  Result<TensorView> tensor(std::string_view name) && = delete;
  // View of an entry of this File's header (must come from header()).
  TensorView view(const TensorInfo& info) const& noexcept;
  TensorView view(const TensorInfo& info) && = delete;

  // Copy a tensor's bytes into `out` (buffer_too_small if short); works in
  // every mode. In pread mode a short read is io_error, never a crash.
  Result<void> read(const TensorInfo& info, std::span<std::byte> out) const;
  // Copy `length` bytes at `offset` within the tensor's bytes into out.
  Result<void> read_range(const TensorInfo& info, std::uint64_t offset, std::span<std::byte> out) const;
  // Copy a slice of a tensor into `out`, which must hold plan.byte_size bytes.
  Result<SlicePlan> read_slice(const TensorInfo& info, std::span<const SliceSpec> spec,
                               std::span<std::byte> out) const;

  // Native file descriptor (-1 for from_memory and compressed checkpoints),
  // for I/O the caller schedules itself.
  int fd() const noexcept;

  // Compressed checkpoints: mapped() is false, mode() is pread, size() and all
  // offsets are those of the decompressed file, and reads decompress.
  bool compressed() const noexcept;
  const CompressedReader* compressed_reader() const noexcept;  // nullptr unless compressed()
  // Copy out.size() bytes of the file (the decompressed file, for a
  // compressed checkpoint) starting at `offset`; works in every mode.
  Result<void> read_bytes(std::uint64_t offset, std::span<std::byte> out) const;

  // Iterate views in data order (mapped files only).
  class iterator;
  struct Views;
  Views views() const&;
  Views views() && = delete;

 private:
  friend Result<RemoteInfo> remote_info(const File& file);
  struct Impl;
  explicit File(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

template <>
inline constexpr bool result_owns_views<File> = true;

class File::iterator {
 public:
  using value_type = TensorView;
  using difference_type = std::ptrdiff_t;
  iterator() = default;
  iterator(const File* f, const TensorInfo* p) : file_(f), p_(p) {}
  TensorView operator*() const noexcept { return file_->view(*p_); }
  iterator& operator++() noexcept { ++p_; return *this; }
  iterator operator++(int) noexcept { auto t = *this; ++p_; return t; }
  friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.p_ == b.p_; }
 private:
  const File* file_ = nullptr;
  const TensorInfo* p_ = nullptr;
};

struct File::Views {
  const File* file;
  iterator begin() const noexcept { return {file, file->header().tensors().data()}; }
  iterator end() const noexcept {
    auto t = file->header().tensors();
    return {file, t.data() + t.size()};
  }
};

inline File::Views File::views() const& { return Views{this}; }

}  // namespace sft
