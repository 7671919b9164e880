// src/header_builder.hpp — collects header entries from either JSON front end,
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
  explicit HeaderBuilder(const Limits& limits) : limits_(limits) {}

  void reserve(std::size_t tensors);
  // Checks Limits (tensors, rank, name bytes); pos is the file offset of the
  // entry's key, or Error::no_offset when the front end does not track positions.
  Result<void> add_tensor(std::string_view name, DType dtype, std::span<const std::uint64_t> shape,
                          std::uint64_t begin, std::uint64_t end, std::uint64_t pos);
  void set_has_metadata() { h_.has_metadata_ = true; }
  void add_metadata(std::string_view key, std::string_view value) {
    h_.metadata_.push_back({std::string(key), std::string(value)});
  }
  void add_unknown_field(std::string_view tensor, std::string_view field) {
    h_.unknown_fields_.push_back({std::string(tensor), std::string(field)});
  }

  // Sort by offsets, check tiling, sizes and the file size, check names are
  // unique, build the index. `n` is the header length, `file_size` the file's.
  Result<Header> finish(std::uint64_t n, std::uint64_t file_size) &&;

 private:
  struct Raw {
    std::uint64_t name_at;  // into h_.names_
    std::uint64_t shape_at; // into h_.shapes_
    std::uint32_t name_len;
    std::uint32_t rank;
    std::uint64_t begin, end, pos;
    DType dtype;
  };
  const Limits& limits_;
  Header h_;
  std::vector<Raw> raw_;
};

}  // namespace sft
