// tools/header_loader.hpp — what validate and inspect share: reading a file's
// header without mapping its data, and reporting an error on one line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sft/error.hpp"
#include "sft/file.hpp"
#include "sft/header.hpp"

namespace sft::cli {

struct LoadedHeader {
  enum class Status { valid, invalid, unreadable };
  Status status = Status::unreadable;
  std::vector<std::byte> prefix;  // the first 8 + N bytes (fewer when the file is too short)
  std::uint64_t file_size = 0;
  std::optional<Header> header;   // when valid
  Error error;                    // when invalid (a format error) or unreadable (io_error, remote_*)
  // A URL: the remote File it was read through, kept so that a command reading
  // tensors next does not fetch the header again.
  std::optional<File> remote;
};

// Read the first 8 + N bytes of `path` with pread and parse them. Only regular
// files are read: a directory, FIFO or device is unreadable, as is a file that
// cannot be opened or that shrinks while it is read. Nothing is allocated from N
// before parse_header_length has checked it against the file size and the limit.
// An http(s) URL is opened with File::open (the header's one or two range
// requests, the remote options of this run); its failed reads are unreadable.
LoadedHeader load_header(const std::string& path);

// Process exit status for one file: 0 valid, 1 invalid, 2 unreadable.
int exit_status(LoadedHeader::Status s) noexcept;

// "FILE: CODE: message (offset N, tensor NAME)\n": the file name made
// printable (a URL's credentials and query hidden, redact_url), then Error::to_string() with any control character left in the
// message escaped as \xNN, so the report is one line whatever bytes it holds.
std::string error_line(std::string_view file, const Error& e);

}  // namespace sft::cli
