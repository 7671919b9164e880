#include "header/header_read.hpp"

#include <cstring>
#include <vector>

#include "header/header_parse.hpp"

namespace sft::detail {

Result<Header> read_header(const ReadAt& read, std::uint64_t file_size, const Limits& limits) {
  std::byte prefix[8];
  const std::size_t have = file_size < 8 ? static_cast<std::size_t>(file_size) : 8;
  if (auto r = read(0, {prefix, have}); !r) return std::move(r).error();
  auto n = parse_header_length({prefix, have}, file_size, limits);
  SFT_TRY(n);
  // n was checked against the file size and the limit: the buffer is bounded by real bytes.
  const auto len = 8 + static_cast<std::size_t>(*n);
  std::vector<std::byte> head(len + json_padding());
  if (auto r = read(0, {head.data(), len}); !r) return std::move(r).error();
  std::memset(head.data() + len, ' ', json_padding());
  return parse_header(head, file_size, limits);
}

}  // namespace sft::detail
