// sft/gpu/checksum.hpp — sft's 64-bit digest of a byte range, on the host.
//
// The digest is built to be computed in parallel on a device and checked on
// the host against the bytes of a file (the checksum kernel computes the same
// values; docs/gpu.md defines them):
//   - the bytes are cut into blocks of 4096 (the last one shorter; an empty
//     range is one empty block), and each block gets a 64-bit block hash with
//     seed 0 ("level 0");
//   - the array of level-0 hashes, as little-endian bytes, is hashed the same
//     way with seed 1, and so on, until one hash is left;
//   - the digest mixes that hash with the total length.
// It detects corruption (a flipped bit, a misplaced or missing block); it is
// not a cryptographic hash and is not meant to resist a forger.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sft::gpu {

inline constexpr std::uint64_t checksum_block_size = 4096;

// max(1, ceil(n / 4096)): the number of level-0 hashes of n bytes.
constexpr std::uint64_t checksum_block_count(std::uint64_t n) noexcept {
  return n == 0 ? 1 : n / checksum_block_size + (n % checksum_block_size != 0);
}

// The hash of one block of at most 4096 bytes.
std::uint64_t block_hash(std::span<const std::byte> block, std::uint64_t seed) noexcept;

// The level-`seed` hashes of every block of `data`; `out` must hold exactly
// checksum_block_count(data.size()) values (nothing is written otherwise).
void block_hashes(std::span<const std::byte> data, std::uint64_t seed, std::span<std::uint64_t> out) noexcept;

// The digest of `total_bytes` bytes whose level-0 hashes are `level0`
// (checksum_block_count(total_bytes) of them).
std::uint64_t digest_from_level0(std::vector<std::uint64_t> level0, std::uint64_t total_bytes);

// The digest of `data`.
std::uint64_t digest(std::span<const std::byte> data);

}  // namespace sft::gpu
