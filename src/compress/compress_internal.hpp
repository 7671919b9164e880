// src/compress/compress_internal.hpp — the compressor behind compress() and compress_file() (internal).
#pragma once

#include <cstddef>
#include <functional>
#include <span>

#include "sft/compressed.hpp"
#include "sft/result.hpp"

namespace sft::detail {

// Receives the compressed file's bytes in order.
using ByteSink = std::function<Result<void>(std::span<const std::byte>)>;

// Compress `in` (header region and data buffer cut into frames, see
// compressed_format.hpp) and pass the result, seek table included, to `sink`.
Result<void> compress_to(const File& in, const CompressOptions& options, const ByteSink& sink);

}  // namespace sft::detail
