#include "header_loader.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "command.hpp"
#include "sft/compressed.hpp"
#include "sft_internal/regular_file.hpp"

namespace sft::cli {

namespace {

Error io_error(const std::string& what, int err) {
  return Error(Errc::io_error, what + ": " + std::strerror(err));
}

// Read exactly out.size() bytes at `offset`; false with errno (0 for a short
// read: the file shrank) otherwise.
bool read_at(int fd, std::span<std::byte> out, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t got = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (got == 0) {
      errno = 0;
      return false;
    }
    done += static_cast<std::size_t>(got);
  }
  return true;
}

LoadedHeader unreadable(Error e) {
  LoadedHeader r;
  r.status = LoadedHeader::Status::unreadable;
  r.error = std::move(e);
  return r;
}

LoadedHeader read_failure(int err) {
  if (err == 0) return unreadable(Error(Errc::io_error, "cannot read: the file shrank while it was read"));
  return unreadable(io_error("cannot read", err));
}

}  // namespace

LoadedHeader load_header(const std::string& path) {
  // Only a regular file, opened without blocking (sft_internal/regular_file.hpp).
  auto opened = detail::open_regular_file(path, detail::PathInMessage::omit);
  if (!opened) return unreadable(std::move(opened).error());
  const detail::RegularFile f = std::move(*opened);
  const std::uint64_t size = f.size;

  LoadedHeader r;
  r.file_size = size;
  r.prefix.resize(r.file_size < 8 ? static_cast<std::size_t>(r.file_size) : 8);
  if (!read_at(f.fd.get(), r.prefix, 0)) return read_failure(errno);

  // A compressed checkpoint (docs/compression.md): the header is that of the
  // decompressed file, decompressed from its own frames; the data frames are
  // not read.
  if (is_compressed(r.prefix)) {
    auto z = CompressedReader::from_fd(f.fd.get(), r.file_size);
    if (!z) {
      if (z.error().code == Errc::io_error) return unreadable(z.error());
      r.status = LoadedHeader::Status::invalid;
      r.error = z.error();
      return r;
    }
    r.file_size = z->size();
    r.prefix.resize(static_cast<std::size_t>(z->header().data_start()));
    if (auto s = z->read(0, r.prefix); !s) return unreadable(s.error());
    r.header = z->header();
    r.status = LoadedHeader::Status::valid;
    return r;
  }

  auto n = parse_header_length(r.prefix, r.file_size);
  if (!n) {
    r.status = LoadedHeader::Status::invalid;
    r.error = n.error();
    return r;
  }
  // N <= file size - 8 and N <= the header limit: safe to allocate.
  r.prefix.resize(8 + static_cast<std::size_t>(*n));
  if (!read_at(f.fd.get(), std::span(r.prefix).subspan(8), 8)) return read_failure(errno);

  auto h = parse_header(r.prefix, r.file_size);
  if (!h) {
    r.status = LoadedHeader::Status::invalid;
    r.error = h.error();
    return r;
  }
  r.status = LoadedHeader::Status::valid;
  r.header = std::move(*h);
  return r;
}

int exit_status(LoadedHeader::Status s) noexcept {
  switch (s) {
    case LoadedHeader::Status::valid: return 0;
    case LoadedHeader::Status::invalid: return 1;
    case LoadedHeader::Status::unreadable: return 2;
  }
  return 2;
}

std::string error_line(std::string_view file, const Error& e) {
  // to_string() already escapes control characters in the tensor name; a
  // message may still quote raw bytes, so escape what is left the same way.
  static constexpr char hex[] = "0123456789abcdef";
  std::string s = printable(file) + ": ";
  for (char ch : e.to_string()) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      s += "\\x";
      s += hex[c >> 4];
      s += hex[c & 15];
    } else {
      s += ch;
    }
  }
  s += "\n";
  return s;
}

}  // namespace sft::cli
