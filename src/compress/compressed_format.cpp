#include "compress/compressed_format.hpp"

#include <algorithm>
#include <string>

#ifdef SFT_HAVE_ZSTD
#include <zstd.h>
#endif

namespace sft::detail {

namespace {

std::string num(std::uint64_t v) { return std::to_string(v); }

// Sequential reads through a 64 KiB window, for walking frame and block
// headers without one system call per header.
class WindowReader {
 public:
  explicit WindowReader(const ByteSource& src, std::size_t window = std::size_t{64} << 10)
      : src_(src), buf_(window) {}
  // Copy n (<= the window) bytes at pos; the caller has checked pos + n <= size.
  Result<void> read(std::uint64_t pos, std::byte* out, std::size_t n) {
    if (pos < start_ || pos + n > start_ + have_) {
      std::uint64_t left = src_.size() - pos;
      have_ = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf_.size()));
      start_ = pos;
      if (auto r = src_.read(pos, {buf_.data(), have_}); !r) return r;
    }
    std::copy_n(buf_.data() + (pos - start_), n, out);
    return {};
  }

 private:
  const ByteSource& src_;
  std::vector<std::byte> buf_;
  std::uint64_t start_ = 0;
  std::size_t have_ = 0;
};

Error truncated_in_frame(std::uint64_t frame, std::uint64_t at) {
  return Error(Errc::compressed_truncated,
               "the file ends inside frame " + num(frame) + " and has no seek table: it was cut short", at);
}

// No seek-table footer at the end: walk the frames from the start to tell a
// file cut short (compressed_truncated) from a zstd file that never had a seek
// table (bad_seek_table) and from bytes that are not zstd at all
// (compressed_corrupt). Only block headers are read; each step advances at
// least 3 bytes, so the walk is bounded by the file's size.
Error diagnose_missing_table(const ByteSource& src, std::uint64_t begin) {
  const std::uint64_t size = src.size();
  WindowReader in(src);
  std::uint64_t pos = begin;
  std::uint64_t frame = 0;
  std::byte b[8];
  for (; pos < size; ++frame) {
    if (size - pos < 4) return truncated_in_frame(frame, pos);
    if (auto r = in.read(pos, b, 4); !r) return std::move(r).error();
    const std::uint32_t magic = load_le32(b);
    if (is_skippable_magic(magic)) {
      if (size - pos < 8) return truncated_in_frame(frame, pos);
      if (auto r = in.read(pos, b, 8); !r) return std::move(r).error();
      std::uint64_t len = load_le32(b + 4);
      if (len > size - pos - 8) return truncated_in_frame(frame, pos);
      pos += 8 + len;
      continue;
    }
    if (magic != zstd_frame_magic)
      return Error(Errc::compressed_corrupt,
                   "no seek table, and frame " + num(frame) + " does not start with a zstd magic number", pos);
    // Frame header (zstd format, section "Frame_Header"): magic, descriptor,
    // optional window byte, dictionary id and content size.
    if (size - pos < 5) return truncated_in_frame(frame, pos);
    if (auto r = in.read(pos + 4, b, 1); !r) return std::move(r).error();
    const auto fhd = static_cast<unsigned>(b[0]);
    if (fhd & 0x08)
      return Error(Errc::compressed_corrupt, "no seek table, and frame " + num(frame) + " has a malformed header", pos);
    const bool single_segment = (fhd >> 5) & 1;
    static constexpr unsigned dict_bytes[4] = {0, 1, 2, 4};
    static constexpr unsigned fcs_bytes[4] = {0, 2, 4, 8};
    const unsigned fcs = (fhd >> 6) == 0 ? (single_segment ? 1 : 0) : fcs_bytes[fhd >> 6];
    const std::uint64_t header_bytes = 5 + (single_segment ? 0 : 1) + dict_bytes[fhd & 3] + fcs;
    if (header_bytes > size - pos) return truncated_in_frame(frame, pos);
    const bool has_checksum = (fhd >> 2) & 1;
    std::uint64_t p = pos + header_bytes;
    for (;;) {
      if (size - p < 3) return truncated_in_frame(frame, p);
      if (auto r = in.read(p, b, 3); !r) return std::move(r).error();
      const std::uint32_t bh = static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8 |
                               static_cast<std::uint32_t>(b[2]) << 16;
      const std::uint32_t type = (bh >> 1) & 3;
      if (type == 3)
        return Error(Errc::compressed_corrupt, "no seek table, and frame " + num(frame) + " has a reserved block type", p);
      const std::uint64_t payload = type == 1 ? 1 : (bh >> 3);
      if (payload > size - p - 3) return truncated_in_frame(frame, p);
      p += 3 + payload;
      if (bh & 1) break;
    }
    if (has_checksum) {
      if (size - p < 4) return truncated_in_frame(frame, p);
      p += 4;
    }
    pos = p;
  }
  return Error(Errc::bad_seek_table,
               "no seek table after " + num(frame) +
                   " complete frame(s): a zstd file not written by sft compress (decompress it with zstd -d), "
                   "or a checkpoint cut short at a frame boundary",
               size);
}

