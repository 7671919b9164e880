// The host side of sft's digest (sft/gpu/checksum.hpp). This is a second,
// independent implementation of the definition in docs/gpu.md; the tests hold
// it against the checksum kernel on every backend.
#include "sft/gpu/checksum.hpp"

#include <bit>
#include <cstring>

namespace sft::gpu {
namespace {

constexpr std::uint64_t k1 = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t k2 = 0xBF58476D1CE4E5B9ull;
constexpr std::uint64_t k3 = 0x94D049BB133111EBull;

constexpr std::uint64_t finalize(std::uint64_t x) noexcept {
  x = (x ^ (x >> 30)) * k2;
  x = (x ^ (x >> 27)) * k3;
  return x ^ (x >> 31);
}

constexpr std::uint64_t absorb(std::uint64_t lane, std::uint64_t word) noexcept {
  return std::rotl(lane ^ (word * k2), 29) * k3;
}

std::uint64_t le64(const std::byte* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

}  // namespace

std::uint64_t block_hash(std::span<const std::byte> block, std::uint64_t seed) noexcept {
  const std::uint64_t len = block.size();
  std::uint64_t lanes[4] = {seed + k1, seed + 2 * k1, seed + 3 * k1, seed + 4 * k1};
  std::size_t pos = 0;
  for (; pos + 32 <= block.size(); pos += 32)
    for (int j = 0; j < 4; ++j) lanes[j] = absorb(lanes[j], le64(block.data() + pos + 8 * j));
  // The tail: whole or zero-padded words, the first into lane 0.
  for (int j = 0; pos < block.size(); ++j, pos += 8) {
    std::byte word[8] = {};
    std::memcpy(word, block.data() + pos, std::min<std::size_t>(8, block.size() - pos));
    lanes[j] = absorb(lanes[j], le64(word));
  }
  std::uint64_t h = len * k1;
  for (std::uint64_t lane : lanes) h = (h ^ finalize(lane)) * k2;
  return finalize(h ^ seed);
}

void block_hashes(std::span<const std::byte> data, std::uint64_t seed, std::span<std::uint64_t> out) noexcept {
  if (out.size() != checksum_block_count(data.size())) return;
  for (std::size_t b = 0; b < out.size(); ++b) {
    std::size_t begin = b * checksum_block_size;
    out[b] = block_hash(data.subspan(begin, std::min<std::size_t>(checksum_block_size, data.size() - begin)), seed);
  }
}

std::uint64_t digest_from_level0(std::vector<std::uint64_t> level, std::uint64_t total_bytes) {
  std::uint64_t seed = 1;
  while (level.size() > 1) {
    std::vector<std::byte> bytes(level.size() * 8);
    for (std::size_t i = 0; i < level.size(); ++i)
      for (int b = 0; b < 8; ++b) bytes[8 * i + b] = static_cast<std::byte>(level[i] >> (8 * b));
    std::vector<std::uint64_t> next(checksum_block_count(bytes.size()));
    block_hashes(bytes, seed++, next);
    level = std::move(next);
  }
  std::uint64_t top = level.empty() ? 0 : level[0];
  return finalize(top ^ (total_bytes * k2));
}

std::uint64_t digest(std::span<const std::byte> data) {
  std::vector<std::uint64_t> level0(checksum_block_count(data.size()));
  block_hashes(data, 0, level0);
  return digest_from_level0(std::move(level0), data.size());
}

}  // namespace sft::gpu
