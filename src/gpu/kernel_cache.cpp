// sft's cache of compiled kernel variants (kernel_cache.hpp): checked on the
// way in, atomic on the way out, bounded in size.
#include "kernel_cache.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sft/gpu/checksum.hpp"
#include "sft_internal/atomic_file.hpp"

namespace sft::gpu::detail {
namespace {

constexpr char kMagic[8] = {'S', 'F', 'T', 'K', 'B', 'I', 'N', '\x01'};
constexpr std::size_t kHeader = 40;

std::uint64_t digest_of(std::string_view s) { return digest(std::as_bytes(std::span(s.data(), s.size()))); }

void put64(std::byte* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
std::uint64_t get64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t(std::to_integer<unsigned>(p[i])) << (8 * i);
  return v;
}

// Read the whole regular file at `path`, at most `cap` bytes; nullopt with a reason otherwise.
std::optional<std::vector<std::byte>> read_bounded(const std::filesystem::path& path, std::uint64_t cap,
                                                   std::string& why, bool& missing) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    missing = errno == ENOENT;
    why = std::string("cannot open it: ") + std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    why = "not a regular file";
    return std::nullopt;
  }
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > cap) {
    ::close(fd);
    why = "larger than the cap of " + std::to_string(cap) + " bytes";
    return std::nullopt;
  }
  std::vector<std::byte> data(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (done != data.size()) {
    why = "short read";
    return std::nullopt;
  }
  return data;
}

// Evict entries, oldest first, until the directory holds at most 3/4 of the cap.
void evict(const std::filesystem::path& dir, std::uint64_t cap) {
  struct Entry {
    std::filesystem::path path;
    std::filesystem::file_time_type time;
    std::uint64_t size;
  };
  std::vector<Entry> entries;
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.size() != 20 || name.compare(16, 4, ".bin") != 0) continue;  // ours only: <16 hex>.bin
    std::error_code e1, e2, e3;
    if (!e.is_regular_file(e1)) continue;
    auto size = e.file_size(e2);
    auto time = e.last_write_time(e3);
    if (e1 || e2 || e3) continue;
    entries.push_back({e.path(), time, size});
    total += size;
  }
  if (total <= cap) return;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.time < b.time; });
  for (const Entry& e : entries) {
    if (total <= cap / 4 * 3) break;
    if (std::filesystem::remove(e.path, ec)) total -= e.size;
  }
}

}  // namespace

std::filesystem::path kernel_cache_dir() {
  if (const char* p = std::getenv("SFT_KERNEL_CACHE"); p && *p) {
    if (std::string_view(p) == "off") return {};
    return p;
  }
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::filesystem::path(x) / "sft" / "kernels";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".cache" / "sft" / "kernels";
  return {};
}

std::uint64_t kernel_cache_cap_bytes() {
  if (const char* p = std::getenv("SFT_KERNEL_CACHE_MAX_MB"); p && *p) {
    char* end = nullptr;
    double mb = std::strtod(p, &end);  // fractions too: tests use caps below a MiB
    if (end && *end == '\0' && mb > 0 && mb < 1e9) return static_cast<std::uint64_t>(mb * 1048576.0);
  }
  return 512ull << 20;
}

std::string kernel_cache_file_name(std::string_view key) {
  char name[24];
  std::snprintf(name, sizeof name, "%016llx.bin", static_cast<unsigned long long>(digest_of(key)));
  return name;
}

KernelCacheLoad kernel_cache_load(const std::filesystem::path& dir, std::string_view key) {
  KernelCacheLoad out;
  if (dir.empty()) return out;
  const auto path = dir / kernel_cache_file_name(key);
  bool missing = false;
  auto data = read_bounded(path, kHeader + kernel_cache_max_key_bytes + kernel_cache_max_entry_bytes, out.why, missing);
  auto reject = [&](std::string why) {
    out.rejected = true;
    out.why = path.string() + ": " + std::move(why);
    return out;
  };
  if (!data) return missing ? out : reject(out.why);
  if (data->size() < kHeader) return reject("truncated header");
  const std::byte* p = data->data();
  if (std::memcmp(p, kMagic, sizeof kMagic) != 0) return reject("not a kernel cache entry (magic)");
  const std::uint64_t key_len = get64(p + 8) & 0xFFFFFFFFu;
  const std::uint64_t reserved = get64(p + 8) >> 32;
  const std::uint64_t payload_len = get64(p + 16);
  if (reserved != 0 || key_len > kernel_cache_max_key_bytes || payload_len > kernel_cache_max_entry_bytes)
    return reject("header out of range");
  if (data->size() != kHeader + key_len + payload_len) return reject("size differs from its header (truncated?)");
  if (key_len != key.size() || std::memcmp(p + kHeader, key.data(), key.size()) != 0 || get64(p + 24) != digest_of(key))
    return reject("written for another key");
  std::span<const std::byte> payload(p + kHeader + key_len, static_cast<std::size_t>(payload_len));
  if (digest(payload) != get64(p + 32)) return reject("payload digest differs (corrupt)");
  out.payload.emplace(payload.begin(), payload.end());
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);  // recently used: evicted last
  return out;
}

bool kernel_cache_store(const std::filesystem::path& dir, std::string_view key, std::span<const std::byte> payload,
                        std::uint64_t cap_bytes) {
  if (dir.empty() || key.size() > kernel_cache_max_key_bytes || payload.size() > kernel_cache_max_entry_bytes ||
      kHeader + key.size() + payload.size() > cap_bytes)
    return false;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return false;
  std::vector<std::byte> header(kHeader);
  std::memcpy(header.data(), kMagic, sizeof kMagic);
  put64(header.data() + 8, key.size());
  put64(header.data() + 16, payload.size());
  put64(header.data() + 24, digest_of(key));
  put64(header.data() + 32, digest(payload));
  auto file = sft::detail::AtomicFile::create(dir / kernel_cache_file_name(key));
  if (!file) return false;
  const std::span<const std::byte> parts[] = {header, std::as_bytes(std::span(key.data(), key.size())), payload};
  if (!file->write_gather(0, parts) || !file->commit(/*durable=*/false)) return false;
  evict(dir, cap_bytes);
  return true;
}

}  // namespace sft::gpu::detail