std::uint64_t max_compressed_frame(std::uint64_t max_frame_bytes) {
#ifdef SFT_HAVE_ZSTD
  // ZSTD_compressBound is defined for sizes below ~4 GiB; larger limits are clamped to the field's width.
  if (max_frame_bytes >= 0xFE000000u) return 0xFFFFFFFFu;
  return ZSTD_compressBound(static_cast<std::size_t>(max_frame_bytes));
#else
  return max_frame_bytes + (max_frame_bytes >> 7) + 512;
#endif
}

#ifdef SFT_HAVE_ZSTD

// The largest zstd frame header (magic, descriptor, window, dictionary id,
// 8-byte content size): ZSTD_FRAMEHEADERSIZE_MAX.
constexpr std::size_t max_frame_header_bytes = 18;

// Every byte of the file must belong to the frame the seek table says it
// does, exactly as decompression (and zstd -d) sees it; otherwise one file
// holds two models: the one sft reads and another that zstd -d writes out.
// Reads never decode a frame the table gives 0 bytes, so without this check a
// real zstd frame listed with 0 bytes, or a skippable frame whose own length
// covers less than its entry (the rest hiding a zstd frame), would go unseen
// by everything but whole-file decompression.
//
// Cost: one small read per frame (a frame header is at most 18 bytes), through
// a 4 KiB window so that densely packed hostile frames share reads: about
// 1,000 reads for a 4 GiB checkpoint of 4 MiB frames. Only frames that reads
// would never check in full are decoded here: the ones the table gives 0
// bytes (a few bytes each in sft's files) and frames whose header omits the
// content size (not written by sft or zstd's command-line tool; such a file is
// decoded once at open). A frame that declares its content size and is given
// bytes is checked completely when it is decoded: its header already agrees
// with the table, so zstd -d and sft cannot see different lengths.
Result<void> check_frames(const ByteSource& src, const SeekTable& t) {
  WindowReader in(src, 4096);
  std::byte head[max_frame_header_bytes];
  std::vector<std::byte> whole, out;
  ZSTD_DCtx* dctx = nullptr;
  struct Free {
    ZSTD_DCtx*& d;
    ~Free() { ZSTD_freeDCtx(d); }
  } free_ctx{dctx};
  for (std::size_t i = 0; i < t.frames.size(); ++i) {
    const FrameInfo& f = t.frames[i];
    const std::uint64_t at = f.compressed_offset;
    auto corrupt = [&](const std::string& what) {
      return Error(Errc::compressed_corrupt, "frame " + num(i) + " " + what, at);
    };
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(f.compressed_size, sizeof head));
    if (auto r = in.read(at, head, n); !r) return r;
    if (n < 4) return corrupt("is " + num(n) + " bytes long, too short for a frame");
    const std::uint32_t magic = load_le32(head);
    if (is_skippable_magic(magic)) {
      if (f.size != 0) return corrupt("is a skippable frame but the seek table gives it " + num(f.size) + " bytes");
      if (n < skippable_header_bytes || load_le32(head + 4) != f.compressed_size - skippable_header_bytes)
        return corrupt("is a skippable frame whose length disagrees with the seek table's " +
                       num(f.compressed_size) + " bytes");
      continue;
    }
    if (magic != zstd_frame_magic) return corrupt("does not start with a zstd magic number");
    const unsigned long long content = ZSTD_getFrameContentSize(head, n);
    if (content == ZSTD_CONTENTSIZE_ERROR)
      return corrupt("has a malformed frame header, or one longer than the " + num(f.compressed_size) +
                     " bytes the seek table gives the frame");
    const bool declared = content != ZSTD_CONTENTSIZE_UNKNOWN;
    if (declared && content != f.size)
      return corrupt("declares " + num(content) + " bytes but the seek table gives it " + num(f.size));
    if (declared && f.size != 0) continue;  // checked in full whenever it is decoded

    // Decode it now: it must end exactly at the table's size and produce
    // exactly the table's bytes. Both buffers are bounded by the limits the
    // entry was checked against.
    whole.resize(static_cast<std::size_t>(f.compressed_size));
    if (auto r = src.read(at, whole); !r) return r;
    const std::size_t found = ZSTD_findFrameCompressedSize(whole.data(), whole.size());
    if (ZSTD_isError(found))
      return Error(Errc::compressed_truncated,
                   "frame " + num(i) + " is cut short or malformed: " + ZSTD_getErrorName(found), at);
    if (found != whole.size())
      return corrupt("ends after " + num(found) + " of the " + num(whole.size()) + " bytes the seek table gives it");
    out.resize(static_cast<std::size_t>(f.size));
    if (!dctx && !(dctx = ZSTD_createDCtx()))
      return Error(Errc::out_of_memory, "out of memory creating a zstd decompression context", at);
    const std::size_t got = ZSTD_decompressDCtx(dctx, out.data(), out.size(), whole.data(), whole.size());
    if (ZSTD_isError(got))
      return corrupt("does not decode to the " + num(f.size) + " bytes the seek table gives it: " +
                     ZSTD_getErrorName(got));
    if (got != f.size)
      return corrupt("decodes to " + num(got) + " bytes but the seek table gives it " + num(f.size));
  }
  return {};
}

