// src/io/byte_source.hpp — where a File's bytes come from (internal).
//
// A File owns exactly one ByteSource, and every byte it hands out (views,
// loads, reads, slices) comes through it. There is one implementation per way
// bytes arrive:
//
//   kind()        what it is                         memory()        fd()
//   "mapped"      a read-only mapping of a file      the mapping     the file's
//   "pread"       pread on a file, never mapped      empty           the file's
//   "memory"      bytes a caller lends (from_memory) those bytes     -1
//   "compressed"  a seekable zstd checkpoint, read   empty           -1
//                 through another ByteSource and
//                 served as its decompressed bytes
//                 (src/compress/compressed_source.hpp)
//
// A source whose bytes are in memory (memory() non-empty) lets File hand out
// zero-copy views; any other source is read with read() into buffers, and
// File::view() reports not_mapped for it.
//
// Adding a source (for example HTTP range requests, src/remote/): derive from
// ByteSource, implement kind(), size() and read(), override read_ranges() if
// several ranges are cheaper together than one by one (coalescing, parallel
// requests), and build the File with detail::file_from_source()
// (src/file/file_impl.hpp). Nothing in File changes: header parsing, views,
// loads, slices and every check work the same over any source.
//
// Thread safety: every const member function may be called from several
// threads at once (File's const functions are). Errors are values: a read
// never throws, never reads outside [0, size()), and reports a short or
// failed read as io_error (compressed sources: their own codes) with the
// offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "sft/result.hpp"
#include "sft_internal/regular_file.hpp"

namespace sft::detail {

// One range of a batched read: out.size() bytes at `offset` into `out`.
struct ReadRange {
  std::uint64_t offset = 0;
  std::span<std::byte> out;
};

class ByteSource {
 public:
  ByteSource() = default;
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;
  virtual ~ByteSource() = default;

  // A short, stable name of the implementation ("mapped", "pread", "memory",
  // "compressed", ...), for File::source_kind() and messages.
  virtual std::string_view kind() const noexcept = 0;
  // Bytes in the source (for a compressed source: decompressed bytes).
  virtual std::uint64_t size() const noexcept = 0;
  // Copy out.size() bytes at `offset` into `out`. A range that does not lie
  // within [0, size()) is invalid_argument; nothing is read then.
  virtual Result<void> read(std::uint64_t offset, std::span<std::byte> out) const = 0;
  // Several reads, as if read() were called for each in order; stops at the
  // first error. The default does exactly that; a source for which one batch
  // is cheaper than many calls (a remote source) overrides it.
  virtual Result<void> read_ranges(std::span<const ReadRange> ranges) const;
  // The whole source in memory, when it is (zero-copy views point into it);
  // empty otherwise.
  virtual std::span<const std::byte> memory() const noexcept { return {}; }
  // A descriptor of the underlying regular file, for I/O the caller
  // schedules itself; -1 when there is none.
  virtual int fd() const noexcept { return -1; }

 protected:
  // invalid_argument unless [offset, offset + n) lies within size().
  Result<void> check_range(std::uint64_t offset, std::uint64_t n) const;
};

// madvise hints for a mapping (OpenOptions::hint, populate).
struct MapOptions {
  enum class Hint : std::uint8_t { normal, sequential, random } hint = Hint::normal;
  bool populate = false;
};

// The sources of a regular file opened with open_regular_file(). Both own the
// descriptor. `path` is used in messages only.
std::unique_ptr<ByteSource> pread_source(RegularFile file);
Result<std::unique_ptr<ByteSource>> mapped_source(RegularFile file, const MapOptions& options,
                                                  const std::filesystem::path& path);
// A descriptor the caller keeps open for the source's lifetime.
std::unique_ptr<ByteSource> borrowed_fd_source(int fd, std::uint64_t size);
// Bytes the caller keeps alive and unchanged for the source's lifetime.
std::unique_ptr<ByteSource> memory_source(std::span<const std::byte> bytes);

}  // namespace sft::detail
