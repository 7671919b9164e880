// sft/limits.hpp — resource limits applied while parsing untrusted headers.
//
// The defaults accept exactly what the reference implementation accepts: its
// only hard limits are the 100,000,000-byte header and serde_json's recursion
// limit (127 levels of nesting, the top-level object being level 1). The other
// fields default to "no limit beyond what the header size already implies";
// lower them to bound work for a service that opens files from strangers.
#pragma once

#include <cstdint>

namespace sft {

struct Limits {
  std::uint64_t max_header_bytes = 100'000'000;  // N, the JSON header length
  std::uint64_t max_tensors = ~std::uint64_t{0};
  std::uint64_t max_rank = ~std::uint64_t{0};          // entries in one shape
  std::uint64_t max_name_bytes = ~std::uint64_t{0};    // bytes of one tensor name (after unescaping)
  std::uint32_t max_depth = 127;                       // JSON nesting, top-level object = 1
};

// The reference's hard limit on N.
inline constexpr std::uint64_t reference_max_header_bytes = 100'000'000;

}  // namespace sft
