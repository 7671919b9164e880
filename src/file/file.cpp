// File: opening (path, memory, any byte source) and what a File says about itself.
#include "sft/file.hpp"

#include <cstring>
#include <utility>

#include "compress/compressed_source.hpp"
#include "file/file_impl.hpp"
#include "header/header_parse.hpp"
#include "header/header_read.hpp"
#include "remote/remote_source.hpp"
#include "sft/compressed.hpp"
#include "sft_internal/guard.hpp"

namespace sft {

namespace detail {

File FileAccess::make(std::unique_ptr<ByteSource> source, Header header) {
  auto impl = std::make_unique<File::Impl>();
  impl->memory = source->memory();
  impl->mode = impl->memory.data() ? ReadMode::mmap : ReadMode::pread;
  impl->source = std::move(source);
  impl->header = std::move(header);
  return File(std::move(impl));
}

Result<File> file_from_source(std::unique_ptr<ByteSource> source, Header header) {
  return guarded([&]() -> Result<File> { return FileAccess::make(std::move(source), std::move(header)); });
}

Result<File> file_from_source(std::unique_ptr<ByteSource> source, const Limits& limits) {
  return guarded([&]() -> Result<File> {
    const std::uint64_t size = source->size();
    Result<Header> h = Error(Errc::internal, "unparsed");
    if (auto mem = source->memory(); mem.data() || size == 0) {
      h = parse_header(mem, size, limits);
    } else {
      const ByteSource& src = *source;
      h = read_header([&src](std::uint64_t o, std::span<std::byte> out) { return src.read(o, out); }, size, limits);
    }
    SFT_TRY(h);
    return file_from_source(std::move(source), std::move(*h));
  });
}

}  // namespace detail

File::File(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

Result<File> File::open(const std::filesystem::path& path, const OpenOptions& options) {
  return detail::guarded([&]() -> Result<File> {
    // An http(s) URL: the remote source (src/remote/, sft/remote.hpp).
    if (is_url(path.native())) return detail::open_remote_file(path.native(), options);
    SFT_TRY_ASSIGN(detail::RegularFile file, detail::open_regular_file(path));
    return detail::open_file(std::move(file), path, options);
  });
}

Result<File> detail::open_file(RegularFile file, const std::filesystem::path& path, const OpenOptions& options) {
  return detail::guarded([&]() -> Result<File> {

    // A compressed checkpoint starts with a zstd frame or an "SFTZ" prefix;
    // read as a header length, either exceeds 100,000,000, so no safetensors
    // file is taken for one. Its compressed bytes are read with pread, and
    // the File serves the decompressed bytes.
    if (options.allow_compressed && file.size >= 4) {
      std::byte magic[4];
      SFT_TRY(detail::pread_exact(file.fd.get(), 0, magic));
      if (is_compressed(magic)) {
        SFT_TRY_ASSIGN(auto source, detail::CompressedSource::open(detail::pread_source(std::move(file)), options.limits));
        Header header = source->take_header();
        return detail::file_from_source(std::move(source), std::move(header));
      }
    }

    if (options.mode == ReadMode::pread) return detail::file_from_source(detail::pread_source(std::move(file)), options.limits);

    // Too short for the length prefix: the parser's error, without mapping.
    if (file.size < 8) return parse_header_length({}, file.size, options.limits).error();
    detail::MapOptions map;
    map.populate = options.populate;
    map.hint = options.hint == AccessHint::sequential ? detail::MapOptions::Hint::sequential
               : options.hint == AccessHint::random   ? detail::MapOptions::Hint::random
                                                      : detail::MapOptions::Hint::normal;
    SFT_TRY_ASSIGN(auto source, detail::mapped_source(std::move(file), map, path));
    return detail::file_from_source(std::move(source), options.limits);
  });
}

Result<File> File::from_memory(std::span<const std::byte> bytes, const Limits& limits) {
  return detail::guarded([&] { return detail::file_from_source(detail::memory_source(bytes), limits); });
}

const Header& File::header() const& noexcept { return impl_->header; }
std::uint64_t File::size() const noexcept { return impl_->source->size(); }
ReadMode File::mode() const noexcept { return impl_->mode; }
std::string_view File::source_kind() const noexcept { return impl_->source->kind(); }
bool File::mapped() const noexcept { return impl_->memory.data() != nullptr; }
bool File::compressed() const noexcept { return source_kind() == "compressed"; }
int File::fd() const noexcept { return impl_->source->fd(); }

}  // namespace sft
