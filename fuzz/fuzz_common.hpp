// fuzz/fuzz_common.hpp — invariants every fuzz target checks.
//
// A fuzz target that only "doesn't crash" misses logic bugs, so each one also
// asserts what the API promises: a parsed Header is internally consistent
// (offsets tile the data buffer, sizes agree with dtype x shape, lookup finds
// every tensor) and an error has a known code and an offset inside the file.
// A broken promise calls FUZZ_CHECK, which aborts: libFuzzer records the input.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "sft/error.hpp"
#include "sft/header.hpp"

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace sft::fuzz {

inline std::span<const std::byte> as_bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

// An error from parsing a file of `file_size` bytes: a real code, a message,
// and an offset (when given) that points into the file.
inline void check_parse_error(const Error& e, std::uint64_t file_size) {
  FUZZ_CHECK(e.code != Errc::ok);
  FUZZ_CHECK(errc_name(e.code) != "unknown");
  FUZZ_CHECK(!e.message.empty());
  FUZZ_CHECK(e.offset == Error::no_offset || e.offset <= file_size);
  // to_string must cope with any tensor name bytes.
  FUZZ_CHECK(!e.to_string().empty());
}

// Everything a validated Header promises (include/sft/header.hpp).
inline void check_header(const Header& h, std::uint64_t file_size) {
  FUZZ_CHECK(h.file_size() == file_size);
  FUZZ_CHECK(h.data_start() == 8 + h.header_size());
  std::uint64_t expect_begin = 0;
  for (const TensorInfo& t : h.tensors()) {
    FUZZ_CHECK(t.data_offsets.begin == expect_begin);
    FUZZ_CHECK(t.data_offsets.begin <= t.data_offsets.end);
    FUZZ_CHECK(t.data_offsets.end <= h.data_size());
    expect_begin = t.data_offsets.end;
    // The size checks the parser made, redone here the reference's way: the
    // element count multiplied left to right without overflow, then the bits.
    std::uint64_t count = 1;
    for (auto d : t.shape) FUZZ_CHECK(!__builtin_mul_overflow(count, d, &count));
    FUZZ_CHECK(count == t.element_count());
    std::uint64_t bits = 0;
    FUZZ_CHECK(!__builtin_mul_overflow(count, std::uint64_t{sft::bits(t.dtype)}, &bits));
    FUZZ_CHECK(bits % 8 == 0);
    FUZZ_CHECK(bits / 8 == t.byte_size());
    const TensorInfo* found = h.find(t.name);
    FUZZ_CHECK(found != nullptr);
    FUZZ_CHECK(found == &t);
  }
  FUZZ_CHECK(expect_begin == h.data_size());
  for (const auto& m : h.metadata()) {
    const std::string* v = h.metadata_value(m.key);
    FUZZ_CHECK(v != nullptr);
  }
  if (!h.has_metadata()) FUZZ_CHECK(h.metadata().empty());
  // A copy is a deep copy whose views point at its own storage.
  Header copy(h);
  FUZZ_CHECK(copy.size() == h.size());
  for (std::size_t i = 0; i < h.size(); ++i) {
    const auto& a = h.tensors()[i];
    const auto& b = copy.tensors()[i];
    FUZZ_CHECK(a.name == b.name && a.dtype == b.dtype && a.data_offsets == b.data_offsets);
    FUZZ_CHECK(a.shape.size() == b.shape.size());
    FUZZ_CHECK(a.shape.empty() || a.shape.data() != b.shape.data());
    FUZZ_CHECK(copy.find(a.name) == &b);
  }
}

// Two parses of the same header give the same tensors and metadata.
inline bool same_header(const Header& a, const Header& b) {
  if (a.size() != b.size() || a.header_size() != b.header_size() || a.data_size() != b.data_size() ||
      a.has_metadata() != b.has_metadata() || a.metadata().size() != b.metadata().size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& x = a.tensors()[i];
    const auto& y = b.tensors()[i];
    if (x.name != y.name || x.dtype != y.dtype || !(x.data_offsets == y.data_offsets) ||
        !std::equal(x.shape.begin(), x.shape.end(), y.shape.begin(), y.shape.end()))
      return false;
  }
  for (std::size_t i = 0; i < a.metadata().size(); ++i)
    if (a.metadata()[i].key != b.metadata()[i].key || a.metadata()[i].value != b.metadata()[i].value) return false;
  return true;
}

}  // namespace sft::fuzz
