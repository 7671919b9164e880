// sft/header.hpp — the parsed, validated safetensors header.
//
// parse_header() turns the first 8 + N bytes of a file into a Header: every
// tensor's name, dtype, shape and data offsets, sorted by offset, plus the
// optional __metadata__ map. Everything in a Header has been checked against
// the rules of docs/format.md, so a consumer may index the data buffer with
// data_offsets without further checks: begin <= end <= data_size() always holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sft/dtype.hpp"
#include "sft/limits.hpp"
#include "sft/result.hpp"

namespace sft {

struct DataOffsets {
  std::uint64_t begin = 0;  // relative to the start of the data buffer (file offset 8 + N)
  std::uint64_t end = 0;
  friend bool operator==(const DataOffsets&, const DataOffsets&) = default;
};

// One tensor entry. `name` and `shape` view storage owned by the Header they come
// from: a TensorInfo is valid as long as that Header is alive and unmodified.
struct TensorInfo {
  std::string_view name;               // raw bytes after JSON unescaping (may hold NUL)
  DType dtype = DType::U8;
  std::span<const std::uint64_t> shape;
  DataOffsets data_offsets;

  std::uint64_t byte_size() const noexcept { return data_offsets.end - data_offsets.begin; }
  // Product of the shape (1 for a scalar). Cannot overflow for a validated entry.
  std::uint64_t element_count() const noexcept {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  std::size_t rank() const noexcept { return shape.size(); }
};

// A field of a tensor entry other than dtype / shape / data_offsets. The
// reference ignores such fields and so does sft; strict validation reports them.
struct UnknownField {
  std::string tensor;
  std::string field;
};

struct MetadataEntry {
  std::string key;
  std::string value;
};

class Header {
 public:
  Header() = default;
  Header(const Header& other);
  Header& operator=(const Header& other);
  Header(Header&&) noexcept = default;
  Header& operator=(Header&&) noexcept = default;
  ~Header() = default;

  // Tensors in data order: ascending (begin, end).
  std::span<const TensorInfo> tensors() const noexcept { return tensors_; }
  std::size_t size() const noexcept { return tensors_.size(); }
  bool empty() const noexcept { return tensors_.empty(); }

  // O(1) expected lookup by exact name bytes; nullptr if absent.
  const TensorInfo* find(std::string_view name) const noexcept;

  // __metadata__: absent and null both read as has_metadata() == false.
  bool has_metadata() const noexcept { return has_metadata_; }
  // Entries in the order they appear in the file.
  const std::vector<MetadataEntry>& metadata() const noexcept { return metadata_; }
  // The value of one metadata key, or nullptr.
  const std::string* metadata_value(std::string_view key) const noexcept;

  // Fields of tensor entries that sft ignored (for `sft validate --strict`).
  const std::vector<UnknownField>& unknown_fields() const noexcept { return unknown_fields_; }

  std::uint64_t header_size() const noexcept { return header_size_; }   // N
  std::uint64_t data_start() const noexcept { return 8 + header_size_; } // file offset of the data buffer
  std::uint64_t data_size() const noexcept { return data_size_; }       // bytes in the data buffer
  std::uint64_t file_size() const noexcept { return data_start() + data_size_; }

 private:
  friend struct HeaderBuilder;  // src/header/header_builder.hpp
  void rebind_from(const Header& other);

  std::vector<char> names_;                // every name's bytes, back to back
  std::vector<std::uint64_t> shapes_;      // every shape's dims, back to back
  std::vector<TensorInfo> tensors_;        // views into names_ / shapes_
  std::vector<std::uint32_t> index_;       // open-addressing hash table of tensor positions + 1
  std::vector<MetadataEntry> metadata_;
  std::vector<UnknownField> unknown_fields_;
  bool has_metadata_ = false;
  std::uint64_t header_size_ = 0;
  std::uint64_t data_size_ = 0;
};

// Parse and validate a header.
//   bytes:      the start of the file, at least its first 8 + N bytes (the whole
//               file is fine; only the header is read).
//   file_size:  the size of the whole file, used to check that the data buffer
//               ends exactly at the end of the file.
// Never throws, never reads outside `bytes`, never allocates from a number it has
// not checked against `bytes`. Errors carry the byte offset in the file and, when
// one is concerned, the tensor.
Result<Header> parse_header(std::span<const std::byte> bytes, std::uint64_t file_size,
                            const Limits& limits = {});

// Only the 8-byte prefix: N, after the checks that need only the prefix and the
// file size (header_too_small, header_too_large, header_length).
Result<std::uint64_t> parse_header_length(std::span<const std::byte> prefix, std::uint64_t file_size,
                                          const Limits& limits = {});

}  // namespace sft