#else

Result<void> check_frames(const ByteSource&, const SeekTable&) { return {}; }  // nothing decodes without zstd

#endif

}  // namespace

std::vector<std::byte> encode_planes_prefix() {
  std::vector<std::byte> p(planes_prefix_bytes, std::byte{0});
  store_le32(p.data(), planes_prefix_magic);
  p[4] = std::byte{planes_prefix_version};
  p[5] = std::byte{planes_flag_16bit};
  return p;
}

std::vector<std::byte> encode_seek_table(std::span<const FrameInfo> frames, bool with_checksums) {
  const std::size_t entry = with_checksums ? 12 : 8;
  const std::size_t body = frames.size() * entry + seek_footer_bytes;
  std::vector<std::byte> t(skippable_header_bytes + body);
  std::byte* p = t.data();
  store_le32(p, seek_table_frame_magic);
  store_le32(p + 4, static_cast<std::uint32_t>(body));
  p += 8;
  for (const FrameInfo& f : frames) {
    store_le32(p, static_cast<std::uint32_t>(f.compressed_size));
    store_le32(p + 4, static_cast<std::uint32_t>(f.size));
    if (with_checksums) store_le32(p + 8, f.checksum);
    p += entry;
  }
  store_le32(p, static_cast<std::uint32_t>(frames.size()));
  p[4] = with_checksums ? std::byte{descriptor_checksums} : std::byte{0};
  store_le32(p + 5, seekable_footer_magic);
  return t;
}

