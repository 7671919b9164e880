#include "sft/file.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "header_parse.hpp"

namespace sft {

struct File::Impl {
  int fd = -1;
  void* map = nullptr;        // owned mapping (mmap mode)
  std::uint64_t size = 0;
  const std::byte* base = nullptr;  // the whole file in memory (mmap or borrowed); null in pread mode
  ReadMode mode = ReadMode::mmap;
  Header header;

  ~Impl() {
    if (map) ::munmap(map, static_cast<std::size_t>(size));
    if (fd >= 0) ::close(fd);
  }
};

namespace {

Error io_error(const std::string& what, const std::filesystem::path& path, int err) {
  return Error(Errc::io_error, what + " " + path.string() + ": " + std::strerror(err));
}

// pread exactly out.size() bytes at `offset`; a short read (the file shrank) is an error.
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

}  // namespace

File::File(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

Result<File> File::open(const std::filesystem::path& path, const OpenOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->mode = options.mode;
  impl->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (impl->fd < 0) return io_error("cannot open", path, errno);
  struct stat st {};
  if (::fstat(impl->fd, &st) != 0) return io_error("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return Error(Errc::io_error, "not a regular file: " + path.string());
  impl->size = static_cast<std::uint64_t>(st.st_size);

  if (options.mode == ReadMode::pread) {
    std::byte prefix[8];
    std::size_t have = impl->size < 8 ? static_cast<std::size_t>(impl->size) : 8;
    if (auto r = pread_exact(impl->fd, 0, {prefix, have}); !r) return std::move(r).error();
    auto n = parse_header_length({prefix, have}, impl->size, options.limits);
    if (!n) return std::move(n).error();
    // n was checked against the file size and the limit: the buffer is bounded by real bytes.
    std::vector<std::byte> head(8 + static_cast<std::size_t>(*n) + detail::json_padding());
    if (auto r = pread_exact(impl->fd, 0, {head.data(), 8 + static_cast<std::size_t>(*n)}); !r)
      return std::move(r).error();
    std::memset(head.data() + 8 + *n, ' ', detail::json_padding());
    auto h = parse_header(head, impl->size, options.limits);
    if (!h) return std::move(h).error();
    impl->header = std::move(*h);
    return File(std::move(impl));
  }

  if (impl->size < 8) {
    auto n = parse_header_length({}, impl->size, options.limits);
    return std::move(n).error();
  }
  int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
  if (options.populate) flags |= MAP_POPULATE;
#endif
  void* m = ::mmap(nullptr, static_cast<std::size_t>(impl->size), PROT_READ, flags, impl->fd, 0);
  if (m == MAP_FAILED) return io_error("cannot map", path, errno);
  impl->map = m;
  impl->base = static_cast<const std::byte*>(m);
  switch (options.hint) {
    case AccessHint::sequential:
      ::madvise(m, static_cast<std::size_t>(impl->size), MADV_SEQUENTIAL);
      ::madvise(m, static_cast<std::size_t>(impl->size), MADV_WILLNEED);
      break;
    case AccessHint::random: ::madvise(m, static_cast<std::size_t>(impl->size), MADV_RANDOM); break;
    case AccessHint::normal: break;
  }
  auto h = parse_header({impl->base, static_cast<std::size_t>(impl->size)}, impl->size, options.limits);
  if (!h) return std::move(h).error();
  impl->header = std::move(*h);
  return File(std::move(impl));
}

Result<File> File::from_memory(std::span<const std::byte> bytes, const Limits& limits) {
  auto h = parse_header(bytes, bytes.size(), limits);
  if (!h) return std::move(h).error();
  auto impl = std::make_unique<Impl>();
  impl->mode = ReadMode::mmap;
  impl->size = bytes.size();
  impl->base = bytes.data();
  impl->header = std::move(*h);
  return File(std::move(impl));
}

const Header& File::header() const& noexcept { return impl_->header; }
std::uint64_t File::size() const noexcept { return impl_->size; }
ReadMode File::mode() const noexcept { return impl_->mode; }
bool File::mapped() const noexcept { return impl_->base != nullptr; }
int File::fd() const noexcept { return impl_->fd; }

std::span<const std::byte> File::bytes() const& noexcept {
  if (!impl_->base) return {};
  return {impl_->base, static_cast<std::size_t>(impl_->size)};
}

TensorView File::view(const TensorInfo& info) const& noexcept {
  if (!impl_->base) return TensorView(&info, {});
  const std::byte* p = impl_->base + impl_->header.data_start() + info.data_offsets.begin;
  return TensorView(&info, {p, static_cast<std::size_t>(info.byte_size())});
}

Result<TensorView> File::tensor(std::string_view name) const& {
  const TensorInfo* info = impl_->header.find(name);
  if (!info) return Error(Errc::not_found, "no tensor of that name", Error::no_offset, std::string(name));
  if (!impl_->base)
    return Error(Errc::not_mapped, "the file was opened in pread mode; copy the tensor out with read()",
                 Error::no_offset, std::string(name));
  return view(*info);
}

Result<void> File::read_range(const TensorInfo& info, std::uint64_t offset, std::span<std::byte> out) const {
  if (offset > info.byte_size() || out.size() > info.byte_size() - offset)
    return Error(Errc::invalid_argument,
                 "range of " + std::to_string(out.size()) + " bytes at " + std::to_string(offset) +
                     " is outside the tensor's " + std::to_string(info.byte_size()) + " bytes",
                 Error::no_offset, std::string(info.name));
  const std::uint64_t at = impl_->header.data_start() + info.data_offsets.begin + offset;
  if (out.empty()) return {};
  if (impl_->base) {
    std::memcpy(out.data(), impl_->base + at, out.size());
    return {};
  }
  auto r = pread_exact(impl_->fd, at, out);
  if (!r) return Error(r.error().code, r.error().message, r.error().offset, std::string(info.name));
  return {};
}

Result<void> File::read(const TensorInfo& info, std::span<std::byte> out) const {
  if (out.size() < info.byte_size())
    return Error(Errc::buffer_too_small,
                 "buffer of " + std::to_string(out.size()) + " bytes for a tensor of " + std::to_string(info.byte_size()),
                 Error::no_offset, std::string(info.name));
  return read_range(info, 0, out.first(static_cast<std::size_t>(info.byte_size())));
}

Result<SlicePlan> File::read_slice(const TensorInfo& info, std::span<const SliceSpec> spec,
                                   std::span<std::byte> out) const {
  auto plan = plan_slice(info, spec);
  if (!plan) return plan;
  if (out.size() < plan->byte_size)
    return Error(Errc::buffer_too_small,
                 "buffer of " + std::to_string(out.size()) + " bytes for a slice of " + std::to_string(plan->byte_size),
                 Error::no_offset, std::string(info.name));
  std::uint64_t at = 0;
  Result<void> status;
  plan->for_each_run([&](ByteRange r) {
    if (!status) return;
    status = read_range(info, r.begin, out.subspan(static_cast<std::size_t>(at), static_cast<std::size_t>(r.end - r.begin)));
    at += r.end - r.begin;
  });
  if (!status) return std::move(status).error();
  return plan;
}

}  // namespace sft
