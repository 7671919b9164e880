// src/file/file_impl.hpp — what a File holds, and building one over any byte source (internal).
//
// File = one ByteSource (src/io/byte_source.hpp) + the Header parsed from it.
// file_from_source() is how a new kind of source becomes a File: the remote
// (HTTP) source, for instance, constructs itself and hands itself over here;
// the header is parsed from memory() when the source has it, else read with
// read() into a bounded, padded buffer (src/header/header_read.hpp).
#pragma once

#include <memory>

#include "io/byte_source.hpp"
#include "sft/file.hpp"
#include "sft_internal/regular_file.hpp"

namespace sft {

struct File::Impl {
  std::unique_ptr<detail::ByteSource> source;
  Header header;
  ReadMode mode = ReadMode::mmap;
  std::span<const std::byte> memory;  // source->memory(), cached
};

namespace detail {

struct FileAccess {
  // A File of `source` and `header` (parsed from it).
  static File make(std::unique_ptr<ByteSource> source, Header header);
  static const ByteSource& source(const File& f) noexcept { return *f.impl_->source; }
};

// A File over `source`, its header parsed and validated under `limits`.
// File::mode() is mmap for a source in memory, pread for any other.
Result<File> file_from_source(std::unique_ptr<ByteSource> source, const Limits& limits);
// The same with a header already parsed from the source (the compressed
// source parses it to learn the layout of byte-plane files).
Result<File> file_from_source(std::unique_ptr<ByteSource> source, Header header);

// File::open for a file already opened (open_regular_file or
// open_regular_file_at): `path` names it in messages and the mapping.
Result<File> open_file(RegularFile file, const std::filesystem::path& path, const OpenOptions& options);

}  // namespace detail

}  // namespace sft
