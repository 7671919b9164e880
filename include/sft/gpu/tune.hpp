// sft/gpu/tune.hpp — per-device launch configurations, timed and cached.
//
// For each kernel there is a fixed list of candidate LaunchConfigs (work-group
// size, items per thread, vector width). Tuner::tune() runs every candidate the
// device allows on generated inputs, with warm-up runs and repetitions, keeps
// only the candidates whose output matches the reference (the CPU backend's
// run of the same kernel, bit for bit; for GEMV within the F32 summation
// bound), and records the fastest (median device time) in a JSON cache keyed by
//   backend, device name, driver version, a hash of the kernel source, kernel,
//   dtypes and size bucket (floor(log2(size))).
// `sft tune` fills the cache ahead of time; at run time config() costs a lookup
// on a hit and, on a miss, gives default_config() unless tuning on first use
// was asked for.
//
// The cache file is untrusted input: a file that is not the JSON this writes,
// or entries that are not well-formed, are ignored and reported in warnings()
// (the library never prints), never a crash. save() replaces the file
// atomically (a temporary file renamed over it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sft/dtype.hpp"
#include "sft/gpu/device.hpp"
#include "sft/gpu/kernels.hpp"
#include "sft/result.hpp"

namespace sft::gpu {

// What a configuration is tuned for.
struct TuneKey {
  Kernel kernel = Kernel::convert;
  DType in = DType::U8;     // convert: source; mxfp4: F4; gemv: W; checksum: U8
  DType out = DType::U8;    // convert, mxfp4: target; gemv: F32; checksum: U64
  std::uint64_t size = 0;   // elements (convert, mxfp4), W elements (gemv), bytes (checksum)
};

// The usual key of each kernel for `size` (dtypes of the common case).
TuneKey convert_key(DType from, DType to, std::uint64_t count);
TuneKey mxfp4_key(DType to, std::uint64_t count);
TuneKey gemv_key(DType w, std::uint64_t rows, std::uint64_t cols);
TuneKey checksum_key(std::uint64_t bytes);

unsigned size_bucket(std::uint64_t size) noexcept;  // floor(log2(size)), 0 for 0 and 1

// The candidates tried for a kernel (before the device's limits filter them).
std::span<const LaunchConfig> candidates(Kernel k) noexcept;
LaunchConfig default_config(Kernel k) noexcept;

// $SFT_TUNE_CACHE, else $XDG_CACHE_HOME/sft/tune.json, else ~/.cache/sft/tune.json
// (empty when none of them is set).
std::filesystem::path default_cache_path();

struct TuneOptions {
  int warmup = 2;                  // untimed runs per candidate
  int repetitions = 5;             // timed runs per candidate (median kept)
  std::uint64_t max_size = 1ull << 24;  // inputs larger than this are tuned at this size's bucket
};

struct TuneResult {
  LaunchConfig best;
  double seconds = 0;              // the best candidate's median time
  std::size_t tried = 0;           // candidates run
  std::size_t rejected = 0;        // of those, with output unlike the reference
};

class Tuner {
 public:
  // A tuner on the cache at `path` (default_cache_path() when empty). A missing
  // file is an empty cache; an unreadable or corrupt one is an empty cache plus
  // a warning. Never fails.
  static Tuner open(std::filesystem::path path = {}, TuneOptions options = {});

  const std::filesystem::path& path() const noexcept { return path_; }
  // What went wrong reading the cache (file and entries ignored).
  const std::vector<std::string>& warnings() const noexcept { return warnings_; }

  // The cached configuration for this device and key.
  std::optional<LaunchConfig> lookup(const Device& device, const TuneKey& key) const;
  // lookup(), else tune() when tune_on_miss, else default_config().
  Result<LaunchConfig> config(const Device& device, const TuneKey& key, bool tune_on_miss = false);
  // Time every candidate on the device, cache the fastest that is right.
  Result<TuneResult> tune(const Device& device, const TuneKey& key);
  // Write the cache (creating its directory).
  Result<void> save() const;

  std::size_t entries() const noexcept { return entries_.size(); }
  // Candidates timed by this Tuner so far (a cache hit times none).
  std::size_t candidates_timed() const noexcept { return timed_; }

  struct Entry {
    LaunchConfig config;
    double seconds = 0;
  };

 private:
  std::filesystem::path path_;
  TuneOptions options_;
  std::map<std::string, Entry> entries_;  // by cache key (see tune.cpp)
  std::vector<std::string> warnings_;
  std::size_t timed_ = 0;
};

}  // namespace sft::gpu
