// tests/support/file_internals.hpp — what tests may see of a File's byte source.
//
// Tests of the compressed source count the frames it decodes; the public API
// does not name the compression layer, so they reach the source here.
#pragma once

#include "compress/compressed_source.hpp"
#include "file/file_impl.hpp"
#include "sft/file.hpp"

namespace sft::test {

// The File's byte source, e.g. to compare kind() with source_kind().
inline const detail::ByteSource& byte_source(const File& f) { return detail::FileAccess::source(f); }

// The decoder of a compressed File, or nullptr for any other source.
inline const detail::CompressedSource* decoder(const File& f) {
  return dynamic_cast<const detail::CompressedSource*>(&byte_source(f));
}

}  // namespace sft::test
