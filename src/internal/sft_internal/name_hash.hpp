// src/internal/sft_internal/name_hash.hpp — the hash for tables keyed by names from untrusted files (internal).
//
// std::hash has a fixed seed, and libstdc++'s (a multiply-xor per 8-byte
// block) can be inverted block by block: anyone can compute any number of
// distinct names with one std::hash value. An std::unordered_set or map
// filled with such names from a file degrades to a scan of every earlier name
// per insertion, and a 100 MB header to hours of work. NameHash hashes with
// xxHash's XXH3 and a seed chosen per process, which a file cannot be built
// against in advance. Use it for every hash table keyed by tensor names,
// metadata keys or other strings read from a file.
#pragma once

#include <cstddef>
#include <string_view>

namespace sft {

// Implemented in src/header/name_index.cpp. Internal since sft 0.1: no public
// header needs it (the Writer keeps its tables behind a private implementation).

struct NameHash {
  std::size_t operator()(std::string_view s) const noexcept;
};

}  // namespace sft
