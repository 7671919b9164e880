#include "header/name_index.hpp"

#include <bit>
#include <chrono>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sft::detail {

namespace {
// A per-process seed, so that a hostile file cannot be built in advance to
// make every name collide in the index (hash flooding). Address-space layout
// randomisation and the clock make it unpredictable without a syscall that
// could fail.
std::uint64_t process_seed() noexcept {
  static const std::uint64_t seed = [] {
    static int anchor;
    auto t = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return XXH3_64bits_withSeed(&t, sizeof t, reinterpret_cast<std::uintptr_t>(&anchor));
  }();
  return seed;
}
}  // namespace

std::uint64_t hash_name(std::string_view name) noexcept {
  return XXH3_64bits_withSeed(name.data(), name.size(), process_seed());
}

std::size_t build_name_index(std::span<const TensorInfo> tensors, std::vector<std::uint32_t>& table) {
  // Load factor <= 1/2 keeps probe sequences short; positions fit in u32
  // because the header (<= 100 MB by default) cannot hold 2^32 entries of >= 2 bytes.
  std::size_t cap = std::bit_ceil(std::max<std::size_t>(8, tensors.size() * 2));
  table.assign(cap, 0);
  const std::size_t mask = cap - 1;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    std::string_view name = tensors[i].name;
    std::size_t slot = hash_name(name) & mask;
    while (std::uint32_t e = table[slot]) {
      if (tensors[e - 1].name == name) return i;
      slot = (slot + 1) & mask;
    }
    table[slot] = static_cast<std::uint32_t>(i + 1);
  }
  return no_duplicate;
}

std::size_t lookup_name(std::span<const TensorInfo> tensors, std::span<const std::uint32_t> table,
                        std::string_view name) noexcept {
  if (table.empty()) return no_duplicate;
  const std::size_t mask = table.size() - 1;
  std::size_t slot = hash_name(name) & mask;
  while (std::uint32_t e = table[slot]) {
    if (tensors[e - 1].name == name) return e - 1;
    slot = (slot + 1) & mask;
  }
  return no_duplicate;
}

}  // namespace sft::detail

namespace sft {

std::size_t NameHash::operator()(std::string_view s) const noexcept {
  return static_cast<std::size_t>(detail::hash_name(s));
}

}  // namespace sft
