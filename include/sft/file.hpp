// sft/file.hpp — opening a safetensors file for reading.
//
// A File owns one source of bytes and the parsed, validated Header. Where the
// bytes come from depends on how it was opened:
//
//   File::open(path)                      mapped read-only (MAP_PRIVATE)   source_kind() "mapped"
//   File::open(path, {.mode = pread})     read with pread, never mapped:   "pread"
//                                         a file truncated by another
//                                         process gives io_error, not SIGBUS
//   File::open(compressed checkpoint)     decompressed on demand, only the "compressed"
//                                         frames a read covers (sft/compressed.hpp)
//   File::from_memory(bytes)              a caller's buffer, borrowed      "memory"
//
// One access path works in every mode:
//   * load(info) / load(name): the tensor's bytes as a TensorBytes — a
//     zero-copy view where the bytes are in memory (mapped, from_memory), an
//     owned buffer aligned to 64 bytes otherwise; typed with as<T>();
//   * slice(info, spec): a strided slice with Python's semantics
//     (sft/slice.hpp), a view when it is one contiguous run in memory, a copy
//     otherwise; read_slice() copies one into a caller's buffer;
//   * read(), read_range(), read_bytes(): copies into a caller's buffer.
// Zero-copy views exist only where the bytes are in memory: view(), tensor()
// and views() report not_mapped for the other sources — never an empty view.
//
// Every function taking a TensorInfo requires an entry of this File's own
// header (header().tensors()): another one is invalid_argument, never a read
// at its offsets.
//
// A File is move-only. Views and TensorBytes point into it and into its
// Header and must not outlive it; the overloads that would return them from a
// temporary File are deleted. Const member functions may be called from
// several threads at once. No function throws: allocation failures are
// out_of_memory errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <span>
#include <string_view>

#include "sft/header.hpp"
#include "sft/limits.hpp"
#include "sft/result.hpp"
#include "sft/slice.hpp"
#include "sft/tensor_bytes.hpp"
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
};

namespace detail {
struct FileAccess;  // src/file/file_impl.hpp: builds Files over other byte sources
}

// One range of a batched read: out.size() bytes of the file at `offset`.
struct ReadRequest {
  std::uint64_t offset = 0;
  std::span<std::byte> out;
};

class File {
 public:
  // Open a regular file (a FIFO, device or directory is io_error, promptly:
  // nothing blocks). Errors: io_error, every header error of parse_header,
  // and for compressed checkpoints those of sft/compressed.hpp.
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
  std::uint64_t size() const noexcept;  // bytes in the file (decompressed, for a compressed checkpoint)
  // pread for pread-mode files and compressed checkpoints, mmap otherwise.
  ReadMode mode() const noexcept;
  // Where the bytes come from: "mapped", "pread", "memory", "compressed" (see above).
  std::string_view source_kind() const noexcept;
  // True when the bytes are in memory (mapped or from_memory): view() works.
  bool mapped() const noexcept;
  bool compressed() const noexcept;  // source_kind() == "compressed"
  // Native file descriptor for I/O the caller schedules itself; -1 for
  // from_memory and compressed checkpoints.
  int fd() const noexcept;

  // --- every mode ------------------------------------------------------------------
  // The tensor's bytes: a view where they are in memory, else an owned copy
  // aligned to TensorBytes::alignment. Errors: not_found (by name),
  // invalid_argument (a TensorInfo of another header), out_of_memory, and
  // read errors (io_error; for compressed checkpoints their own codes), each
  // naming the tensor.
  Result<TensorBytes> load(const TensorInfo& info) const&;
  Result<TensorBytes> load(std::string_view name) const&;
  Result<TensorBytes> load(const TensorInfo& info) && = delete;
  Result<TensorBytes> load(std::string_view name) && = delete;

  // A slice (sft/slice.hpp) with the slice's shape: a view when its bytes are
  // one contiguous run in memory, otherwise an owned, aligned copy of the
  // selected elements in row-major order. Errors: those of plan_slice and of load.
  Result<TensorBytes> slice(const TensorInfo& info, std::span<const SliceSpec> spec) const&;
  Result<TensorBytes> slice(const TensorInfo& info, std::initializer_list<SliceSpec> spec) const& {
    return slice(info, std::span<const SliceSpec>(spec.begin(), spec.size()));
  }
  Result<TensorBytes> slice(const TensorInfo& info, std::span<const SliceSpec> spec) && = delete;
  Result<TensorBytes> slice(const TensorInfo& info, std::initializer_list<SliceSpec> spec) && = delete;

  // Copy a tensor's bytes into `out` (buffer_too_small if short). In pread
  // mode a short read is io_error, never a crash.
  Result<void> read(const TensorInfo& info, std::span<std::byte> out) const;
  // Copy out.size() bytes at `offset` within the tensor's bytes into `out`
  // (invalid_argument if the range runs past the tensor).
  Result<void> read_range(const TensorInfo& info, std::uint64_t offset, std::span<std::byte> out) const;
  // Copy a slice of a tensor into `out`, which must hold plan.byte_size bytes
  // (buffer_too_small); returns the plan (its shape is the slice's).
  Result<SlicePlan> read_slice(const TensorInfo& info, std::span<const SliceSpec> spec,
                               std::span<std::byte> out) const;
  // Copy out.size() bytes of the file starting at `offset` (invalid_argument
  // past the end).
  Result<void> read_bytes(std::uint64_t offset, std::span<std::byte> out) const;
  // Several ranges at once, as if read_bytes were called for each (every
  // range is checked first; nothing is read if one lies outside the file).
  // A source that serves a batch faster than its ranges one by one (a remote
  // source coalescing neighbours, issuing requests in parallel) does so here.
  Result<void> read_bytes(std::span<const ReadRequest> reads) const;

  // --- zero-copy, where the bytes are in memory --------------------------------------
  // The whole file: not_mapped unless mapped().
  Result<std::span<const std::byte>> bytes() const&;
  Result<std::span<const std::byte>> bytes() && = delete;
  // A view of one tensor: not_mapped unless mapped(); invalid_argument for a
  // TensorInfo of another header; tensor() also not_found.
  Result<TensorView> view(const TensorInfo& info) const&;
  Result<TensorView> view(const TensorInfo& info) && = delete;
  Result<TensorView> tensor(std::string_view name) const&;
  Result<TensorView> tensor(std::string_view name) && = delete;

  // Every tensor's view in data order: not_mapped unless mapped().
  //   auto views = file.views();
  //   if (!views) ...;
  //   for (TensorView t : *views) ...
  class iterator;
  struct Views;
  Result<Views> views() const&;
  Result<Views> views() && = delete;

 private:
  friend struct detail::FileAccess;
  struct Impl;
  explicit File(std::unique_ptr<Impl> impl) noexcept;
  // The view of an entry known to belong to this File, whose bytes are in memory.
  TensorView unchecked_view(const TensorInfo& info) const noexcept;
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
  TensorView operator*() const noexcept { return file_->unchecked_view(*p_); }
  iterator& operator++() noexcept { ++p_; return *this; }
  iterator operator++(int) noexcept { auto t = *this; ++p_; return t; }
  friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.p_ == b.p_; }
 private:
  const File* file_ = nullptr;
  const TensorInfo* p_ = nullptr;
};

// A range over a mapped File's views (from views(); valid while the File lives).
struct File::Views {
  const File* file;
  iterator begin() const noexcept { return {file, file->header().tensors().data()}; }
  iterator end() const noexcept {
    auto t = file->header().tensors();
    return {file, t.data() + t.size()};
  }
};

}  // namespace sft
