// bench/write_driver.cpp — sft_write_driver, the sft side of bench/write_compare.py
// and the bounded-memory streaming demonstration.
//
//   sft_write_driver compare SPEC OUTDIR [--keep]
//       SPEC: one tensor a line, "NAME DTYPE DIM...". Builds the tensors in
//       memory (byte i of tensor k is (i * 31 + k * 7) & 0xff, the pattern
//       write_compare.py also uses), then times, once each, in this order:
//         sft      Writer::write_file, durable = false (no fsync, like the reference)
//         plain    open + write() of the same file bytes from one buffer + close
//         sft_sync Writer::write_file, durable = true (fsync file and directory)
//         plain_sync  the plain write followed by fsync
//       and prints one JSON object of seconds. Each output is deleted after its
//       timed region (so the next write reuses freshly freed page-cache pages:
//       on a VM, pages the guest has not used for a while fault in from the host
//       slowly and would burden whichever phase came first), except that
//       --keep keeps OUTDIR/sft.safetensors for the cross-check.
//
//   sft_write_driver stream OUT [--gib N] [--chunk-mib M] [--shuffle]
//       Declares N GiB (default 8) of F32 tensors of 128 MiB each and streams
//       them from a generator through a StreamingWriter in M MiB chunks
//       (default 4), in data order or (--shuffle) tensors in random order;
//       the only buffer is one chunk, so peak RSS stays a few MiB whatever N
//       is. Prints seconds and GB/s. Run it under /usr/bin/time -v.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "sft/sft.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int fail(const std::string& what) {
  std::fprintf(stderr, "sft_write_driver: %s\n", what.c_str());
  return 1;
}

struct Tensor {
  std::string name;
  sft::DType dtype;
  std::vector<std::uint64_t> shape;
  std::vector<std::byte> data;
};

void fill(std::vector<std::byte>& d, std::size_t k) {
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::byte>((i * 31 + k * 7) & 0xff);
}

bool plain_write(const std::string& path, const std::vector<std::byte>& bytes, bool sync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, std::min<std::size_t>(bytes.size() - off, std::size_t{1} << 30));
    if (n <= 0) {
      ::close(fd);
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  if (sync && ::fsync(fd) != 0) {
    ::close(fd);
    return false;
  }
  return ::close(fd) == 0;
}

int compare(const std::string& spec_path, const std::string& outdir, bool keep) {
  std::ifstream spec(spec_path);
  if (!spec) return fail("cannot read " + spec_path);
  std::vector<Tensor> tensors;
  std::string line;
  while (std::getline(spec, line)) {
    std::istringstream in(line);
    Tensor t;
    std::string dt;
    if (!(in >> t.name >> dt)) continue;
    auto d = sft::parse_dtype(dt);
    if (!d) return fail("unknown dtype " + dt);
    t.dtype = *d;
    std::uint64_t x, n = 1;
    while (in >> x) {
      t.shape.push_back(x);
      n *= x;
    }
    t.data.resize(n * sft::bits(t.dtype) / 8);
    fill(t.data, tensors.size());
    tensors.push_back(std::move(t));
  }
  auto make = [&](bool durable) {
    sft::WriterOptions o;
    o.durable = durable;
    sft::Writer w(o);
    for (const auto& t : tensors)
      if (auto r = w.add(t.name, t.dtype, t.shape, t.data); !r) std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
    return w;
  };
  const std::string sft_path = outdir + "/sft.safetensors", plain_path = outdir + "/plain.safetensors";
  auto whole = make(false).serialize();  // the plain writes' buffer, built outside the timing
  if (!whole) return fail(whole.error().to_string());

  double t_sft, t_plain, t_sft_sync, t_plain_sync;
  // Every timed write goes to a path that does not exist, as the reference's
  // does in write_compare.py (replacing a file costs extra on ext4, whose
  // auto_da_alloc flushes a file renamed over another), and starts on a
  // settled file system: settle() flushes what earlier writes and deletions
  // left pending (dirty pages, journal commits, discards), which would
  // otherwise land in whichever timed region comes next.
  std::filesystem::remove(sft_path);
  // Untimed warm-up: building the tensors and `whole` above took fresh memory,
  // so the first timed write would be the only one not preceded by the
  // deletion of an equally large file. Give it one.
  if (!plain_write(plain_path, *whole, false)) return fail("plain write failed");
  std::filesystem::remove(plain_path);
  auto settle = [&] {
    int fd = ::open(outdir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
      ::syncfs(fd);
      ::close(fd);
    }
  };
  {
    auto w = make(false);
    settle();
    auto t0 = Clock::now();
    if (auto r = w.write_file(sft_path); !r) return fail(r.error().to_string());
    t_sft = since(t0);
  }
  if (!keep) std::filesystem::remove(sft_path);
  {
    settle();
    auto t0 = Clock::now();
    if (!plain_write(plain_path, *whole, false)) return fail("plain write failed");
    t_plain = since(t0);
  }
  std::filesystem::remove(plain_path);
  {
    auto w = make(true);
    settle();
    auto t0 = Clock::now();
    if (auto r = w.write_file(outdir + "/sft_sync.safetensors"); !r) return fail(r.error().to_string());
    t_sft_sync = since(t0);
  }
  std::filesystem::remove(outdir + "/sft_sync.safetensors");
  {
    settle();
    auto t0 = Clock::now();
    if (!plain_write(plain_path, *whole, true)) return fail("plain write failed");
    t_plain_sync = since(t0);
  }
  std::filesystem::remove(plain_path);
  std::printf("{\"bytes\": %zu, \"sft\": %.6f, \"plain\": %.6f, \"sft_sync\": %.6f, \"plain_sync\": %.6f}\n",
              whole->size(), t_sft, t_plain, t_sft_sync, t_plain_sync);
  return 0;
}

