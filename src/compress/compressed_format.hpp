// src/compress/compressed_format.hpp — the on-disk layout of compressed checkpoints (internal).
//
// docs/compression.md is the normative description; this file is its code:
//
//   [SFTZ prefix, 8 bytes, byte-plane files only]
//   frame 0 ... frame n-1          zstd frames (or skippable frames of 0 bytes)
//   seek table                     skippable frame, magic 0x184D2A5E:
//     u32 magic, u32 frame size,
//     n x { u32 compressed size, u32 decompressed size [, u32 checksum] },
//     footer: u32 n, u8 descriptor (bit 7: checksums; bits 2-6 must be 0),
//             u32 0x8F92EAB1
//
// All integers little-endian. The prefix is "SFTZ", u8 version (1), u8 flags
// (bit 0: 16-bit byte planes; others must be 0), u16 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "io/byte_source.hpp"
#include "sft/compressed.hpp"
#include "sft/limits.hpp"
#include "sft/result.hpp"

namespace sft::detail {

inline constexpr std::uint32_t zstd_frame_magic = 0xFD2FB528u;        // bytes 28 B5 2F FD
inline constexpr std::uint32_t skippable_magic_mask = 0xFFFFFFF0u;
inline constexpr std::uint32_t skippable_magic_base = 0x184D2A50u;    // 0x184D2A50 .. 0x184D2A5F
inline constexpr std::uint32_t seek_table_frame_magic = 0x184D2A5Eu;
inline constexpr std::uint32_t seekable_footer_magic = 0x8F92EAB1u;
inline constexpr std::size_t seek_footer_bytes = 9;
inline constexpr std::size_t skippable_header_bytes = 8;
inline constexpr std::uint32_t planes_prefix_magic = 0x5A544653u;     // "SFTZ"
inline constexpr std::size_t planes_prefix_bytes = 8;
inline constexpr std::uint8_t planes_prefix_version = 1;
inline constexpr std::uint8_t planes_flag_16bit = 1;
inline constexpr std::uint8_t descriptor_checksums = 0x80;
inline constexpr std::uint8_t descriptor_reserved = 0x7C;

inline std::uint32_t load_le32(const std::byte* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
inline void store_le32(std::byte* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}
inline bool is_skippable_magic(std::uint32_t m) noexcept { return (m & skippable_magic_mask) == skippable_magic_base; }

// The 8-byte prefix of byte-plane files.
std::vector<std::byte> encode_planes_prefix();

// The seek-table frame for `frames` (compressed and decompressed sizes must
// fit in 32 bits; sft's frames always do).
std::vector<std::byte> encode_seek_table(std::span<const FrameInfo> frames, bool with_checksums);

struct SeekTable {
  std::vector<FrameInfo> frames;
  bool checksums = false;
  bool byte_planes = false;
  std::uint64_t frames_begin = 0;  // 0, or 8 after the SFTZ prefix
  std::uint64_t frames_end = 0;    // where the seek table frame starts
  std::uint64_t total = 0;         // decompressed bytes
};

// Read and check the prefix and the seek table of `src`: every entry against
// the limits, their sum against the file's real layout. The frames themselves
// are checked only when decompressed.
Result<SeekTable> read_seek_table(const ByteSource& src, const Limits& limits);

}  // namespace sft::detail
