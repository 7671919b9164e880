// fuzz/fuzz_header.cpp — parse_header on raw bytes (the input is a whole file).
//
// Besides "no crash, no sanitizer report", it checks three promises:
//  - a parsed Header is consistent (fuzz_common.hpp) and an error well formed;
//  - parse_header reads only the first 8 + N bytes: handed exactly those (in an
//    exact-size buffer, so ASan sees any read past them) it decides the same;
//  - tighter Limits never accept what the defaults reject, and when they accept
//    they give the same Header;
//  - strict_check on an accepted header reports only strict_violation findings
//    named after a documented rule, with offsets inside the file.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "sft/header.hpp"
#include "sft/strict.hpp"

using namespace sft;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = fuzz::as_bytes(data, size);
  auto full = parse_header(bytes, size);
  if (full) {
    fuzz::check_header(*full, size);
    static constexpr std::string_view rules[] = {"header_start", "header_padding", "header_alignment",
                                                 "unknown_field", "tensor_alignment", "empty_tensor_offset"};
    for (const Error& e : strict_check(bytes, *full)) {
      FUZZ_CHECK(e.code == Errc::strict_violation);
      bool named = false;
      for (auto r : rules) named |= e.message.rfind(std::string(r) + ":", 0) == 0;
      FUZZ_CHECK(named);
      FUZZ_CHECK(e.offset == Error::no_offset || e.offset <= size);
    }
  } else {
    fuzz::check_parse_error(full.error(), size);
  }

  // The length prefix alone: its verdict must agree with the full parse.
  auto len = parse_header_length(bytes.first(size < 8 ? size : 8), size);
  if (!len) {
    FUZZ_CHECK(!full);
    FUZZ_CHECK(full.error().code == len.error().code);
  } else {
    const std::uint64_t n = *len;
    FUZZ_CHECK(n <= size - 8);
    if (full) FUZZ_CHECK(full->header_size() == n);
    // Only the first 8 + N bytes, in a buffer of exactly that size.
    std::vector<std::byte> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(8 + n));
    auto part = parse_header(prefix, size);
    FUZZ_CHECK(part.ok() == full.ok());
    if (part) {
      FUZZ_CHECK(fuzz::same_header(*part, *full));
    } else {
      FUZZ_CHECK(part.error().code == full.error().code);
      FUZZ_CHECK(part.error().offset == full.error().offset);
    }
  }

  // Tighter limits: never more accepting.
  Limits tight;
  tight.max_tensors = 3;
  tight.max_rank = 3;
  tight.max_name_bytes = 8;
  tight.max_depth = 5;
  auto limited = parse_header(bytes, size, tight);
  if (limited) {
    FUZZ_CHECK(full.ok());
    FUZZ_CHECK(fuzz::same_header(*limited, *full));
    FUZZ_CHECK(limited->size() <= 3);
  } else {
    fuzz::check_parse_error(limited.error(), size);
  }
  return 0;
}
