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

  // Seekable zstd checkpoints (sft/compressed.hpp, docs/compression.md). sft
  // writes frames of at most 4 MiB; frames from other seekable writers may be
  // larger, up to this. Buffers are sized from seek-table entries only after
  // they are checked against these limits and against the file's real size.
  std::uint64_t max_frame_bytes = std::uint64_t{16} << 20;  // decompressed bytes of one frame
  std::uint64_t max_frames = std::uint64_t{1} << 24;        // entries in the seek table
};

// The reference's hard limit on N.
inline constexpr std::uint64_t reference_max_header_bytes = 100'000'000;

}  // namespace sft
