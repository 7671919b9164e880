// src/header/header_builder.hpp — collects header entries from either JSON front end,
// then validates the layout and builds the lookup index.
//
// Both front ends (the simdjson fast path and the position-tracking slow path)
// feed the same builder, so the layout rules of docs/format.md live in exactly
// one place: finish().
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sft/header.hpp"

namespace sft {

struct HeaderBuilder {
  // track_positions: the front end passes each entry's file offset (slow path).
  HeaderBuilder(const Limits& limits, bool track_positions) : limits_(limits), track_positions_(track_positions) {}

  // Reserve for `tensors` entries of a header of `header_bytes`: unescaped
  // names never exceed the JSON bytes, so the name arena never reallocates.
  void reserve(std::size_t tensors, std::size_t header_bytes);
  // Checks Limits (tensors, rank, name bytes); pos is the file offset of the
  // entry's key (ignored unless positions are tracked).
  Result<void> add_tensor(std::string_view name, DType dtype, std::span<const std::uint64_t> shape,
                          std::uint64_t begin, std::uint64_t end, std::uint64_t pos);
  void set_has_metadata() { h_.has_metadata_ = true; }
  void add_metadata(std::string_view key, std::string_view value) {
    h_.metadata_.push_back({std::string(key), std::string(value)});
  }
  void add_unknown_field(std::string_view tensor, std::string_view field) {
    h_.unknown_fields_.push_back({std::string(tensor), std::string(field)});
  }

  // Sort by offsets, check names are unique, check tiling, sizes and the file
  // size, build the index. `n` is the header length, `file_size` the file's.
  Result<Header> finish(std::uint64_t n, std::uint64_t file_size) &&;

 private:
  const Limits& limits_;
  bool track_positions_;
  Header h_;
  // While building, each TensorInfo's name and shape views carry the right
  // lengths but may point into an arena that has since grown; they are never
  // read before finish() re-points them, walking the arenas in insertion order.
  std::vector<std::uint64_t> pos_;  // per tensor, when positions are tracked
};

}  // namespace sft
