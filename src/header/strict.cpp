// Strict validation (include/sft/strict.hpp): rules of the format's README that
// the reference does not enforce, checked on a header that already parsed.
#include "sft/strict.hpp"

#include <string>
#include <utility>

#include "sft_internal/json_escape.hpp"

namespace sft {

namespace {

bool is_json_whitespace(std::byte b) noexcept {
  return b == std::byte{' '} || b == std::byte{'\t'} || b == std::byte{'\n'} || b == std::byte{'\r'};
}

Error violation(std::string_view rule, const std::string& what, std::uint64_t offset = Error::no_offset,
                std::string tensor = {}) {
  std::string message(rule);
  message += ": ";
  message += what;
  return Error(Errc::strict_violation, std::move(message), offset, std::move(tensor));
}

// header_start and header_padding: they read the N header bytes themselves.
void check_header_bytes(std::span<const std::byte> json, std::vector<Error>& out) {
  if (json.empty()) return;  // cannot happen for a parsed header ("{}" at least)
  if (json.front() != std::byte{'{'})
    out.push_back(violation("header_start", "the header does not begin with '{' (leading whitespace)", 8));

  // The parser accepted exactly one object followed by JSON whitespace, so the
  // trailing run of whitespace is the padding; only spaces are allowed in it.
  std::size_t end = json.size();
  while (end > 0 && is_json_whitespace(json[end - 1])) --end;
  for (std::size_t i = end; i < json.size(); ++i) {
    if (json[i] != std::byte{' '}) {
      out.push_back(violation("header_padding",
                              "the header is padded after its closing '}' with a byte other than a space (0x20)",
                              8 + static_cast<std::uint64_t>(i)));
      break;
    }
  }
}

}  // namespace

std::vector<Error> strict_check(std::span<const std::byte> file_prefix, const Header& header) {
  std::vector<Error> out;
  const std::uint64_t n = header.header_size();

  if (file_prefix.size() < 8 || file_prefix.size() - 8 < n) {
    out.emplace_back(Errc::invalid_argument,
                     "strict_check needs the first 8 + N = " + std::to_string(header.data_start()) +
                         " bytes of the file, got " + std::to_string(file_prefix.size()));
  } else {
    check_header_bytes(file_prefix.subspan(8, static_cast<std::size_t>(n)), out);
  }

  if (n % 8 != 0)
    out.push_back(violation("header_alignment",
                            "header length " + std::to_string(n) +
                                " is not a multiple of 8, so the data buffer starts at file offset " +
                                std::to_string(header.data_start()),
                            0));

  for (const auto& u : header.unknown_fields())
    out.push_back(violation("unknown_field",
                            "tensor entry has the unknown field " + detail::json_string(u.field) +
                                " (ignored by the reference)",
                            Error::no_offset, u.tensor));

  const auto tensors = header.tensors();
  for (const auto& t : tensors) {
    const unsigned size = element_size(t.dtype);
    if (t.data_offsets.begin % size != 0)
      out.push_back(violation("tensor_alignment",
                              std::string(name(t.dtype)) + " data begins at offset " +
                                  std::to_string(t.data_offsets.begin) +
                                  " of the data buffer, not a multiple of its element size " +
                                  std::to_string(size),
                              header.data_start() + t.data_offsets.begin, std::string(t.name)));
  }

  // Tensors are sorted by (begin, end): the empty ones at an offset X come just
  // before the non-empty tensor that begins at X, if there is one. Walk
  // backwards remembering the nearest non-empty tensor after each position.
  std::vector<std::pair<const TensorInfo*, const TensorInfo*>> shared;  // (empty, non-empty), descending
  const TensorInfo* next_nonempty = nullptr;
  for (std::size_t i = tensors.size(); i-- > 0;) {
    const auto& t = tensors[i];
    if (t.byte_size() != 0)
      next_nonempty = &t;
    else if (next_nonempty && next_nonempty->data_offsets.begin == t.data_offsets.begin)
      shared.emplace_back(&t, next_nonempty);
  }
  for (auto it = shared.rbegin(); it != shared.rend(); ++it) {
    const auto& [empty, nonempty] = *it;
    out.push_back(violation("empty_tensor_offset",
                            "zero-size tensor at data offset " + std::to_string(empty->data_offsets.begin) +
                                " shares it with the non-empty tensor " + detail::json_string(nonempty->name),
                            header.data_start() + empty->data_offsets.begin, std::string(empty->name)));
  }
  return out;
}

}  // namespace sft
