#include "sft/header.hpp"

#include <cstring>
#include <memory>
#include <string>

#include "header/header_parse.hpp"
#include "header/name_index.hpp"

namespace sft {

Header::Header(const Header& other)
    : names_(other.names_),
      shapes_(other.shapes_),
      tensors_(other.tensors_),
      index_(other.index_),
      metadata_(other.metadata_),
      unknown_fields_(other.unknown_fields_),
      has_metadata_(other.has_metadata_),
      header_size_(other.header_size_),
      data_size_(other.data_size_) {
  rebind_from(other);
}

Header& Header::operator=(const Header& other) {
  if (this != &other) {
    Header copy(other);
    *this = std::move(copy);
  }
  return *this;
}

// The copied TensorInfos still point into `other`'s arenas: move each view to
// the same position in ours.
void Header::rebind_from(const Header& other) {
  for (TensorInfo& t : tensors_) {
    auto name_at = static_cast<std::size_t>(t.name.data() - other.names_.data());
    t.name = std::string_view(names_.data() + name_at, t.name.size());
    auto shape_at = static_cast<std::size_t>(t.shape.data() - other.shapes_.data());
    t.shape = std::span<const std::uint64_t>(shapes_.data() + shape_at, t.shape.size());
  }
}

const TensorInfo* Header::find(std::string_view name) const noexcept {
  std::size_t i = detail::lookup_name(tensors_, index_, name);
  return i == detail::no_duplicate ? nullptr : &tensors_[i];
}

const std::string* Header::metadata_value(std::string_view key) const noexcept {
  for (const auto& m : metadata_)
    if (m.key == key) return &m.value;
  return nullptr;
}

Result<std::uint64_t> parse_header_length(std::span<const std::byte> prefix, std::uint64_t file_size,
                                          const Limits& limits) {
  if (file_size < 8 || prefix.size() < 8)
    return Error(Errc::header_too_small,
                 "the file has " + std::to_string(file_size) + " bytes, fewer than the 8-byte header length", 0);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(prefix[static_cast<std::size_t>(i)]);
  if (n > limits.max_header_bytes)
    return Error(Errc::header_too_large,
                 "header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(limits.max_header_bytes),
                 0);
  // file_size >= 8 here, so the subtraction cannot wrap; n + 8 could.
  if (n > file_size - 8)
    return Error(Errc::header_length,
                 "header length " + std::to_string(n) + " runs past the end of the " + std::to_string(file_size) +
                     "-byte file",
                 0);
  return n;
}

Result<Header> parse_header(std::span<const std::byte> bytes, std::uint64_t file_size, const Limits& limits) {
  auto len = parse_header_length(bytes, file_size, limits);
  SFT_TRY(len);
  const std::uint64_t n = *len;
  if (bytes.size() - 8 < n)
    return Error(Errc::invalid_argument,
                 "parse_header was given " + std::to_string(bytes.size()) + " bytes, fewer than the " +
                     std::to_string(8 + n) + " of the header",
                 8);
  const char* json = reinterpret_cast<const char*>(bytes.data() + 8);
  const auto size = static_cast<std::size_t>(n);

  // simdjson reads up to json_padding() bytes past the header: in place when the
  // caller's bytes extend that far, otherwise from a padded copy.
  std::optional<Header> fast;
  if (bytes.size() - 8 - n >= detail::json_padding()) {
    fast = detail::parse_header_fast(json, size, file_size, limits);
  } else {
    std::unique_ptr<char[]> copy(new char[size + detail::json_padding()]);
    std::memcpy(copy.get(), json, size);
    std::memset(copy.get() + size, ' ', detail::json_padding());
    fast = detail::parse_header_fast(copy.get(), size, file_size, limits);
  }
  if (fast) return std::move(*fast);
  return detail::parse_header_slow(json, size, file_size, limits);
}

}  // namespace sft
