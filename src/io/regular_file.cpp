// open_regular_file and pread_exact: the only places sft opens and preads a path it reads.
#include "sft_internal/regular_file.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sft::detail {

void UniqueFd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

namespace {

// What a stat mode is, when it is not a regular file.
const char* kind_of(mode_t m) noexcept {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "of another kind";
}

Error failed(const char* verb, const std::filesystem::path& path, PathInMessage naming, int err) {
  // Appends only: GCC 12 warns (-Wrestrict, a false positive) on `"literal" + std::string` chains.
  std::string m = "cannot ";
  m += verb;
  if (naming == PathInMessage::include) {
    m += ' ';
    m += path.string();
  }
  m += ": ";
  m += std::strerror(err);
  return Error(Errc::io_error, std::move(m));
}

Error not_regular(const std::filesystem::path& path, PathInMessage naming, mode_t mode) {
  // The short form is what the tool has always printed (its golden tests pin it).
  if (naming == PathInMessage::omit)
    return Error(Errc::io_error, S_ISDIR(mode) ? "cannot read: is a directory" : "cannot read: not a regular file");
  if (S_ISDIR(mode)) return Error(Errc::io_error, "is a directory: " + path.string());
  return Error(Errc::io_error, std::string("not a regular file (") + kind_of(mode) + "): " + path.string());
}

}  // namespace

Result<RegularFile> open_regular_file(const std::filesystem::path& path, PathInMessage naming) {
  struct stat st {};
  // Refuse a device or FIFO before opening it: opening may block or have side
  // effects. A failing stat falls through to open, which reports the reason.
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return not_regular(path, naming, st.st_mode);
  RegularFile f;
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return failed("open", path, naming, errno);
  f.fd = UniqueFd(fd);
  if (::fstat(fd, &st) != 0) return failed("stat", path, naming, errno);
  if (!S_ISREG(st.st_mode)) return not_regular(path, naming, st.st_mode);  // swapped after the stat
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) return failed("configure", path, naming, errno);
  f.size = static_cast<std::uint64_t>(st.st_size);
  return f;
}

namespace {

// The checks and the setup open_regular_file does after open(), on `fd`.
Result<RegularFile> finish_open(int fd, const std::filesystem::path& path, PathInMessage naming) {
  RegularFile f;
  f.fd = UniqueFd(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return failed("stat", path, naming, errno);
  if (!S_ISREG(st.st_mode)) return not_regular(path, naming, st.st_mode);
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) return failed("configure", path, naming, errno);
  f.size = static_cast<std::uint64_t>(st.st_size);
  return f;
}

}  // namespace

Result<RegularFile> open_regular_file_at(int dir_fd, const std::filesystem::path& relative,
                                         const std::filesystem::path& shown, PathInMessage naming) {
  std::vector<std::string> parts;
  for (const auto& c : relative) {
    const std::string s = c.string();
    if (s.empty() || s == "." ) continue;
    if (s == ".." || s == "/") return failed("open", shown, naming, EACCES);
    parts.push_back(s);
  }
  if (parts.empty()) return failed("open", shown, naming, ENOENT);
  UniqueFd here;  // the directory reached so far (dir_fd itself at first)
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    int fd;
    do {
      fd = ::openat(here.get() >= 0 ? here.get() : dir_fd, parts[i].c_str(),
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return failed("open", shown, naming, errno);
    here = UniqueFd(fd);
  }
  const int at = here.get() >= 0 ? here.get() : dir_fd;
  struct stat st {};
  // As open_regular_file: a device or FIFO is refused before it is opened.
  if (::fstatat(at, parts.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode) &&
      !S_ISLNK(st.st_mode))
    return not_regular(shown, naming, st.st_mode);
  int fd;
  do {
    fd = ::openat(at, parts.back().c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return failed("open", shown, naming, errno);
  return finish_open(fd, shown, naming);
}

Result<void> pread_exact(int fd, std::uint64_t offset, std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t got = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return Error(Errc::io_error, std::string("read failed: ") + std::strerror(errno), offset + done);
    }
    if (got == 0)
      return Error(Errc::io_error, "the file ended early (truncated after it was opened?)", offset + done);
    done += static_cast<std::size_t>(got);
  }
  return {};
}

}  // namespace sft::detail
