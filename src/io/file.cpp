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

#include "io/byte_source.hpp"
#include "header/header_parse.hpp"
#include "remote/remote_source.hpp"
#include "header/header_read.hpp"
#include "sft/compressed.hpp"

namespace sft {

struct File::Impl {
  int fd = -1;
  void* map = nullptr;        // owned mapping (mmap mode)
  std::uint64_t size = 0;
  const std::byte* base = nullptr;  // the whole file in memory (mmap or borrowed); null in pread mode
  ReadMode mode = ReadMode::mmap;
  Header header;
  // Set for a compressed checkpoint: it borrows `fd` and serves every read
  // (base stays null, as in pread mode). See sft/compressed.hpp.
  std::unique_ptr<CompressedReader> compressed;
  // Set for a URL (src/remote/): serves every read, like pread mode.
  std::unique_ptr<detail::RemoteSource> remote;

  // Copy file bytes [at, at + out.size()), already checked to lie within the file.
  Result<void> read_at(std::uint64_t at, std::span<std::byte> out) const {
    if (out.empty()) return {};
    if (base) {
      std::memcpy(out.data(), base + at, out.size());
      return {};
    }
    if (compressed) return compressed->read(at, out);
    if (remote) return remote->read(at, out);
    return detail::pread_exact(fd, at, out);
  }

  ~Impl() {
    if (map) ::munmap(map, static_cast<std::size_t>(size));
    if (fd >= 0) ::close(fd);
  }
};

namespace {

Error io_error(const std::string& what, const std::filesystem::path& path, int err) {
  return Error(Errc::io_error, what + " " + path.string() + ": " + std::strerror(err));
}

}  // namespace

File::File(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

Result<File> File::open(const std::filesystem::path& path, const OpenOptions& options) {
  if (is_url(path.native())) {
    SFT_TRY_ASSIGN(auto opened, detail::RemoteSource::open(path.native(), options.remote, options.limits));
    auto impl = std::make_unique<Impl>();
    impl->mode = ReadMode::pread;
    impl->size = opened.source->size();
    impl->header = std::move(opened.header);
    impl->remote = std::move(opened.source);
    return File(std::move(impl));
  }
  auto impl = std::make_unique<Impl>();
  impl->mode = options.mode;
  impl->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (impl->fd < 0) return io_error("cannot open", path, errno);
  struct stat st {};
  if (::fstat(impl->fd, &st) != 0) return io_error("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return Error(Errc::io_error, "not a regular file: " + path.string());
  impl->size = static_cast<std::uint64_t>(st.st_size);

  // A compressed checkpoint starts with a zstd frame or an "SFTZ" prefix;
  // read as a header length, either exceeds 100,000,000, so no safetensors
  // file is taken for one. The reader checks its seek table and parses the
  // decompressed header; the file is then served like pread mode.
  if (options.allow_compressed && impl->size >= 4) {
    std::byte magic[4];
    if (auto r = detail::pread_exact(impl->fd, 0, magic); !r) return std::move(r).error();
    if (is_compressed(magic)) {
      auto reader = CompressedReader::from_fd(impl->fd, impl->size, options.limits);
      if (!reader) return std::move(reader).error();
      impl->compressed = std::make_unique<CompressedReader>(std::move(*reader));
      impl->mode = ReadMode::pread;
      impl->size = impl->compressed->size();
      impl->header = impl->compressed->header();
      return File(std::move(impl));
    }
  }

  if (options.mode == ReadMode::pread) {
    auto h = detail::read_header(
        [fd = impl->fd](std::uint64_t o, std::span<std::byte> out) { return detail::pread_exact(fd, o, out); },
        impl->size, options.limits);
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
int File::fd() const noexcept { return impl_->compressed ? -1 : impl_->fd; }
bool File::compressed() const noexcept { return impl_->compressed != nullptr; }
const CompressedReader* File::compressed_reader() const noexcept { return impl_->compressed.get(); }

Result<void> File::read_bytes(std::uint64_t offset, std::span<std::byte> out) const {
  if (offset > impl_->size || out.size() > impl_->size - offset)
    return Error(Errc::invalid_argument, "range of " + std::to_string(out.size()) + " bytes at " +
                                             std::to_string(offset) + " is outside the file's " +
                                             std::to_string(impl_->size) + " bytes");
  return impl_->read_at(offset, out);
}

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
    return Error(Errc::not_mapped, impl_->compressed ? "the file is a compressed checkpoint; copy the tensor out with read()"
                                   : impl_->remote   ? "the file is remote; copy the tensor out with read()"
                                                     : "the file was opened in pread mode; copy the tensor out with read()",
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
  auto r = impl_->read_at(at, out);
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

namespace sft {

// Temporary glue until File reads through detail::ByteSource (issue 14).
Result<RemoteInfo> remote_info(const File& file) {
  if (!file.impl_->remote) return Error(Errc::invalid_argument, "the file was not opened from a URL");
  return file.impl_->remote->info();
}

}  // namespace sft
