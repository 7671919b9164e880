// sft/writer.hpp — writing safetensors files: byte-identical, streaming, atomic.
//
// A Writer collects tensors (name, dtype, shape and, optionally, their bytes)
// and metadata, then lays them out exactly as the reference implementation
// does:
//
//   * tensors sorted by dtype in the reference's enum order, largest first
//     (U64, I64, F64, C64, F32, ..., F4, BOOL: descending DType value), then by
//     name bytewise; data offsets tile the buffer from 0 in that order;
//   * compact JSON, `__metadata__` first when there is metadata (keys sorted
//     bytewise, so the output is deterministic: the reference's own order of
//     several keys is random), then one `"name":{"dtype":..,"shape":[..],
//     "data_offsets":[b,e]}` per tensor;
//   * strings escaped as serde_json does: \" \\ \b \t \n \f \r, other control
//     characters as \u00xx (lower-case hex), everything else raw UTF-8;
//   * the header padded with spaces so that 8 + N is a multiple of 8 (or of
//     WriterOptions::alignment).
//
// So for the same tensors and at most one metadata key, serialize() equals the
// reference's `serialize` / `save_file` output byte for byte.
//
// Two ways to supply bytes:
//   * add(name, dtype, shape, bytes) borrows the caller's bytes (they must stay
//     alive and unchanged until the write that uses them returns);
//   * declare(name, dtype, shape) reserves the tensor; its bytes come later,
//     through a callback (write_file with a TensorSource) or positional writes
//     on a StreamingWriter (begin_file), in any order. Memory is then bounded by
//     the caller's buffers, whatever the size of the checkpoint.
//
// Files are written atomically: a temporary file in the target's directory
// (O_EXCL, unique name), large positional writes, fsync, rename over the
// target, fsync of the directory. On any failure the temporary is removed and
// the target is untouched; a file that another process has mapped is never
// written in place (the rename gives the new bytes a new inode).
//
// Bad input is refused before anything is written, each with its own code:
// duplicate_name, invalid_name (not UTF-8), reserved_name ("__metadata__"),
// data_size_mismatch, size_overflow, misaligned_subbyte (F4/F6 sizes that are
// not whole bytes), limit_exceeded (rank, name length, tensor count beyond
// WriterOptions::limits), header_too_large, bad_alignment.
//
// Deliberate differences from the reference (see docs/api.md): "__metadata__"
// is refused as a tensor name (the reference writes a file it cannot read), and
// an empty, present metadata map with no tensors is written as valid JSON
// (the reference writes `{},"__metadata__":{}}`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string_view>

#include "sft/dtype.hpp"
#include "sft/header.hpp"
#include "sft/limits.hpp"
#include "sft/result.hpp"

namespace sft {

struct WriterOptions {
  // The data buffer starts at a multiple of this many bytes from the start of
  // the file (the header is padded with spaces). 8 is the reference's layout;
  // 64 or 4096 suit vector loads and direct I/O. Any power of two from 8 to
  // 1 MiB is accepted, anything else is bad_alignment. Every such file is one
  // the reference reads.
  std::uint64_t alignment = 8;
  // Keep tensors (and metadata keys) in the order they were added instead of
  // the reference's order. Still a valid file that every reader accepts, but
  // not byte-identical to what the reference would write.
  bool keep_insertion_order = false;
  // fsync the file before the rename and the directory after it. Turning it off
  // keeps the rename atomic against crashes of this process, not of the machine.
  bool durable = true;
  // The output must be readable under these limits: header size, tensor count,
  // rank and name length are checked before anything is written.
  Limits limits{};
  // For tests only: the file I/O behaves as if the disk filled up after this
  // many bytes had been written to the temporary file (the write that crosses
  // the line is short, the next one fails with ENOSPC).
  std::uint64_t fail_after_bytes = ~std::uint64_t{0};
};

// The layout of a file: the tensors in data order with their offsets, and the
// 8-byte length prefix + JSON header + padding. A WriterPlan owns the names and
// shapes its TensorInfo entries point to, so it is move-only.
class WriterPlan {
 public:
  WriterPlan() noexcept;  // an empty plan: no tensors, no preamble
  WriterPlan(WriterPlan&&) noexcept;
  WriterPlan& operator=(WriterPlan&&) noexcept;
  WriterPlan(const WriterPlan&) = delete;
  WriterPlan& operator=(const WriterPlan&) = delete;
  ~WriterPlan();

  // Tensors in data order (ascending offsets).
  std::span<const TensorInfo> tensors() const noexcept;
  // Position of a tensor in tensors(), or npos.
  static constexpr std::size_t npos = ~std::size_t{0};
  std::size_t index_of(std::string_view name) const noexcept;

  // The first data_start() bytes of the file: 8-byte N, the JSON header, padding.
  std::span<const std::byte> preamble() const noexcept;
  std::uint64_t header_size() const noexcept { return data_start() - 8; }  // N
  std::uint64_t data_start() const noexcept { return preamble().size(); }
  std::uint64_t data_size() const noexcept;
  std::uint64_t file_size() const noexcept { return data_start() + data_size(); }

 private:
  friend class Writer;
  struct Impl;  // src/write/writer_impl.hpp
  std::unique_ptr<Impl> impl_;
};

class StreamingWriter;

// Handed to a TensorSource: takes one tensor's bytes, in order, in chunks.
class TensorSink {
 public:
  // Append the next bytes of the tensor (data_size_mismatch past its end).
  Result<void> write(std::span<const std::byte> bytes);
  // Bytes the tensor still needs.
  std::uint64_t remaining() const noexcept;

