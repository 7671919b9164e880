// XXH3-128 of tensors and whole files, in every File mode.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <numeric>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "sft_internal/guard.hpp"
#include "sft_internal/parallel.hpp"
#include "sft/digest.hpp"
#include "sft/file.hpp"
#include "integrity/xxh3.hpp"

namespace sft {

namespace {

const detail::Xxh3Kernel& kernel() noexcept { return detail::xxh3_kernel(); }

// Bytes read at a time from files that are not mapped: 16 MiB with pread, 64 MiB remote;
// for a compressed checkpoint two 4 MiB frames per hardware thread, which the
// reader decodes in parallel.
std::size_t read_chunk(const File& file) {
  constexpr std::size_t base = std::size_t{16} << 20;
  // A remote file: enough for one read to keep RemoteOptions::connections
  // range requests (of part_bytes) in flight at once.
  if (file.source_kind() == "remote") return std::size_t{64} << 20;
  if (!file.compressed()) return base;
  return std::max(base, std::size_t{2} * detail::resolve_threads(0) * (std::size_t{4} << 20));
}
// Bytes hashed into the file digest before the same bytes, still in cache,
// go into the tensor digest (hash_all).
constexpr std::size_t cache_chunk = std::size_t{256} << 10;

Result<void> check_info(const File& file, const TensorInfo& info) {
  if (info.data_offsets.end > file.header().data_size() || info.data_offsets.begin > info.data_offsets.end)
    return Error(Errc::invalid_argument, "tensor entry does not belong to this file", Error::no_offset,
                 std::string(info.name));
  return {};
}

// Call fn(offset, bytes) over the file's bytes [begin, end) in order: one
// span for a mapped file, chunks read into `buf` otherwise.
template <class Fn>
Result<void> for_each_piece(const File& file, std::uint64_t begin, std::uint64_t end, std::vector<std::byte>& buf,
                            Fn&& fn) {
  if (begin == end) return {};
  if (auto whole = file.bytes()) {  // in memory: one span
    fn(begin, whole->subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin)));
    return {};
  }
  // The buffer starts at the same offset within a page as the bytes read
  // into it: the kernel's copy out of the page cache runs at full speed only
  // when source and destination are aligned alike (3x slower otherwise, as
  // measured on x86 for 16 MiB reads).
  const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(read_chunk(file), end - begin));
  constexpr std::size_t page = 4096;
  buf.resize(chunk + page);
  const auto base_misalign = reinterpret_cast<std::uintptr_t>(buf.data()) % page;
  const std::size_t shift = (static_cast<std::size_t>(begin % page) + page - base_misalign) % page;
  std::byte* const dst = buf.data() + shift;
  for (std::uint64_t p = begin; p < end;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, end - p));
    if (auto r = file.read_bytes(p, {dst, n}); !r) return r;
    fn(p, std::span<const std::byte>(dst, n));
    p += n;
  }
  return {};
}

Result<Digest128> hash_range(const File& file, std::uint64_t begin, std::uint64_t end, std::vector<std::byte>& buf) {
  if (auto whole = file.bytes())
    return xxh3_128(whole->subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin)));
  Xxh3Hasher h;
  if (auto r = for_each_piece(file, begin, end, buf, [&](std::uint64_t, std::span<const std::byte> b) { h.update(b); }); !r)
    return std::move(r).error();
  return h.digest();
}

// One pass over the file in order (tensors tile the data buffer): every
// byte goes to exactly one tensor hasher and, with_file, to the file hasher
// too, chunk by chunk so that the second hash reads from cache, not memory.
// For files that are not mapped the bytes are read (or decompressed, frames
// in parallel) once, whatever the number of tensors.
Result<FileDigests> walk(const File& file, bool with_file) {
  const auto tensors = file.header().tensors();
  const std::uint64_t ds = file.header().data_start();
  FileDigests out;
  out.tensors.reserve(tensors.size());
  Xxh3Hasher whole, part;
  std::size_t ti = 0;  // the tensor being hashed
  auto emit = [&] {
    out.tensors.push_back({tensors[ti].name, part.digest()});
    part.reset();
    ++ti;
  };
  auto feed = [&](std::uint64_t pos, std::span<const std::byte> piece) {
    for (std::size_t off = 0; off < piece.size();) {
      const std::size_t n = std::min(cache_chunk, piece.size() - off);
      if (with_file) whole.update(piece.subspan(off, n));
      std::uint64_t p = pos + off;
      const std::uint64_t q = p + n;
      if (p < ds) p = std::min(q, ds);  // header bytes belong to no tensor
      while (p < q) {
        while (ti < tensors.size() && tensors[ti].byte_size() == 0) emit();
        const std::uint64_t tend = ds + tensors[ti].data_offsets.end;
        const std::uint64_t take = std::min(q, tend) - p;
        part.update(piece.subspan(static_cast<std::size_t>(p - pos), static_cast<std::size_t>(take)));
        p += take;
        if (p == tend) emit();
      }
      off += n;
    }
  };
  std::vector<std::byte> buf;
  if (auto r = for_each_piece(file, with_file ? 0 : ds, file.size(), buf, feed); !r) return std::move(r).error();
  while (ti < tensors.size()) emit();  // zero-size tensors at the very end
  if (with_file) out.file = whole.digest();
  return out;
}

}  // namespace

