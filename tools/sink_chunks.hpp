// tools/sink_chunks.hpp — feeding a Writer's TensorSink piece by piece, so a
// progress bar moves while a large tensor is written.
#pragma once

#include <algorithm>
#include <span>

#include "progress.hpp"
#include "sft/writer.hpp"

namespace sft::cli {

inline constexpr std::size_t kSinkChunk = std::size_t{16} << 20;

inline Result<void> write_in_chunks(std::span<const std::byte> bytes, TensorSink& sink, Progress& progress) {
  for (std::size_t at = 0; at < bytes.size(); at += kSinkChunk) {
    auto part = bytes.subspan(at, std::min(kSinkChunk, bytes.size() - at));
    if (auto r = sink.write(part); !r) return r;
    progress.add(part.size());
  }
  return {};
}

}  // namespace sft::cli