Result<SeekTable> read_seek_table(const ByteSource& src, const Limits& limits) {
  const std::uint64_t size = src.size();
  SeekTable t;
  std::byte head[planes_prefix_bytes];
  if (size < 4)
    return Error(Errc::compressed_truncated, num(size) + " bytes cannot hold a compressed checkpoint", 0);
  if (auto r = src.read(0, {head, 4}); !r) return std::move(r).error();
  if (load_le32(head) == planes_prefix_magic) {
    if (size < planes_prefix_bytes)
      return Error(Errc::compressed_truncated, "the file ends inside its 8-byte SFTZ prefix", 0);
    if (auto r = src.read(0, {head, planes_prefix_bytes}); !r) return std::move(r).error();
    const auto version = static_cast<std::uint8_t>(head[4]);
    const auto flags = static_cast<std::uint8_t>(head[5]);
    if (version != planes_prefix_version)
      return Error(Errc::compressed_unsupported, "SFTZ prefix of version " + num(version) + " (this build reads version 1)", 4);
    if ((flags & ~planes_flag_16bit) != 0 || head[6] != std::byte{0} || head[7] != std::byte{0})
      return Error(Errc::compressed_unsupported, "SFTZ prefix with unknown flags", 5);
    t.byte_planes = (flags & planes_flag_16bit) != 0;
    t.frames_begin = planes_prefix_bytes;
  } else if (load_le32(head) != zstd_frame_magic) {
    return Error(Errc::bad_seek_table, "not a compressed checkpoint: it does not start with a zstd frame", 0);
  }

  // The footer: the last 9 bytes.
  const std::uint64_t room = size - t.frames_begin;
  if (room < skippable_header_bytes + seek_footer_bytes) return diagnose_missing_table(src, t.frames_begin);
  std::byte footer[seek_footer_bytes];
  if (auto r = src.read(size - seek_footer_bytes, footer); !r) return std::move(r).error();
  if (load_le32(footer + 5) != seekable_footer_magic) return diagnose_missing_table(src, t.frames_begin);
  const std::uint64_t n = load_le32(footer);
  const auto descriptor = static_cast<std::uint8_t>(footer[4]);
  const std::uint64_t footer_at = size - seek_footer_bytes;
  if (descriptor & descriptor_reserved)
    return Error(Errc::compressed_unsupported, "the seek table descriptor sets reserved bits", footer_at + 4);
  t.checksums = (descriptor & descriptor_checksums) != 0;
  if (n > limits.max_frames)
    return Error(Errc::compressed_too_large,
                 "the seek table lists " + num(n) + " frames, more than the limit of " + num(limits.max_frames), footer_at);
  const std::uint64_t entry = t.checksums ? 12 : 8;
  const std::uint64_t body = n * entry + seek_footer_bytes;  // n < 2^32: no overflow
  if (skippable_header_bytes + body > room)
    return Error(Errc::bad_seek_table,
                 "a seek table of " + num(n) + " frames needs " + num(skippable_header_bytes + body) +
                     " bytes but the file holds only " + num(room),
                 footer_at);
  t.frames_end = size - skippable_header_bytes - body;
  std::byte sh[skippable_header_bytes];
  if (auto r = src.read(t.frames_end, sh); !r) return std::move(r).error();
  if (load_le32(sh) != seek_table_frame_magic)
    return Error(Errc::bad_seek_table, "the seek table does not start with the skippable magic 0x184D2A5E", t.frames_end);
  if (load_le32(sh + 4) != body)
    return Error(Errc::bad_seek_table,
                 "the seek table frame says it holds " + num(load_le32(sh + 4)) + " bytes, but " + num(n) +
                     " entries and the footer take " + num(body),
                 t.frames_end + 4);

  // n entries: the buffer is bounded by bytes that exist in the file.
  std::vector<std::byte> raw(static_cast<std::size_t>(n * entry));
  if (auto r = src.read(t.frames_end + skippable_header_bytes, raw); !r) return std::move(r).error();
  const std::uint64_t max_c = max_compressed_frame(limits.max_frame_bytes);
  t.frames.reserve(static_cast<std::size_t>(n));
  std::uint64_t pos = t.frames_begin, off = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::byte* e = raw.data() + i * entry;
    const std::uint64_t at = t.frames_end + skippable_header_bytes + i * entry;  // of the entry
    FrameInfo f;
    f.compressed_size = load_le32(e);
    f.size = load_le32(e + 4);
    f.checksum = t.checksums ? load_le32(e + 8) : 0;
    if (f.size > limits.max_frame_bytes)
      return Error(Errc::compressed_too_large,
                   "frame " + num(i) + " decompresses to " + num(f.size) + " bytes, more than the limit of " +
                       num(limits.max_frame_bytes),
                   at);
    if (f.compressed_size > max_c)
      return Error(Errc::compressed_too_large,
                   "frame " + num(i) + " is " + num(f.compressed_size) + " bytes compressed, more than any frame within the limit can take",
                   at);
    if (f.compressed_size == 0)
      return Error(Errc::bad_seek_table, "frame " + num(i) + " has no bytes (every frame has a header)", at);
    if (f.compressed_size > t.frames_end - pos)
      return Error(Errc::bad_seek_table,
                   "frame " + num(i) + " (" + num(f.compressed_size) + " bytes at " + num(pos) +
                       ") runs past the start of the seek table at " + num(t.frames_end),
                   at);
    f.compressed_offset = pos;
    f.offset = off;
    pos += f.compressed_size;
    off += f.size;
    t.frames.push_back(f);
  }
  if (pos != t.frames_end)
    return Error(Errc::bad_seek_table,
                 "the frames in the seek table end at " + num(pos) + " but the seek table starts at " + num(t.frames_end),
                 pos);
  t.total = off;
  if (auto r = check_frames(src, t); !r) return std::move(r).error();
  return t;
}

}  // namespace sft::detail

namespace sft {

bool is_compressed(std::span<const std::byte> prefix) noexcept {
  if (prefix.size() < 4) return false;
  const std::uint32_t m = detail::load_le32(prefix.data());
  return m == detail::zstd_frame_magic || m == detail::planes_prefix_magic;
}

bool compression_available() noexcept {
#ifdef SFT_HAVE_ZSTD
  return true;
#else
  return false;
#endif
}

}  // namespace sft
