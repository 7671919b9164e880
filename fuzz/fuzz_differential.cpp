// fuzz/fuzz_differential.cpp — the parser's two JSON front ends must agree.
//
// parse_header() tries a fast front end (simdjson) that may decline, then an
// authoritative slow one with exact offsets (src/header/header_parse.hpp). A header
// the fast path accepts but the slow path rejects (or reads differently) would
// make sft's verdict depend on which path ran: a parser differential inside sft
// itself. Checked here:
//  - fast accepts  =>  slow accepts with an identical Header;
//  - parse_header() decides exactly as the slow path (code and offset).
// The fast path declining a valid header is allowed (it only costs speed).
// Inputs are whole files; the structure-aware mutator (json_mutator.hpp)
// keeps most of them well-formed enough to reach the schema rules.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "fuzz_common.hpp"
#include "header/header_parse.hpp"
#include "json_mutator.hpp"
#include "sft/header.hpp"

using namespace sft;

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
  // Half structure-aware, half libFuzzer's byte-level mutations (which find
  // the syntax corners where the two tokenizers might part ways).
  if (seed % 2 == 0) return sft::fuzz::mutate_safetensors(data, size, max_size, seed / 2);
  return LLVMFuzzerMutate(data, size, max_size);
}

namespace {

bool same_unknown_fields(const Header& a, const Header& b) {
  if (a.unknown_fields().size() != b.unknown_fields().size()) return false;
  for (std::size_t i = 0; i < a.unknown_fields().size(); ++i)
    if (a.unknown_fields()[i].tensor != b.unknown_fields()[i].tensor ||
        a.unknown_fields()[i].field != b.unknown_fields()[i].field)
      return false;
  return true;
}

void compare(std::span<const std::byte> bytes, std::uint64_t size, const Limits& limits) {
  auto len = parse_header_length(bytes, size, limits);
  if (!len) return;
  const std::size_t n = static_cast<std::size_t>(*len);
  const char* json = reinterpret_cast<const char*>(bytes.data() + 8);

  // The slow path gets exactly n bytes (ASan sees any read past them); the
  // fast path gets its padding, as parse_header gives it.
  std::unique_ptr<char[]> exact(new char[n ? n : 1]);
  std::memcpy(exact.get(), json, n);
  std::unique_ptr<char[]> padded(new char[n + detail::json_padding()]);
  std::memcpy(padded.get(), json, n);
  std::memset(padded.get() + n, ' ', detail::json_padding());

  std::optional<Header> fast = detail::parse_header_fast(padded.get(), n, size, limits);
  Result<Header> slow = detail::parse_header_slow(exact.get(), n, size, limits);
  if (fast) {
    if (!slow) {
      std::fprintf(stderr, "fast path accepted, slow path rejected: %s\n", slow.error().to_string().c_str());
      std::abort();
    }
    FUZZ_CHECK(fuzz::same_header(*fast, *slow));
    FUZZ_CHECK(same_unknown_fields(*fast, *slow));
    fuzz::check_header(*fast, size);
  }
  if (slow) fuzz::check_header(*slow, size);
  else fuzz::check_parse_error(slow.error(), size);

  auto pub = parse_header(bytes, size, limits);
  FUZZ_CHECK(pub.ok() == slow.ok());
  if (pub) {
    FUZZ_CHECK(fuzz::same_header(*pub, *slow));
  } else {
    FUZZ_CHECK(pub.error().code == slow.error().code);
    FUZZ_CHECK(pub.error().offset == slow.error().offset);
    FUZZ_CHECK(pub.error().tensor == slow.error().tensor);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = fuzz::as_bytes(data, size);
  compare(bytes, size, Limits{});
  Limits tight;
  tight.max_tensors = 2;
  tight.max_rank = 2;
  tight.max_name_bytes = 4;
  tight.max_depth = 4;
  compare(bytes, size, tight);
  return 0;
}
