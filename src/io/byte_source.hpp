// src/io/byte_source.hpp — positional reads from a file descriptor or from memory (internal).
//
// The compressed reader reads its seek table and frames through this, whether
// the checkpoint came from a path, a descriptor that File keeps open, or
// memory. Reads of a descriptor use pread, so a file truncated by another
// process yields io_error rather than SIGBUS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

#include "sft/result.hpp"

namespace sft::detail {

// pread exactly out.size() bytes at `offset`; a short read (the file shrank)
// is io_error naming the offset.
Result<void> pread_exact(int fd, std::uint64_t offset, std::span<std::byte> out);

class ByteSource {
 public:
  ByteSource() = default;
  // Open `path` read-only (a regular file); the source owns the descriptor.
  static Result<ByteSource> open(const std::filesystem::path& path);
  // Borrow a descriptor the caller keeps open.
  static ByteSource borrow_fd(int fd, std::uint64_t size) noexcept;
  // Borrow bytes the caller keeps alive.
  static ByteSource memory(std::span<const std::byte> bytes) noexcept;

  ByteSource(ByteSource&& other) noexcept;
  ByteSource& operator=(ByteSource&& other) noexcept;
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;
  ~ByteSource();

  std::uint64_t size() const noexcept { return size_; }
  // Copy out.size() bytes at `offset`; the caller has checked the range
  // against size() (a range past it is io_error).
  Result<void> read(std::uint64_t offset, std::span<std::byte> out) const;

 private:
  int fd_ = -1;
  bool owned_ = false;
  const std::byte* mem_ = nullptr;
  std::uint64_t size_ = 0;
};

}  // namespace sft::detail
