// sft/gpu/tune.hpp — per-device kernel variants, searched, checked, timed and cached.
//
// Each kernel has a space of LaunchConfigs (sft/gpu/kernels.hpp): work-group
// size, items per thread, vector width, mapping, unrolling, split-K and its
// reduction, dtype specialisation, typed loads: several hundred to several
// thousand compiled variants per kernel where the device builds them at run
// time (OpenCL, CUDA with NVRTC), the compiled-in set elsewhere (the CPU
// backend, CUDA without NVRTC). Tuner::tune() searches that space on the
// device at hand:
//   - every candidate runs once into an output poisoned with the bitwise
//     complement of the reference (the CPU backend's run of the same kernel),
//     and must match it: bit for bit, or for GEMV within the F32 summation
//     bound; one that fails to build, fails to run or is wrong is recorded
//     and never chosen;
//   - a right candidate is timed (warm-up runs, then the median of repeated
//     runs, device time from events where the backend has it);
//   - exhaustively when the space is small; otherwise seeds (the default, the
//     cached and shipped configurations), random samples, then a pattern
//     search around the best (docs/gpu.md, "Search"), under a time budget;
//   - the near-best candidates are re-timed interleaved, round after round,
//     so that one noisy measurement does not pick the winner.
// The winner is cached in a JSON file keyed by backend, device name, driver
// version, a hash of the kernel source, a hash of the searched space, kernel,
// dtypes and size bucket (floor(log2(size))). `sft tune` fills the cache ahead
// of time and, with --ahead, writes a TuneTable: a compact per-device table of
// size buckets to configurations that can be shipped and loaded read-only.
// At run time config() costs a lookup.
//
// The cache file and tables are untrusted input: a cache file that is not the
// JSON this writes, or entries that are not well-formed, are ignored and
// reported in warnings() (the library never prints), never a crash; a table
// that is not exactly what TuneTable writes (digest included) is refused with
// tune_cache. Files are replaced atomically (sft's AtomicFile: a temporary
// beside the target, fsynced, renamed over it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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

// Every configuration of a kernel's space, before a device's limits and a
// key's dtypes narrow it (docs/gpu.md lists the dimensions), normalized
// (normalize_config), in a fixed order.
const std::vector<LaunchConfig>& candidates(Kernel k);
LaunchConfig default_config(Kernel k) noexcept;

enum class SearchStrategy : std::uint8_t {
  automatic,   // exhaustive when the space holds at most exhaustive_limit candidates, else search
  exhaustive,  // every candidate, in order (until the budget runs out)
  search,      // seeds, random samples, pattern search (docs/gpu.md)
};
std::string_view strategy_name(SearchStrategy s) noexcept;  // "automatic", "exhaustive", "search"

struct TuneOptions {
  int warmup = 2;                       // untimed runs per candidate
  int repetitions = 5;                  // timed runs per candidate (median kept)
  std::uint64_t max_size = 1ull << 24;  // inputs larger than this are tuned at this size's bucket
  double budget_seconds = 0;            // wall time per tune() call; 0: none (the search stops by itself)
  SearchStrategy strategy = SearchStrategy::automatic;
  std::size_t exhaustive_limit = 64;
  std::uint64_t seed = 0x5f7;           // the search's random choices: same seed, same samples
  std::size_t max_candidates = 0;       // stop after this many candidates (0: no limit); a budget that does not depend on speed
  int retime_rounds = 3;                // interleaved re-timing rounds of the near-best candidates
  // Keep only the configurations for which this returns true (a smaller space
  // for tests and benchmarks; it changes the space's hash, so its results are
  // cached apart).
  std::function<bool(const LaunchConfig&)> restrict_space;
  // Test only: configurations added to the space as they are (e.g. with
  // LaunchConfig::fault set), to check that wrong variants are never chosen.
  std::vector<LaunchConfig> extra_candidates;
};

// The space Tuner::tune() searches for `key` on `device`: candidates(kernel)
// narrowed to the device's limits (work-group size, local memory), to the
// key's dtypes (typed loads only for 16- and 32-bit sources), to the variants
// the device has compiled code for where it cannot build them at run time,
// then options.restrict_space, plus options.extra_candidates.
std::vector<LaunchConfig> config_space(const Device& device, const TuneKey& key, const TuneOptions& options = {});
// A 64-bit digest of a space (its configurations, in order): part of the cache key.
std::uint64_t config_space_hash(std::span<const LaunchConfig> space);

// The search itself, over any space: `measure(config, retime)` compiles,
// checks and times a candidate (retime: times it again only) and returns its
// time, or nullopt for a rejected one. `seeds` are tried first (those in the
// space). The result names the best candidate by index into `space`.
struct SearchReport {
  std::optional<std::size_t> best;  // nullopt: every candidate tried was rejected
  double best_seconds = 0;          // after re-timing
  std::size_t tried = 0;            // candidates measured
  std::size_t rejected = 0;         // of those, rejected
  SearchStrategy strategy = SearchStrategy::exhaustive;  // what ran (never automatic)
  bool budget_exhausted = false;    // stopped by budget_seconds or max_candidates
  std::vector<std::size_t> order;   // the candidates in the order they were tried
};
SearchReport search_space(std::span<const LaunchConfig> space, std::span<const LaunchConfig> seeds,
                          const TuneOptions& options,
                          const std::function<std::optional<double>(const LaunchConfig&, bool retime)>& measure);

