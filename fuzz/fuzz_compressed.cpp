// fuzz/fuzz_compressed.cpp — compressed checkpoints (docs/compression.md) from
// memory: the seek table, the frames and the decompressed header are all
// untrusted.
//
// Two properties besides "no crash, no unbounded allocation":
//  - an input the reader accepts is self-consistent: frames tile both the
//    compressed input and the decompressed file, the header is valid for the
//    decompressed size, and reading the same bytes in different pieces (and
//    on one or several threads) gives the same bytes or the same error;
//  - an input that is a plain safetensors file compresses and reads back to
//    exactly itself, with and without byte planes, at a frame size the input
//    chooses.
// Limits are lowered so that no input can make the reader allocate more than
// a few MiB however large the sizes its seek table claims.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "sft/compressed.hpp"
#include "sft/file.hpp"

namespace {

using namespace sft;

constexpr std::size_t max_read_per_input = std::size_t{4} << 20;

bool known_error(Errc c) {
  switch (c) {
    case Errc::compressed_corrupt: case Errc::compressed_truncated: case Errc::compressed_too_large:
    case Errc::bad_seek_table: case Errc::compressed_unsupported: return true;
    default: return static_cast<int>(c) >= 1 && static_cast<int>(c) <= 17;  // the decompressed header's own errors
  }
}

void check_error(const Error& e) {
  FUZZ_CHECK(known_error(e.code));
  FUZZ_CHECK(!e.message.empty());
  FUZZ_CHECK(!e.to_string().empty());
}

void check_reader(const CompressedReader& r, std::size_t input_size, std::uint8_t knobs) {
  fuzz::check_header(r.header(), r.size());
  FUZZ_CHECK(r.compressed_size() == input_size);
  std::uint64_t off = 0, coff = r.frames().empty() ? 0 : r.frames()[0].compressed_offset;
  for (const FrameInfo& f : r.frames()) {
    FUZZ_CHECK(f.offset == off);
    FUZZ_CHECK(f.compressed_offset == coff);
    off += f.size;
    coff += f.compressed_size;
  }
  FUZZ_CHECK(off == r.size());
  FUZZ_CHECK(coff <= input_size);

  // Read a bounded prefix of the decompressed file twice: in one piece, and
  // in pieces of a size the input chooses; on 1 or 3 threads.
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(r.size(), max_read_per_input));
  std::vector<std::byte> whole(n), pieces(n);
  r.set_threads((knobs & 1) ? 3 : 1);
  auto a = r.read(0, whole);
  const std::size_t step = 1 + (static_cast<std::size_t>(knobs) * 977) % 70000;
  Result<void> b;
  for (std::size_t p = 0; p < n && b; p += step) b = r.read(p, {pieces.data() + p, std::min(step, n - p)});
  if (a && b) FUZZ_CHECK(whole == pieces);
  if (!a) check_error(a.error());
  if (!b) check_error(b.error());
  FUZZ_CHECK(a.ok() == b.ok());  // the same frames are decoded either way
  // Out-of-range reads are refused, never served.
  std::byte one;
  auto past = r.read(r.size(), {&one, 1});
  FUZZ_CHECK(!past && past.error().code == Errc::invalid_argument);
  for (std::size_t i = 0; i < r.frames().size() && i < 4; ++i)
    if (auto c = r.check_frame(i); !c) check_error(c.error());
}

// A valid safetensors input must survive compression unchanged.
void check_round_trip(std::span<const std::byte> bytes, std::uint8_t knobs) {
  if (bytes.size() > (std::size_t{256} << 10)) return;
  auto f = File::from_memory(bytes);
  if (!f) return;
  CompressOptions o;
  o.level = 1;
  o.threads = (knobs & 2) ? 2 : 1;
  o.byte_planes = (knobs & 4) != 0;
  o.frame_bytes = 1 + (static_cast<std::uint64_t>(knobs) * 131) % 8192;
  auto z = compress(*f, o);
  FUZZ_CHECK(z.ok());
  auto r = CompressedReader::from_memory(*z);
  FUZZ_CHECK(r.ok());
  FUZZ_CHECK(r->size() == bytes.size());
  FUZZ_CHECK(r->byte_planes() == o.byte_planes);
  std::vector<std::byte> back(bytes.size());
  FUZZ_CHECK(r->read(0, back).ok());
  FUZZ_CHECK(std::memcmp(back.data(), bytes.data(), bytes.size()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (!sft::compression_available()) return 0;
  const auto bytes = sft::fuzz::as_bytes(data, size);
  const std::uint8_t knobs = size ? data[size / 2] : 0;
  sft::Limits limits;
  limits.max_frame_bytes = std::uint64_t{1} << 20;
  limits.max_frames = std::uint64_t{1} << 16;
  limits.max_header_bytes = std::uint64_t{1} << 20;
  auto r = sft::CompressedReader::from_memory(bytes, limits);
  if (r) check_reader(*r, size, knobs);
  else check_error(r.error());
  check_round_trip(bytes, knobs);
  return 0;
}
