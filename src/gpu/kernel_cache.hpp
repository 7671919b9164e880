// src/gpu/kernel_cache.hpp — sft's cache of compiled kernel variants (internal).
//
// One file per variant, <dir>/<16 hex digits>.bin, named by a digest of the
// variant's key (backend, device, driver, kernel source hash, build options,
// compiler version: whatever makes the binary what it is). The payload is
// what the runtime gives back for a built program: an OpenCL program binary,
// an NVRTC cubin.
//
// Layout of an entry, little-endian:
//   0   8 bytes  magic "SFTKBIN\x01"
//   8   u32      key length (at most max_key_bytes)
//   12  u32      0 (reserved)
//   16  u64      payload length (at most max_entry_bytes)
//   24  u64      digest of the key (sft/gpu/checksum.hpp)
//   32  u64      digest of the payload
//   40  key bytes, then the payload; nothing after it.
//
// The cache is untrusted input: an entry is used only when its file is a
// regular file (not followed through a symlink) of exactly the size its
// header announces, within the caps, with the right magic, the very key
// asked for (compared in full, not by name) and a payload whose digest
// matches; anything else is a miss, counted as rejected, and is replaced by
// the next store. Writes go through AtomicFile (a temporary renamed over the
// entry: readers see the old entry or the new one). The directory is bounded:
// after a store, entries are evicted oldest first (by modification time; a
// hit refreshes it) until the total is under the cap. The digests catch
// corruption and truncation, not a forger who can write to the user's cache
// directory (who could as well replace the OpenCL driver's own cache).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <utility>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend.hpp"

namespace sft::gpu::detail {

inline constexpr std::uint64_t kernel_cache_max_entry_bytes = 64ull << 20;
inline constexpr std::uint32_t kernel_cache_max_key_bytes = 64u << 10;

// $SFT_KERNEL_CACHE ("off": none), else $XDG_CACHE_HOME/sft/kernels, else
// ~/.cache/sft/kernels; empty when disabled or none of them is set.
std::filesystem::path kernel_cache_dir();
// The cap on the directory's total size: $SFT_KERNEL_CACHE_MAX_MB (MiB, fractions allowed), default 512 MiB.
std::uint64_t kernel_cache_cap_bytes();

struct KernelCacheLoad {
  std::optional<std::vector<std::byte>> payload;  // the hit
  bool rejected = false;                          // an entry was there but unusable
  std::string why;                                // why it was rejected
};

// The payload stored under `key` in `dir`.
KernelCacheLoad kernel_cache_load(const std::filesystem::path& dir, std::string_view key);
// Store it (creating the directory) and evict beyond `cap_bytes`; false if it could not be written.
bool kernel_cache_store(const std::filesystem::path& dir, std::string_view key, std::span<const std::byte> payload,
                        std::uint64_t cap_bytes);
// The entry's file name for `key`.
std::string kernel_cache_file_name(std::string_view key);

// A compiled variant by way of the cache, counted in the device's
// KernelBuildStats: the entry for `key` handed to `load` (which may refuse
// it: counted as rejected, then rebuilt), else `build`, whose binary is
// stored for the next process.
template <class T>
Result<T> cached_build(DeviceImpl& device, const std::string& key,
                       const std::function<std::optional<T>(std::span<const std::byte>)>& load,
                       const std::function<Result<std::pair<T, std::vector<std::byte>>>()>& build) {
  const auto t0 = std::chrono::steady_clock::now();
  auto took = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  const auto dir = kernel_cache_dir();
  auto hit = kernel_cache_load(dir, key);
  if (hit.payload) {
    if (auto loaded = load(*hit.payload)) {
      device.update_stats([&](KernelBuildStats& s) { ++s.from_cache, s.seconds += took(); });
      return std::move(*loaded);
    }
  }
  const bool rejected = hit.rejected || hit.payload.has_value();  // unusable, or refused by the driver
  auto built = build();
  const bool stored = built && !built->second.empty() && kernel_cache_store(dir, key, built->second, kernel_cache_cap_bytes());
  device.update_stats([&](KernelBuildStats& s) {
    s.cache_rejected += rejected;
    s.seconds += took();
    if (!built) ++s.failed;
    else ++s.built, s.cache_stored += stored;
  });
  SFT_TRY(built);
  return std::move(built->first);
}

}  // namespace sft::gpu::detail
