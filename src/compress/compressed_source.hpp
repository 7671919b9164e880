// src/compress/compressed_source.hpp — a compressed checkpoint as a source of its decompressed bytes (internal).
//
// The decoder of the seekable zstd format (docs/compression.md), presented as
// a ByteSource: it reads the compressed bytes from another ByteSource (a
// file read with pread, or memory) and serves the decompressed file. File
// owns one when File::open recognises a compressed checkpoint, and the public
// CompressedReader (sft/compressed.hpp) wraps one.
//
// Layering: this sits below File (src/io byte sources <- this <- src/file);
// it knows nothing of File. The encoder (compress(), compress_file()) sits
// above File and reads its input through it.
//
// open() reads and checks the seek table, then decompresses and parses the
// safetensors header (byte-plane files need the tensors' layout to decode).
// read() decompresses the frames a range covers, in parallel when it covers
// several, keeping the last few frames it decoded for reads that stay within
// them. Every const member function may be called from several threads.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "io/byte_source.hpp"
#include "sft/compressed.hpp"
#include "sft/header.hpp"
#include "sft/limits.hpp"
#include "sft/result.hpp"

namespace sft::detail {

class CompressedSource final : public ByteSource {
 public:
  // `raw`: the compressed file's bytes.
  static Result<std::unique_ptr<CompressedSource>> open(std::unique_ptr<ByteSource> raw, const Limits& limits);
  ~CompressedSource() override;

  std::string_view kind() const noexcept override { return "compressed"; }
  std::uint64_t size() const noexcept override;  // decompressed bytes
  Result<void> read(std::uint64_t offset, std::span<std::byte> out) const override;

  const Header& header() const noexcept;  // the decompressed file's header
  // Moves the header out (File keeps its own copy; the source needs only the layout it derived from it).
  Header take_header() noexcept;
  std::uint64_t compressed_size() const noexcept;
  std::span<const FrameInfo> frames() const noexcept;
  bool byte_planes() const noexcept;
  // See CompressedReader::check_frame.
  Result<void> check_frame(std::size_t index) const;
  // Decompressing threads for reads that cover several frames (0 = one per
  // hardware thread). Safe to call while other threads read: a read uses the
  // value it finds when it starts.
  void set_threads(unsigned threads) noexcept;
  std::uint64_t frames_decompressed() const noexcept;

 private:
  struct State;
  explicit CompressedSource(std::unique_ptr<State> state) noexcept;
  std::unique_ptr<State> s_;
};

}  // namespace sft::detail
