#include "sft_internal/atomic_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace sft::detail {

namespace {

// Linux moves at most 0x7ffff000 bytes per write call; stay below it.
constexpr std::size_t kMaxIo = std::size_t{1} << 30;

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}() ^
                                          (static_cast<std::uint64_t>(::getpid()) << 32)};
  static const char* hex = "0123456789abcdef";
  std::uint64_t x = rng();
  std::string s(12, '0');
  for (auto& c : s) {
    c = hex[x & 15];
    x >>= 4;
  }
  return s;
}

void fsync_directory(const std::filesystem::path& dir, int& err) {
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    err = errno;
    return;
  }
  if (::fsync(dfd) != 0 && errno != EINVAL) err = errno;  // EINVAL: the fs cannot sync dirs
  ::close(dfd);
}

}  // namespace

Result<AtomicFile> AtomicFile::create(const std::filesystem::path& target, std::uint64_t fail_after_bytes) {
  AtomicFile f;
  f.target_ = target;
  f.fail_after_ = fail_after_bytes;
  if (target.filename().empty())
    return Error(Errc::write_failed, "target path '" + target.string() + "' names no file");
  auto dir = target.parent_path();
  // A dot-file beside the target: same directory, so rename() is atomic.
  std::string base = target.filename().string();
  if (base.size() > 200) base.resize(200);  // leave room for the suffix within NAME_MAX
  base.insert(base.begin(), '.');
  base.append(".sft-tmp-");
  for (int attempt = 0; attempt < 16; ++attempt) {
    f.temp_ = dir / (base + random_suffix());
    // Registered before it exists, so that a signal arriving on any thread
    // from here on finds it (unlinking a name not created yet is harmless).
    f.registration_ = TempRegistration::add(f.temp_.c_str());
    f.fd_ = ::open(f.temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (f.fd_ >= 0) {
      if (auto r = f.keep_target_mode(); !r) return std::move(r).error();  // `f` removes the temporary
      return f;
    }
    f.registration_.remove();
    if (errno != EEXIST) {
      int err = errno;
      f.temp_.clear();
      return Error(Errc::write_failed, "cannot create a temporary file in '" +
                                           (dir.empty() ? std::string(".") : dir.string()) +
                                           "': " + std::strerror(err));
    }
  }
  f.temp_.clear();
  return Error(Errc::write_failed, "cannot find a free temporary name beside '" + target.string() + "'");
}

// A file that replaces another keeps the other's permission bits, and its
// owner and group where this process may set them (root, or a group the user
// belongs to): `sft rewrite F F` must not turn a 0600 file into 0644. Set on
// the empty temporary, before any byte is written to it. The set-user-ID,
// set-group-ID and sticky bits are not carried over (sft writes data files),
// nor are ACLs and extended attributes. With no file at the target, the
// temporary keeps the mode open() gave it: 0666 less the umask.
Result<void> AtomicFile::keep_target_mode() {
  struct stat st {};
  if (::stat(target_.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  if (::fchown(fd_, st.st_uid, st.st_gid) != 0 && errno != EPERM) return io_error("fchown of", errno);
  if (::fchmod(fd_, st.st_mode & 0777) != 0) return io_error("fchmod of", errno);
  return {};
}

Result<AtomicFile> AtomicFile::open_resumable(const std::filesystem::path& target, const std::filesystem::path& temp) {
  AtomicFile f;
  f.target_ = target;
  f.temp_ = temp;
  f.fd_ = ::open(temp.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (f.fd_ < 0) {
    const int err = errno;
    f.temp_.clear();
    return Error(Errc::write_failed, "cannot open '" + temp.string() + "': " + std::strerror(err));
  }
  if (::flock(f.fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    f.keep();
    std::string why = "'";
    why += temp.string();
    why += "' is in use (";
    why += std::strerror(err);
    why += "): another process is writing it";
    return Error(Errc::write_failed, std::move(why));
  }
  return f;
}

void AtomicFile::keep() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  registration_.remove();
  temp_.clear();
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      target_(std::move(o.target_)),
      temp_(std::move(o.temp_)),
      registration_(std::move(o.registration_)),
      written_(o.written_),
      fail_after_(o.fail_after_),
      prepared_(std::exchange(o.prepared_, false)) {
  o.temp_.clear();
}

AtomicFile& AtomicFile::operator=(AtomicFile&& o) noexcept {
  if (this != &o) {
    abort();
    fd_ = std::exchange(o.fd_, -1);
    target_ = std::move(o.target_);
    temp_ = std::move(o.temp_);
    o.temp_.clear();
    registration_ = std::move(o.registration_);
    written_ = o.written_;
    fail_after_ = o.fail_after_;
    prepared_ = std::exchange(o.prepared_, false);
  }
  return *this;
}

AtomicFile::~AtomicFile() { abort(); }

void AtomicFile::abort() noexcept {
  prepared_ = false;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_.empty()) {
    ::unlink(temp_.c_str());
    temp_.clear();
  }
  registration_.remove();
}

Error AtomicFile::io_error(const char* what, int err) const {
  return Error(Errc::write_failed, std::string(what) + " '" + temp_.string() + "' failed: " + std::strerror(err));
}

std::size_t AtomicFile::allowed(std::size_t want) const noexcept {
  if (fail_after_ == ~std::uint64_t{0}) return want;
  std::uint64_t left = written_ < fail_after_ ? fail_after_ - written_ : 0;
  return static_cast<std::size_t>(std::min<std::uint64_t>(want, left));
}

Result<void> AtomicFile::reserve(std::uint64_t size) {
  if (fd_ < 0) return Error(Errc::writer_state, "the temporary file is closed");
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return io_error("ftruncate of", errno);
  if (size > 0 && ::fallocate(fd_, 0, 0, static_cast<off_t>(size)) != 0) {
    int err = errno;
    // Not every file system can reserve; only a real shortage is an error.
    if (err == ENOSPC || err == EDQUOT || err == EFBIG) return io_error("reserving space for", err);
  }
  return {};
}

Result<void> AtomicFile::write_at(std::uint64_t offset, std::span<const std::byte> bytes) {
  const std::span<const std::byte> one[] = {bytes};
  return write_gather(offset, one);
}

Result<void> AtomicFile::write_gather(std::uint64_t offset, std::span<const std::span<const std::byte>> parts) {
  if (fd_ < 0) return Error(Errc::writer_state, "the temporary file is closed");
  // Batches of at most IOV_MAX pieces and kMaxIo bytes; a short write resumes
  // inside the piece where it stopped.
  constexpr std::size_t kMaxIov = 1024;
  std::vector<iovec> iov;
  iov.reserve(std::min(parts.size(), kMaxIov));
  std::size_t part = 0, inside = 0;
  while (part < parts.size()) {
    iov.clear();
    std::size_t batch = 0;
    for (std::size_t p = part, skip = inside; p < parts.size() && iov.size() < kMaxIov && batch < kMaxIo; ++p, skip = 0) {
      auto s = parts[p].subspan(skip);
      std::size_t take = std::min(s.size(), kMaxIo - batch);
      if (take == 0) continue;
      iov.push_back({const_cast<std::byte*>(s.data()), take});
      batch += take;
    }
    if (batch == 0) break;  // only empty parts remain
    std::size_t want = allowed(batch);
    if (want == 0) return io_error("writing", ENOSPC);
    if (want < batch) {  // the failure hook cuts this batch short
      std::size_t keep = 0, k = 0;
      for (; k < iov.size() && keep + iov[k].iov_len <= want; ++k) keep += iov[k].iov_len;
      if (k < iov.size() && keep < want) iov[k++].iov_len = want - keep;
      iov.resize(k);
    }
    ssize_t n = ::pwritev(fd_, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("writing", errno);
    }
    if (n == 0) return io_error("writing", EIO);
    auto done = static_cast<std::size_t>(n);
    written_ += done;
    offset += done;
    // Advance (part, inside) by `done` bytes.
    while (done > 0 && part < parts.size()) {
      std::size_t left = parts[part].size() - inside;
      if (done < left) {
        inside += done;
        done = 0;
      } else {
        done -= left;
        ++part;
        inside = 0;
      }
    }
    while (part < parts.size() && parts[part].size() == inside) {
      ++part;
      inside = 0;
    }
  }
  return {};
}

Result<void> AtomicFile::sync() {
  if (fd_ < 0) return Error(Errc::writer_state, "the temporary file is closed");
  if (::fsync(fd_) != 0) return io_error("fsync of", errno);
  return {};
}

Result<void> AtomicFile::prepare(bool durable) {
  if (prepared_) return {};
  if (fd_ < 0) return Error(Errc::writer_state, "the temporary file is closed");
  if (durable && ::fsync(fd_) != 0) {
    auto e = io_error("fsync of", errno);
    abort();
    return e;
  }
  int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) {
    auto e = io_error("close of", errno);
    abort();
    return e;
  }
  prepared_ = true;
  return {};
}

Result<void> AtomicFile::commit(bool durable) {
  if (auto r = prepare(durable); !r) return r;
  if (temp_.empty()) return Error(Errc::writer_state, "the temporary file was removed");
  prepared_ = false;
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    int err = errno;
    auto e = Error(Errc::write_failed, "rename of '" + temp_.string() + "' to '" + target_.string() +
                                           "' failed: " + std::strerror(err));
    abort();
    return e;
  }
  temp_.clear();  // it is the target now
  registration_.remove();
  if (durable) {
    int err = 0;
    fsync_directory(target_.parent_path(), err);
    if (err != 0)
      return Error(Errc::write_failed, "the file was renamed into place, but fsync of its directory failed: " +
                                           std::string(std::strerror(err)));
  }
  return {};
}

}  // namespace sft::detail
