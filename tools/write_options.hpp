// tools/write_options.hpp — what the commands that write files (rewrite, create, extract) share:
// option parsing, exit statuses, opening an input safetensors file.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "command.hpp"
#include "header_loader.hpp"
#include "sft/error.hpp"
#include "sft/file.hpp"
#include "sft/writer.hpp"

namespace sft::cli {

// A decimal number for --alignment; the Writer itself checks it is a power of
// two from 8 to 1 MiB.
inline bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// `--alignment N` at args[i]: consumes N (advancing i) into opts.alignment.
// False when N is missing or not a number.
inline bool take_alignment(std::span<const std::string_view> args, std::size_t& i, WriterOptions& opts) {
  if (i + 1 >= args.size() || !parse_u64(args[i + 1], opts.alignment)) return false;
  ++i;
  return true;
}

// Exit status for a library error: 2 when the input could not be read at
// all (io_error, a failed remote read), 1 for everything else (invalid input, refused tensors, failed writes).
inline int exit_code_for(const Error& e) { return e.code == Errc::io_error || is_remote_error(e.code) ? 2 : 1; }

// Open an input safetensors file (or an http(s) URL) for reading with pread
// (never mapped) unless `mode` says otherwise: the shared loader first refuses FIFOs and devices
// without opening them and checks the header as validate does. On failure,
// reports one line on stderr, sets `status` (1 invalid, 2 unreadable) and
// returns nullopt.
inline std::optional<File> open_input(const std::string& path, int& status, ReadMode mode = ReadMode::pread) {
  auto loaded = load_header(path);
  if (loaded.status != LoadedHeader::Status::valid) {
    err(error_line(path, loaded.error));
    status = exit_status(loaded.status);
    return std::nullopt;
  }
  if (loaded.remote) return std::move(*loaded.remote);  // a URL, opened once
  auto file = File::open(path, {.mode = mode});
  if (!file) {
    err(error_line(path, file.error()));
    status = exit_code_for(file.error());
    return std::nullopt;
  }
  return std::move(*file);
}

}  // namespace sft::cli