 private:
  friend class Writer;
  TensorSink(StreamingWriter& w, std::size_t index) noexcept : writer_(w), index_(index) {}
  StreamingWriter& writer_;
  std::size_t index_;
};

// Called once per declared tensor, in data order, to produce its bytes.
// Returning an error aborts the write with that error.
using TensorSource = std::function<Result<void>(const TensorInfo&, TensorSink&)>;

class Writer {
 public:
  explicit Writer(WriterOptions options = {}) noexcept;
  Writer(Writer&&) noexcept;
  Writer& operator=(Writer&&) noexcept;
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer();

  // A tensor with its bytes, borrowed until the write that uses them returns.
  // Errors: duplicate_name, invalid_name, reserved_name, limit_exceeded,
  // size_overflow, misaligned_subbyte, data_size_mismatch.
  Result<void> add(std::string_view name, DType dtype, std::span<const std::uint64_t> shape,
                   std::span<const std::byte> bytes);
  Result<void> add(std::string_view name, DType dtype, std::initializer_list<std::uint64_t> shape,
                   std::span<const std::byte> bytes) {
    return add(name, dtype, std::span<const std::uint64_t>(shape.begin(), shape.size()), bytes);
  }
  // A tensor whose bytes come later (TensorSource or StreamingWriter).
  Result<void> declare(std::string_view name, DType dtype, std::span<const std::uint64_t> shape);
  Result<void> declare(std::string_view name, DType dtype, std::initializer_list<std::uint64_t> shape) {
    return declare(name, dtype, std::span<const std::uint64_t>(shape.begin(), shape.size()));
  }

  // Set (or replace) one metadata entry. Key and value must be UTF-8
  // (invalid_name otherwise).
  Result<void> set_metadata(std::string_view key, std::string_view value);
  // Write `__metadata__` even when no key is set (an empty map), as the
  // reference does when given `metadata={}`.
  void enable_metadata() noexcept { has_metadata_ = true; }

  std::size_t size() const noexcept;
  const WriterOptions& options() const noexcept { return options_; }

  // The layout: errors header_too_large, size_overflow, bad_alignment.
  Result<WriterPlan> plan() const;

  // The whole file in memory; missing_data if a tensor was only declared.
  Result<std::vector<std::byte>> serialize() const;

  // The whole file, atomically; missing_data if a tensor was only declared.
  Result<void> write_file(const std::filesystem::path& path) const;
  // Same, asking `source` for the bytes of every declared tensor, in data order.
  Result<void> write_file(const std::filesystem::path& path, const TensorSource& source) const;

  // Start a streaming write: the temporary file gets the header and the bytes
  // of every added tensor now; the declared ones are written through the
  // returned StreamingWriter in any order, then commit() renames the file.
  Result<StreamingWriter> begin_file(const std::filesystem::path& path) const;

 private:
  struct Impl;  // src/write/writer_impl.hpp; created by the first add / declare / set_metadata
  const Impl& state() const;
  Result<void> insert(std::string_view name, DType dtype, std::span<const std::uint64_t> shape,
                      const std::byte* data, std::size_t data_size, bool has_bytes);

  WriterOptions options_;
  bool has_metadata_ = false;
  std::unique_ptr<Impl> impl_;
};

// An open streaming write. Move-only; destroying it without commit() removes
// the temporary file and leaves the target untouched.
//
// Argument errors (not_found for an unknown name, data_size_mismatch for bytes
// past a tensor's end, writer_state for a tensor whose bytes came with add())
// write nothing and leave the stream usable. An I/O failure aborts the stream:
// the temporary is removed and every later call returns writer_state.
class StreamingWriter {
 public:
  StreamingWriter(StreamingWriter&&) noexcept;
  StreamingWriter& operator=(StreamingWriter&&) noexcept;
  StreamingWriter(const StreamingWriter&) = delete;
  StreamingWriter& operator=(const StreamingWriter&) = delete;
  ~StreamingWriter();

  const WriterPlan& plan() const noexcept;

  // Append bytes to a tensor: each call continues where the previous write()
  // to that tensor ended.
  Result<void> write(std::string_view name, std::span<const std::byte> bytes);
  // Write bytes at `offset` within the tensor's bytes (any order; rewriting a
  // range is allowed).
  Result<void> write_at(std::string_view name, std::uint64_t offset, std::span<const std::byte> bytes);
  // The same, by position in plan().tensors().
  Result<void> write_at(std::size_t index, std::uint64_t offset, std::span<const std::byte> bytes);

  // Bytes of the tensor at `index` (or of all tensors) not written yet.
  std::uint64_t remaining(std::size_t index) const noexcept;
  std::uint64_t remaining() const noexcept;

  // Check every byte was written (missing_data names the first tensor that is
  // not complete, and aborts), then fsync, rename over the target, fsync the
  // directory.
  Result<void> commit();
  // Remove the temporary file; the target is untouched. Idempotent.
  void abort() noexcept;

 private:
  friend class Writer;
  friend class TensorSink;
  struct Impl;
  explicit StreamingWriter(std::unique_ptr<Impl> impl) noexcept;
  Result<void> append(std::size_t index, std::span<const std::byte> bytes);
  Error closed() const;  // the writer_state error of a stream that takes no more writes
  std::unique_ptr<Impl> impl_;
};

}  // namespace sft
