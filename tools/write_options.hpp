// tools/write_options.hpp — options shared by the subcommands that write files.
#pragma once

#include <charconv>
#include <cstdint>
#include <string_view>

#include "sft/error.hpp"

namespace sft::cli {

// A decimal number for --alignment; the Writer itself checks it is a power of
// two from 8 to 1 MiB.
inline bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Exit status for a library error: 2 when the input could not be read at
// all, 1 for everything else (invalid input, refused tensors, failed writes).
inline int exit_code_for(const Error& e) { return e.code == Errc::io_error ? 2 : 1; }

}  // namespace sft::cli
