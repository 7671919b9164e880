// CompressedReader: the public face of the decoder (src/compress/compressed_source.hpp).
#include <utility>

#include "compress/compressed_source.hpp"
#include "sft/compressed.hpp"
#include "sft_internal/regular_file.hpp"

namespace sft {

struct CompressedReader::Impl {
  std::unique_ptr<detail::CompressedSource> source;
};

CompressedReader::CompressedReader(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
CompressedReader::CompressedReader(CompressedReader&&) noexcept = default;
CompressedReader& CompressedReader::operator=(CompressedReader&&) noexcept = default;
CompressedReader::~CompressedReader() = default;

template <class R>
Result<CompressedReader> CompressedReader::wrap(R source) {
  SFT_TRY(source);
  auto impl = std::make_unique<Impl>();
  impl->source = std::move(*source);
  return CompressedReader(std::move(impl));
}

Result<CompressedReader> CompressedReader::open(const std::filesystem::path& path, const Limits& limits) {
  auto file = detail::open_regular_file(path);
  SFT_TRY(file);
  return wrap(detail::CompressedSource::open(detail::pread_source(std::move(*file)), limits));
}

Result<CompressedReader> CompressedReader::from_fd(int fd, std::uint64_t file_size, const Limits& limits) {
  return wrap(detail::CompressedSource::open(detail::borrowed_fd_source(fd, file_size), limits));
}

Result<CompressedReader> CompressedReader::from_memory(std::span<const std::byte> bytes, const Limits& limits) {
  return wrap(detail::CompressedSource::open(detail::memory_source(bytes), limits));
}

const Header& CompressedReader::header() const noexcept { return impl_->source->header(); }
std::uint64_t CompressedReader::size() const noexcept { return impl_->source->size(); }
std::uint64_t CompressedReader::compressed_size() const noexcept { return impl_->source->compressed_size(); }
std::span<const FrameInfo> CompressedReader::frames() const noexcept { return impl_->source->frames(); }
bool CompressedReader::byte_planes() const noexcept { return impl_->source->byte_planes(); }
void CompressedReader::set_threads(unsigned threads) const noexcept { impl_->source->set_threads(threads); }
std::uint64_t CompressedReader::frames_decompressed() const noexcept { return impl_->source->frames_decompressed(); }

Result<void> CompressedReader::read(std::uint64_t offset, std::span<std::byte> out) const {
  return impl_->source->read(offset, out);
}

Result<void> CompressedReader::check_frame(std::size_t index) const { return impl_->source->check_frame(index); }

}  // namespace sft
