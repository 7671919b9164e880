// fuzz/fuzz_npy.cpp — the .npy header parser on raw bytes (the input is a file).
//
// `sft create` reads .npy files from strangers: their header is a Python dict
// literal that NumPy would evaluate, and sft parses a bounded subset of it
// instead. Checked: no crash or sanitizer report; errors are npy_bad_header or
// npy_unsupported with an offset inside the file; an accepted header is
// consistent (data_offset + data_size = file size, size = item size x count,
// rank bounded), its data converts to C order, and a header written for the
// same dtype and shape parses back to them.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "sft/npy.hpp"

using namespace sft;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = fuzz::as_bytes(data, size);
  auto h = parse_npy_header(bytes, size);
  if (!h) {
    const Error& e = h.error();
    FUZZ_CHECK(e.code == Errc::npy_bad_header || e.code == Errc::npy_unsupported);
    FUZZ_CHECK(!e.message.empty());
    FUZZ_CHECK(e.offset == Error::no_offset || e.offset <= size);
    return 0;
  }
  FUZZ_CHECK(h->major_version >= 1 && h->major_version <= 3);
  FUZZ_CHECK(h->shape.size() <= npy_max_rank);
  FUZZ_CHECK(h->data_offset <= size);
  FUZZ_CHECK(h->data_size == size - h->data_offset);
  std::uint64_t count = 1;
  for (auto d : h->shape) FUZZ_CHECK(!__builtin_mul_overflow(count, d, &count));
  std::uint64_t want = 0;
  FUZZ_CHECK(!__builtin_mul_overflow(count, std::uint64_t{h->item_size}, &want));
  FUZZ_CHECK(want == h->data_size);
  if (h->dtype) FUZZ_CHECK(element_size(*h->dtype) == h->item_size);

  // The data converts to C order (a copy when no conversion is needed).
  const auto payload = bytes.subspan(static_cast<std::size_t>(h->data_offset));
  std::vector<std::byte> out(payload.size());
  auto c = npy_to_c_order(*h, payload, out);
  FUZZ_CHECK(c.ok());
  if (!h->needs_conversion()) FUZZ_CHECK(payload.empty() || std::memcmp(out.data(), payload.data(), payload.size()) == 0);

  // A preamble written for this dtype and shape reads back as them.
  if (h->dtype) {
    NpyLayout layout = npy_layout(*h->dtype, h->shape);
    std::vector<std::byte> pre = npy_preamble(layout);
    FUZZ_CHECK(pre.size() % 64 == 0);
    pre.insert(pre.end(), out.begin(), out.end());
    auto back = parse_npy_header(pre, pre.size());
    if (!back) {
      std::fprintf(stderr, "sft's own .npy preamble rejected: %s\n", back.error().to_string().c_str());
      std::abort();
    }
    FUZZ_CHECK(back->shape == layout.shape);
    FUZZ_CHECK(back->dtype == h->dtype);
    FUZZ_CHECK(!back->fortran_order && !back->needs_conversion());
  }
  return 0;
}
