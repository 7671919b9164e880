#include "io/byte_source.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sft::detail {

Result<void> pread_exact(int fd, std::uint64_t offset, std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t got = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
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

Result<ByteSource> ByteSource::open(const std::filesystem::path& path) {
  ByteSource s;
  s.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (s.fd_ < 0) return Error(Errc::io_error, "cannot open " + path.string() + ": " + std::strerror(errno));
  s.owned_ = true;
  struct stat st {};
  if (::fstat(s.fd_, &st) != 0) return Error(Errc::io_error, "cannot stat " + path.string() + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return Error(Errc::io_error, "not a regular file: " + path.string());
  s.size_ = static_cast<std::uint64_t>(st.st_size);
  return s;
}

ByteSource ByteSource::borrow_fd(int fd, std::uint64_t size) noexcept {
  ByteSource s;
  s.fd_ = fd;
  s.size_ = size;
  return s;
}

ByteSource ByteSource::memory(std::span<const std::byte> bytes) noexcept {
  ByteSource s;
  s.mem_ = bytes.data();
  s.size_ = bytes.size();
  return s;
}

ByteSource::ByteSource(ByteSource&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), owned_(std::exchange(other.owned_, false)),
      mem_(std::exchange(other.mem_, nullptr)), size_(std::exchange(other.size_, 0)) {}

ByteSource& ByteSource::operator=(ByteSource&& other) noexcept {
  if (this != &other) {
    if (owned_ && fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    owned_ = std::exchange(other.owned_, false);
    mem_ = std::exchange(other.mem_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

ByteSource::~ByteSource() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

Result<void> ByteSource::read(std::uint64_t offset, std::span<std::byte> out) const {
  if (offset > size_ || out.size() > size_ - offset)
    return Error(Errc::io_error, "read of " + std::to_string(out.size()) + " bytes past the end of the file", offset);
  if (out.empty()) return {};
  if (mem_) {
    std::memcpy(out.data(), mem_ + offset, out.size());
    return {};
  }
  return pread_exact(fd_, offset, out);
}

}  // namespace sft::detail