struct TuneRejection {
  LaunchConfig config;
  std::string why;  // "does not build: ...", "failed: ...", "output differs from the reference ..."
};

struct TuneResult {
  LaunchConfig best;
  double seconds = 0;              // the best candidate's median time (after re-timing)
  std::size_t tried = 0;           // candidates compiled and run
  std::size_t rejected = 0;        // of those, that failed to build or run, or computed something else
  std::size_t space = 0;           // candidates in the space searched
  std::uint64_t space_hash = 0;
  SearchStrategy strategy = SearchStrategy::exhaustive;
  bool budget_exhausted = false;
  double wall_seconds = 0;         // the whole tune() call
  std::vector<TuneRejection> rejections;
  std::vector<std::pair<LaunchConfig, double>> timings;  // every right candidate's first median, in order
};

// A compact, read-only table of tuned configurations for one device: for
// each kernel and dtype pair, size buckets -> configuration. `sft tune
// --ahead` writes one; lookup() answers from the key's bucket or, failing
// that, the nearest tuned bucket (ties: the larger). The file is JSON with a
// digest of its own text; anything else is refused with tune_cache.
class TuneTable {
 public:
  TuneTable() = default;
  // A table for this device and the kernel source of this build.
  static TuneTable for_device(const DeviceInfo& device);
  static Result<TuneTable> load(const std::filesystem::path& path);
  static Result<TuneTable> parse(std::string_view text, std::string_view where = "tuning table");
  std::string serialize() const;
  Result<void> save(const std::filesystem::path& path) const;

  void add(const TuneKey& key, std::uint64_t space_hash, const LaunchConfig& config);
  // The configuration for key on this device: nullopt where the table was
  // written for another backend, device, or kernel source, for another space
  // of this kernel and dtypes, or holds no bucket for them. A table from
  // another driver version of the same device is used (a configuration stays
  // valid; only its speed may move).
  std::optional<LaunchConfig> lookup(const DeviceInfo& device, const TuneKey& key, std::uint64_t space_hash) const;
  bool for_this(const DeviceInfo& device) const noexcept;
  std::size_t size() const noexcept;  // entries (buckets) in all
  const std::string& backend() const noexcept { return backend_; }
  const std::string& device() const noexcept { return device_; }

 private:
  struct Row {
    std::uint64_t space = 0;
    std::map<unsigned, LaunchConfig> buckets;
  };
  std::string backend_, device_, driver_;
  std::uint64_t source_ = 0;
  std::map<std::string, Row> rows_;  // by "kernel in out"
};

// $SFT_TUNE_CACHE, else $XDG_CACHE_HOME/sft/tune.json, else ~/.cache/sft/tune.json
// (empty when none of them is set).
std::filesystem::path default_cache_path();

class Tuner {
 public:
  // A tuner on the cache at `path` (default_cache_path() when empty). A missing
  // file is an empty cache; an unreadable or corrupt one is an empty cache plus
  // a warning. The tables named in $SFT_TUNE_TABLE (paths separated by ':')
  // are loaded too (a refused one is a warning). Never fails.
  static Tuner open(std::filesystem::path path = {}, TuneOptions options = {});

  const std::filesystem::path& path() const noexcept { return path_; }
  // What went wrong reading the cache (file and entries ignored) and tables.
  const std::vector<std::string>& warnings() const noexcept { return warnings_; }
  const TuneOptions& options() const noexcept { return options_; }
  void set_options(TuneOptions options);

  // Consult this table after the cache (several may be added; the first that answers wins).
  void add_table(TuneTable table) { tables_.push_back(std::move(table)); }

  // The cached configuration for this device and key (exact bucket).
  std::optional<LaunchConfig> lookup(const Device& device, const TuneKey& key);
  // lookup(), else a table's, else tune() when tune_on_miss, else default_config().
  Result<LaunchConfig> config(const Device& device, const TuneKey& key, bool tune_on_miss = false);
  // Search the space on the device, cache the fastest candidate that is right.
  Result<TuneResult> tune(const Device& device, const TuneKey& key);
  // Write the cache (creating its directory), atomically.
  Result<void> save() const;

  std::size_t entries() const noexcept { return entries_.size(); }
  // Candidates timed by this Tuner so far (a cache hit times none).
  std::size_t candidates_timed() const noexcept { return timed_; }

  struct Entry {
    LaunchConfig config;
    double seconds = 0;
    std::int64_t tuned = 0;  // when (Unix seconds): the oldest entries go first when the cache is full
  };

 private:
  const std::vector<LaunchConfig>& space_for(const Device& device, const TuneKey& key);

  std::filesystem::path path_;
  TuneOptions options_;
  std::map<std::string, Entry> entries_;  // by cache key (see tune_cache.cpp)
  std::vector<TuneTable> tables_;
  std::vector<std::string> warnings_;
  std::size_t timed_ = 0;
  struct Space {
    std::vector<LaunchConfig> configs;
    std::uint64_t hash = 0;
  };
  std::map<std::string, Space> spaces_;  // memoized config_space() by device and key
};

}  // namespace sft::gpu
