// src/compress/byte_planes.hpp — the byte-plane transform of compressed checkpoints (internal).
//
// BF16 weights compress poorly when their two bytes are interleaved: the high
// byte (sign and most of the exponent) is highly repetitive, the low byte
// nearly random, and zstd's literal coder sees one mixed distribution. The
// byte-plane variant regroups, within each frame, the bytes of whole 16-bit
// elements into a plane of low bytes and a plane of high bytes. The exact
// rule (docs/compression.md, "Byte planes"):
//
//   For a frame covering file bytes [a, b), a segment is the part of a 16-bit
//   tensor (BF16, F16, I16, U16) that lies inside [a, b), shrunk to whole
//   elements of that tensor (elements cut by a frame boundary stay out).
//   The stored frame is R ++ L ++ H: R the frame's bytes outside every
//   segment, in file order; L byte 0 of every element of every segment, in
//   file order; H byte 1 of the same elements.
//
// The transform keeps the frame's length, and only needs the header to undo.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sft/header.hpp"

namespace sft::detail {

struct FileRange {
  std::uint64_t begin = 0;  // file offsets
  std::uint64_t end = 0;
};

// The file ranges of every 16-bit tensor of at least one element, in file order.
std::vector<FileRange> sixteen_bit_ranges(const Header& header);

// The segments of the frame [a, b) as offsets relative to a, appended to
// `out` (cleared first). `ranges` comes from sixteen_bit_ranges().
void plane_segments(std::span<const FileRange> ranges, std::uint64_t a, std::uint64_t b,
                    std::vector<FileRange>& out);

// frame -> R ++ L ++ H, and back. `in` and `out` have the same size and do not overlap.
void planes_split(std::span<const std::byte> in, std::span<std::byte> out, std::span<const FileRange> segments) noexcept;
void planes_join(std::span<const std::byte> in, std::span<std::byte> out, std::span<const FileRange> segments) noexcept;

}  // namespace sft::detail