std::string Digest128::hex() const {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(32, '0');
  for (int i = 0; i < 16; ++i) {
    s[static_cast<std::size_t>(15 - i)] = digits[(high >> (4 * i)) & 15];
    s[static_cast<std::size_t>(31 - i)] = digits[(low >> (4 * i)) & 15];
  }
  return s;
}

std::optional<Digest128> Digest128::from_hex(std::string_view hex) noexcept {
  if (hex.size() != 32) return std::nullopt;
  Digest128 d;
  for (std::size_t i = 0; i < 32; ++i) {
    const char c = hex[i];
    unsigned v;
    if (c >= '0' && c <= '9') v = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') v = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v = static_cast<unsigned>(c - 'A' + 10);
    else return std::nullopt;
    std::uint64_t& half = i < 16 ? d.high : d.low;
    half = (half << 4) | v;
  }
  return d;
}

Digest128 xxh3_128(std::span<const std::byte> bytes) noexcept {
  std::uint64_t out[2];
  kernel().oneshot(bytes.data(), bytes.size(), out);
  return {out[0], out[1]};
}

Xxh3Hasher::Xxh3Hasher() noexcept : state_{} { kernel().reset(state_); }
void Xxh3Hasher::reset() noexcept { kernel().reset(state_); }
void Xxh3Hasher::update(std::span<const std::byte> bytes) noexcept {
  if (!bytes.empty()) kernel().update(state_, bytes.data(), bytes.size());
}
Digest128 Xxh3Hasher::digest() const noexcept {
  std::uint64_t out[2];
  kernel().digest(state_, out);
  return {out[0], out[1]};
}

Result<Digest128> hash_tensor(const File& file, const TensorInfo& info) {
  if (auto r = check_info(file, info); !r) return std::move(r).error();
  const std::uint64_t ds = file.header().data_start();
  std::vector<std::byte> buf;
  auto d = hash_range(file, ds + info.data_offsets.begin, ds + info.data_offsets.end, buf);
  if (!d) {
    Error e = std::move(d).error();
    e.tensor = std::string(info.name);
    return e;
  }
  return d;
}

Result<std::vector<TensorDigest>> hash_tensors(const File& file, const HashOptions& options) {
  // Read or decompressed bytes: one pass in file order (decompression is
  // parallel within it), rather than threads that would each decompress.
  if (!file.mapped()) {
    auto w = walk(file, false);
    SFT_TRY(w);
    return std::move(w->tensors);
  }
  const auto tensors = file.header().tensors();
  const std::uint64_t ds = file.header().data_start();
  std::vector<TensorDigest> out(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) out[i].name = tensors[i].name;
  // Largest first, so that one big tensor left for last does not run alone.
  std::vector<std::size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return tensors[a].byte_size() > tensors[b].byte_size(); });
  // Small files are not worth a thread.
  const std::uint64_t total = file.header().data_size();
  const unsigned threads = total < (std::uint64_t{8} << 20) ? 1 : detail::resolve_threads(options.threads);
  std::vector<std::vector<std::byte>> bufs(detail::worker_count(order.size(), threads));
  std::vector<Result<void>> status(tensors.size());
  std::atomic<bool> failed{false};
  auto ran = detail::parallel_for(order.size(), threads, [&](std::size_t k, unsigned w) {
    if (failed.load(std::memory_order_relaxed)) return;
    const std::size_t i = order[k];
    const TensorInfo& t = tensors[i];
    auto d = hash_range(file, ds + t.data_offsets.begin, ds + t.data_offsets.end, bufs[w]);
    if (!d) {
      Error e = std::move(d).error();
      e.tensor = std::string(t.name);
      status[i] = std::move(e);
      failed.store(true, std::memory_order_relaxed);
      return;
    }
    out[i].digest = *d;
  });
  SFT_TRY(ran);
  for (auto& s : status)
    SFT_TRY(s);
  return out;
}

Result<Digest128> hash_file(const File& file) {
  std::vector<std::byte> buf;
  return hash_range(file, 0, file.size(), buf);
}

namespace {

// The file digest on a thread of its own while the tensors are hashed on the
// others: each byte is read twice from memory, but the file hash, inherently
// sequential, no longer waits for the tensors. nullopt if no thread starts.
std::optional<Result<FileDigests>> hash_all_parallel(const File& file, unsigned threads) {
  std::optional<Result<Digest128>> whole;
  std::thread t;
  try {
    t = std::thread([&] { whole = detail::guarded([&] { return hash_file(file); }); });
  } catch (...) {
    return std::nullopt;
  }
  HashOptions rest;
  rest.threads = threads - 1;
  auto tensors = hash_tensors(file, rest);
  t.join();
  if (!*whole) return Result<FileDigests>(std::move(*whole).error());
  if (!tensors) return Result<FileDigests>(std::move(tensors).error());
  return Result<FileDigests>(FileDigests{**whole, std::move(*tensors)});
}

}  // namespace

Result<FileDigests> hash_all(const File& file, const HashOptions& options) {
  const unsigned threads = detail::resolve_threads(options.threads);
  if (threads > 1 && file.mapped() && file.size() >= (std::uint64_t{8} << 20))
    if (auto r = hash_all_parallel(file, threads)) return std::move(*r);
  return walk(file, true);
}

}  // namespace sft
