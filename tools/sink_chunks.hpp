// tools/sink_chunks.hpp — feeding a Writer's TensorSink piece by piece, so a
// progress bar moves while a large tensor is written.
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "command.hpp"
#include "header_loader.hpp"
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

// Set every metadata entry on `w`; false (after printing the error against
// `path`) if the Writer refuses one.
inline bool set_all_metadata(Writer& w, const std::vector<MetadataEntry>& metadata, const std::string& path) {
  for (const auto& m : metadata)
    if (auto r = w.set_metadata(m.key, m.value); !r) {
      err(error_line(path, r.error()));
      return false;
    }
  return true;
}

}  // namespace sft::cli
