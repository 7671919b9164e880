// sft/compressed.hpp — seekable zstd checkpoints: compress, decompress, random access.
//
// A compressed checkpoint is a safetensors file cut into pieces of at most
// 4 MiB, each compressed as an independent zstd frame, followed by a seek
// table (the zstd "seekable format": a skippable frame listing every frame's
// compressed and decompressed size). Plain `zstd -d` turns it back into the
// original file byte for byte; sft reads it in place: File::open recognises
// one by its first four bytes, decompresses the header, and then decompresses
// only the frames a tensor read touches. docs/compression.md gives the exact
// layout.
//
// The byte-plane variant (CompressOptions::byte_planes) stores the two bytes
// of every 16-bit element (BF16, F16, I16, U16) in two separate planes inside
// each frame, which compresses BF16 weights about 12% smaller. Such a file
// starts with an 8-byte "SFTZ" prefix instead of a zstd frame, so `zstd -d`
// refuses it rather than producing scrambled bytes: only sft decompresses it.
//
// A compressed file is untrusted input. The seek table is checked against the
// file size and against Limits::max_frames / max_frame_bytes before anything
// is allocated from it; each frame is checked against its seek-table entry
// (and its own checksum) when it is decompressed. Errors: bad_seek_table (the
// table is missing, malformed or inconsistent with the file),
// compressed_truncated (the file or a frame ends early), compressed_corrupt (a
// frame that does not decode to what the table says, or fails its checksum),
// compressed_too_large (a frame beyond the limits), compressed_unsupported (a
// format version or flag this build does not know).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "sft/header.hpp"
#include "sft/limits.hpp"
#include "sft/result.hpp"

namespace sft {

class File;

// The most original bytes sft puts in one frame.
inline constexpr std::uint64_t max_compress_frame_bytes = std::uint64_t{4} << 20;

struct CompressOptions {
  // zstd level: 1 (fast) to 19 (small), 20 to 22 (ultra, much memory), or a
  // negative "fast" level; 0 means zstd's default (3). Outside zstd's range:
  // invalid_argument.
  int level = 3;
  // Original bytes per frame, 1 to max_compress_frame_bytes. Frames are also
  // cut where the data buffer starts, so that the header has frames of its own
  // and opening a checkpoint decompresses nothing but the header.
  std::uint64_t frame_bytes = max_compress_frame_bytes;
  // Frames compressed in parallel; 0 = one per hardware thread.
  unsigned threads = 0;
  // Split 16-bit tensors into byte planes (see above): smaller, but only sft
  // can decompress the result.
  bool byte_planes = false;
  // compress_file: fsync the file before renaming it over the target.
  bool durable = true;
};

// True when `prefix` (the first bytes of a file, at least 4) starts like a
// compressed checkpoint: a zstd frame or the byte-plane "SFTZ" prefix. Neither
// can start a safetensors file: read as a header length they exceed the
// reference's 100,000,000-byte limit.
bool is_compressed(std::span<const std::byte> prefix) noexcept;

// False when sft was built without zstd: every compressed operation then
// fails with compressed_unsupported.
bool compression_available() noexcept;

struct CompressStats {
  std::uint64_t original_bytes = 0;
  std::uint64_t compressed_bytes = 0;
  std::uint64_t frames = 0;
};

// Compress the safetensors file `in` (mapped, pread or itself compressed).
Result<std::vector<std::byte>> compress(const File& in, const CompressOptions& options = {});
// The same, written atomically to `out` (a temporary file renamed over it; on
// failure `out` is untouched and no temporary is left behind).
Result<CompressStats> compress_file(const File& in, const std::filesystem::path& out,
                                    const CompressOptions& options = {});

// Decompress the checkpoint at `in` to `out`, atomically; frames are
// decompressed in parallel (threads: 0 = one per hardware thread).
Result<void> decompress_file(const std::filesystem::path& in, const std::filesystem::path& out,
                             const Limits& limits = {}, unsigned threads = 0);

// One frame of a compressed checkpoint.
struct FrameInfo {
  std::uint64_t offset = 0;             // where its bytes start in the decompressed file
  std::uint64_t size = 0;               // decompressed bytes
  std::uint64_t compressed_offset = 0;  // where the frame starts in the compressed file
  std::uint64_t compressed_size = 0;
  std::uint32_t checksum = 0;           // low 32 bits of XXH64 of its bytes, if the table has checksums
};

// Random access to a compressed checkpoint, for tools that look at its frames.
// (To read tensors, open the checkpoint with File::open: it recognises a
// compressed file and serves its decompressed bytes through the same API as
// any other file.) open() reads and checks the seek table, then decompresses
// and parses the safetensors header (so byte-plane files can be decoded);
// read() decompresses the frames a range covers, in parallel when it covers
// several, keeping the last few frames it decoded for reads that stay within
// them. Every const member function may be called from several threads.
class CompressedReader {
 public:
  static Result<CompressedReader> open(const std::filesystem::path& path, const Limits& limits = {});
  // Read from a file descriptor that the caller keeps open (File does this).
  static Result<CompressedReader> from_fd(int fd, std::uint64_t file_size, const Limits& limits = {});
  // Read from bytes that the caller keeps alive and unchanged.
  static Result<CompressedReader> from_memory(std::span<const std::byte> bytes, const Limits& limits = {});

  CompressedReader(CompressedReader&&) noexcept;
  CompressedReader& operator=(CompressedReader&&) noexcept;
  CompressedReader(const CompressedReader&) = delete;
  CompressedReader& operator=(const CompressedReader&) = delete;
  ~CompressedReader();

  const Header& header() const noexcept;          // the decompressed file's header
  std::uint64_t size() const noexcept;            // bytes of the decompressed file
  std::uint64_t compressed_size() const noexcept; // bytes of the compressed file
  std::span<const FrameInfo> frames() const noexcept;
  bool byte_planes() const noexcept;

  // Copy out.size() decompressed bytes starting at `offset` (invalid_argument
  // if the range runs past size()).
  Result<void> read(std::uint64_t offset, std::span<std::byte> out) const;
  // Decode frame `index` (< frames().size()), check it against the seek table
  // and discard its bytes. Reads never decode frames of 0 bytes; whole-file
  // decompression checks them with this, so that it never silently drops
  // bytes that `zstd -d` would output.
  Result<void> check_frame(std::size_t index) const;
  // Decompressing threads for reads that cover several frames (0 = one per
  // hardware thread, the default). Safe while other threads read (each read
  // uses the value it finds when it starts).
  void set_threads(unsigned threads) const noexcept;

  // Frames decompressed so far (cache hits not counted): lets tests check that
  // reading one tensor decompresses only the frames it covers.
  std::uint64_t frames_decompressed() const noexcept;

 private:
  struct Impl;
  explicit CompressedReader(std::unique_ptr<Impl> impl) noexcept;
  template <class R>
  static Result<CompressedReader> wrap(R source);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sft
