// src/write/writer_impl.hpp — what a Writer and a WriterPlan hold (internal).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sft/writer.hpp"
#include "sft_internal/name_hash.hpp"

namespace sft {

struct WriterPlan::Impl {
  std::vector<char> names;              // every name's bytes, back to back
  std::vector<std::uint64_t> shapes;    // every shape's dims, back to back
  std::vector<TensorInfo> tensors;      // views into names / shapes
  std::vector<std::size_t> source;      // position -> index of the Writer's entry
  std::unordered_map<std::string_view, std::size_t, NameHash> by_name;  // keys view `names`
  std::vector<std::byte> preamble;
  std::uint64_t data_size = 0;
};

struct Writer::Impl {
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<std::uint64_t> shape;
    std::uint64_t byte_size;
    const std::byte* data;  // nullptr for declared tensors (or empty added ones)
    bool has_bytes;
  };
  std::deque<Entry> entries;  // a deque: names stay where they are as it grows
  std::unordered_map<std::string_view, std::size_t, NameHash> by_name;  // keys view the entries' names
  std::vector<std::pair<std::string, std::string>> metadata;
};

}  // namespace sft
