// src/internal/sft_internal/regular_file.hpp — the one way sft opens a file for reading (internal).
//
// Every reader of a path (File::open, the compressed reader, the checkpoint
// index, the tool's header loader) opens it through open_regular_file, so
// that one rule holds everywhere: only a regular file is read. A FIFO, a
// device, a socket or a directory is refused with io_error, promptly: the
// path is opened with O_NONBLOCK (opening a FIFO with no writer would
// otherwise block forever; a device's open may have side effects, so it is
// refused by stat before it is opened at all), then fstat'ed (a path swapped
// between stat and open is caught), and only then is O_NONBLOCK cleared.
#pragma once

#include <cstdint>
#include <cstddef>
#include <filesystem>
#include <span>
#include <utility>

#include "sft/result.hpp"

namespace sft::detail {

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

struct RegularFile {
  UniqueFd fd;
  std::uint64_t size = 0;  // st_size at open
};

// How the error messages name the file.
enum class PathInMessage : bool {
  include,  // "cannot open PATH: No such file or directory", "not a regular file (a FIFO): PATH"
  omit,     // "cannot open: No such file or directory", "cannot read: not a regular file"
            // (for callers, like the tool, that print the path in front of every message)
};

// Open `path` read-only (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), refuse
// anything but a regular file, clear O_NONBLOCK. Errors: io_error, with the
// reason (strerror, or the kind of file: directory, FIFO, device, socket).
Result<RegularFile> open_regular_file(const std::filesystem::path& path,
                                      PathInMessage naming = PathInMessage::include);

// The same for `relative`, a path of plain components below the directory
// open as `dir_fd`, opened with openat and without following any symbolic
// link: each directory component with O_DIRECTORY | O_NOFOLLOW, the file with
// O_NOFOLLOW | O_NONBLOCK. A symlink anywhere on the way is io_error (ELOOP,
// "Too many levels of symbolic links"), whatever it points to; so is "..".
// Messages name `shown` (the path the caller knows the file by).
Result<RegularFile> open_regular_file_at(int dir_fd, const std::filesystem::path& relative,
                                         const std::filesystem::path& shown,
                                         PathInMessage naming = PathInMessage::include);

// pread exactly out.size() bytes at `offset`, retrying on EINTR and short
// reads; a read that hits the end of the file (it shrank after it was
// opened) or fails is io_error naming the offset.
Result<void> pread_exact(int fd, std::uint64_t offset, std::span<std::byte> out);

}  // namespace sft::detail