int stream(const std::string& out, std::uint64_t gib, std::uint64_t chunk_mib, bool shuffle) {
  constexpr std::uint64_t kTensorBytes = 128ull << 20;
  const std::uint64_t count = gib * (1ull << 30) / kTensorBytes;
  sft::Writer w;
  for (std::uint64_t i = 0; i < count; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model.layers.%03llu.weight", static_cast<unsigned long long>(i));
    if (auto r = w.declare(name, sft::DType::F32, {kTensorBytes / 4 / 4096, 4096}); !r)
      return fail(r.error().to_string());
  }
  auto t0 = Clock::now();
  auto s = w.begin_file(out);
  if (!s) return fail(s.error().to_string());
  std::vector<std::size_t> order(count);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (shuffle) std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
  std::vector<std::byte> chunk(chunk_mib << 20);
  for (std::size_t i : order) {
    const std::uint64_t size = s->plan().tensors()[i].byte_size();
    for (std::uint64_t off = 0; off < size; off += chunk.size()) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), size - off));
      // The "generator": a cheap pattern of the tensor and offset.
      auto* words = reinterpret_cast<std::uint64_t*>(chunk.data());
      for (std::size_t k = 0; k < n / 8; ++k) words[k] = (off / 8 + k) * 0x9e3779b97f4a7c15ull + i;
      if (auto r = s->write_at(i, off, std::span<const std::byte>(chunk).first(n)); !r)
        return fail(r.error().to_string());
    }
  }
  if (auto r = s->commit(); !r) return fail(r.error().to_string());
  const double secs = since(t0);
  auto f = sft::File::open(out, {sft::ReadMode::pread});
  if (!f) return fail("reading back: " + f.error().to_string());
  std::printf("{\"bytes\": %llu, \"tensors\": %zu, \"seconds\": %.3f, \"GBps\": %.3f, \"reread_tensors\": %zu}\n",
              static_cast<unsigned long long>(f->size()), static_cast<std::size_t>(count), secs,
              static_cast<double>(f->size()) / secs / 1e9, f->header().size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if ((a.size() == 3 || (a.size() == 4 && a[3] == "--keep")) && a[0] == "compare")
    return compare(a[1], a[2], a.size() == 4);
  if (a.size() >= 2 && a[0] == "stream") {
    std::uint64_t gib = 8, chunk = 4;
    bool shuffle = false;
    for (std::size_t i = 2; i < a.size(); ++i) {
      if (a[i] == "--gib" && i + 1 < a.size()) gib = std::stoull(a[++i]);
      else if (a[i] == "--chunk-mib" && i + 1 < a.size()) chunk = std::stoull(a[++i]);
      else if (a[i] == "--shuffle") shuffle = true;
      else return fail("unknown argument " + a[i]);
    }
    return stream(a[1], gib, chunk, shuffle);
  }
  std::fprintf(stderr,
               "usage: sft_write_driver compare SPEC OUTDIR [--keep]\n"
               "       sft_write_driver stream OUT [--gib N] [--chunk-mib M] [--shuffle]\n");
  return 2;
}
