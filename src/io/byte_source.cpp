// The ByteSource defaults and the sources of regular files and of memory.
#include "io/byte_source.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <sys/mman.h>

namespace sft::detail {

Result<void> ByteSource::check_range(std::uint64_t offset, std::uint64_t n) const {
  const std::uint64_t total = size();
  if (offset > total || n > total - offset)
    return Error(Errc::invalid_argument, "range of " + std::to_string(n) + " bytes at " + std::to_string(offset) +
                                             " is outside the " + std::to_string(total) + " bytes of the source");
  return {};
}

Result<void> ByteSource::read_ranges(std::span<const ReadRange> ranges) const {
  for (const ReadRange& r : ranges) SFT_TRY(read(r.offset, r.out));
  return {};
}

namespace {

// Bytes in memory: a caller's buffer or a mapping.
class InMemory : public ByteSource {
 public:
  std::uint64_t size() const noexcept override { return bytes_.size(); }
  std::span<const std::byte> memory() const noexcept override { return bytes_; }
  Result<void> read(std::uint64_t offset, std::span<std::byte> out) const override {
    SFT_TRY(check_range(offset, out.size()));
    if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset, out.size());
    return {};
  }

 protected:
  std::span<const std::byte> bytes_;
};

class MemorySource final : public InMemory {
 public:
  explicit MemorySource(std::span<const std::byte> b) noexcept { bytes_ = b; }
  std::string_view kind() const noexcept override { return "memory"; }
};

class MappedSource final : public InMemory {
 public:
  MappedSource(RegularFile f, void* map) noexcept : file_(std::move(f)), map_(map) {
    if (map) bytes_ = {static_cast<const std::byte*>(map), static_cast<std::size_t>(file_.size)};
  }
  ~MappedSource() override {
    if (map_) ::munmap(map_, static_cast<std::size_t>(file_.size));
  }
  std::string_view kind() const noexcept override { return "mapped"; }
  int fd() const noexcept override { return file_.fd.get(); }

 private:
  RegularFile file_;
  void* map_;
};

// pread on a descriptor, owned or borrowed. Never maps: a file truncated by
// another process yields io_error, never SIGBUS.
class PreadSource final : public ByteSource {
 public:
  PreadSource(RegularFile f) noexcept : owned_(std::move(f)), fd_(owned_.fd.get()), size_(owned_.size) {}
  PreadSource(int fd, std::uint64_t size) noexcept : fd_(fd), size_(size) {}
  std::string_view kind() const noexcept override { return "pread"; }
  std::uint64_t size() const noexcept override { return size_; }
  int fd() const noexcept override { return fd_; }
  Result<void> read(std::uint64_t offset, std::span<std::byte> out) const override {
    SFT_TRY(check_range(offset, out.size()));
    return pread_exact(fd_, offset, out);
  }

 private:
  RegularFile owned_;  // empty when borrowed
  int fd_;
  std::uint64_t size_;
};

}  // namespace

std::unique_ptr<ByteSource> pread_source(RegularFile file) { return std::make_unique<PreadSource>(std::move(file)); }

std::unique_ptr<ByteSource> borrowed_fd_source(int fd, std::uint64_t size) {
  return std::make_unique<PreadSource>(fd, size);
}

std::unique_ptr<ByteSource> memory_source(std::span<const std::byte> bytes) {
  return std::make_unique<MemorySource>(bytes);
}

Result<std::unique_ptr<ByteSource>> mapped_source(RegularFile file, const MapOptions& options,
                                                  const std::filesystem::path& path) {
  if (file.size == 0)  // mmap refuses a length of 0: nothing to map
    return std::unique_ptr<ByteSource>(std::make_unique<MappedSource>(std::move(file), nullptr));
  int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
  if (options.populate) flags |= MAP_POPULATE;
#endif
  void* m = ::mmap(nullptr, static_cast<std::size_t>(file.size), PROT_READ, flags, file.fd.get(), 0);
  if (m == MAP_FAILED)
    return Error(Errc::io_error, "cannot map " + path.string() + ": " + std::strerror(errno));
  const auto n = static_cast<std::size_t>(file.size);
  switch (options.hint) {
    case MapOptions::Hint::sequential:
      ::madvise(m, n, MADV_SEQUENTIAL);
      ::madvise(m, n, MADV_WILLNEED);
      break;
    case MapOptions::Hint::random: ::madvise(m, n, MADV_RANDOM); break;
    case MapOptions::Hint::normal: break;
  }
  return std::unique_ptr<ByteSource>(std::make_unique<MappedSource>(std::move(file), m));
}

}  // namespace sft::detail
