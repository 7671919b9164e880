// Embedding digests: the "sft.xxh3_128" metadata value, and a copy of a file that carries it.
#include <algorithm>
#include <string>
#include <vector>

#include "sft_internal/json_escape.hpp"
#include "sft/digest.hpp"
#include "sft/file.hpp"
#include "sft/writer.hpp"

namespace sft {

std::string format_digest_metadata(std::span<const TensorDigest> digests) {
  std::string s = "{";
  for (const TensorDigest& d : digests) {
    if (s.size() > 1) s += ',';
    detail::append_json_string(s, d.name);
    s += ":\"";
    s += d.digest.hex();
    s += '"';
  }
  s += '}';
  return s;
}

Result<void> embed_digests(const File& in, const std::filesystem::path& out, const HashOptions& options) {
  auto digests = hash_tensors(in, options);
  SFT_TRY(digests);
  const Header& h = in.header();

  // The same tensors in the same order, the same metadata plus the digests,
  // and the data buffer as aligned as it was (64 or 4096 when it was).
  WriterOptions wo;
  wo.keep_insertion_order = true;
  wo.alignment = h.data_start() % 4096 == 0 ? 4096 : h.data_start() % 64 == 0 ? 64 : 8;
  Writer w(wo);
  for (const MetadataEntry& m : h.metadata())
    if (m.key != digest_metadata_key)
      SFT_TRY(w.set_metadata(m.key, m.value));
  SFT_TRY(w.set_metadata(digest_metadata_key, format_digest_metadata(*digests)));
  for (const TensorInfo& t : h.tensors())
    SFT_TRY(w.declare(t.name, t.dtype, t.shape));

  // Bytes are hashed again as they are copied: if the input changed since it
  // was hashed, the copy is abandoned rather than written with digests that
  // do not describe it.
  constexpr std::uint64_t chunk = std::uint64_t{16} << 20;
  std::vector<std::byte> buf;
  return w.write_file(out, [&](const TensorInfo& t, TensorSink& sink) -> Result<void> {
    const TensorInfo* src = h.find(t.name);
    const std::size_t index = static_cast<std::size_t>(src - h.tensors().data());
    Xxh3Hasher hasher;
    const auto view = in.view(*src);  // zero-copy where the bytes are in memory, else chunks read
    for (std::uint64_t off = 0; off < t.byte_size(); off += chunk) {
      const auto n = static_cast<std::size_t>(std::min(chunk, t.byte_size() - off));
      std::span<const std::byte> piece;
      if (view) {
        piece = view->bytes().subspan(static_cast<std::size_t>(off), n);
      } else {
        buf.resize(std::max(buf.size(), n));
        SFT_TRY(in.read_range(*src, off, {buf.data(), n}));
        piece = {buf.data(), n};
      }
      hasher.update(piece);
      SFT_TRY(sink.write(piece));
    }
    if (hasher.digest() != (*digests)[index].digest)
      return Error(Errc::io_error, "the input changed while it was copied", Error::no_offset, std::string(t.name));
    return {};
  });
}

}  // namespace sft
