// src/gpu/tune_cache.hpp — the tuning cache file (internal).
//
// Format (JSON, written by save_tune_cache, one entry per line):
//   {"format":"sft-tune-cache","version":2,"entries":[
//    {"backend":"opencl","device":"...","driver":"...","source":"<16 hex digits>",
//     "space":"<16 hex digits>","kernel":"convert","in":"F16","out":"F32","bucket":24,
//     "config":"L128 E4 V1 M0 U1 K1 R0 S0 W0","seconds":0.0012,"tuned":1767225600},
//    ...]}
// "source" is the kernel source hash and "space" the hash of the searched
// configuration space: entries of an older kernel source or another space
// never match. On load, a file that is not such a document (or larger than
// max_tune_cache_bytes) is ignored whole, and an entry with a missing,
// mistyped or out-of-range field is ignored alone; each with a warning. On
// save, the oldest entries ("tuned") are dropped until the file fits
// max_tune_cache_bytes, and the file is replaced atomically (AtomicFile,
// fsynced).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "sft/gpu/tune.hpp"

namespace sft::gpu::detail {

inline constexpr std::uint64_t max_tune_cache_bytes = 16 << 20;  // far above any real cache

std::string tune_cache_key(const DeviceInfo& device, const TuneKey& key, std::uint64_t space_hash);

void load_tune_cache(const std::filesystem::path& path, std::map<std::string, Tuner::Entry>& entries,
                     std::vector<std::string>& warnings);

Result<void> save_tune_cache(const std::filesystem::path& path, const std::map<std::string, Tuner::Entry>& entries,
                             std::uint64_t cap_bytes = max_tune_cache_bytes);

// Write `text` to `path` atomically (creating its directory): tune_cache on failure.
Result<void> write_file_atomically(const std::filesystem::path& path, std::string_view text);

std::string hex16(std::uint64_t v);
std::optional<std::uint64_t> parse_hex16(std::string_view s);
std::optional<Kernel> parse_kernel(std::string_view s);

}  // namespace sft::gpu::detail
