// src/gpu/tune_cache.hpp — the tuning cache file (internal).
//
// Format (JSON, written by save_tune_cache, one entry per line):
//   {"format":"sft-tune-cache","version":1,"entries":[
//    {"backend":"opencl","device":"...","driver":"...","source":"<16 hex digits>",
//     "kernel":"convert","in":"F16","out":"F32","bucket":24,
//     "local_size":128,"items_per_thread":4,"vector_width":1,"seconds":0.0012},
//    ...]}
// "source" is the kernel source hash: entries of an older kernel source never
// match. On load, a file that is not such a document is ignored whole, and an
// entry with a missing, mistyped or out-of-range field is ignored alone; each
// with a warning.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "sft/gpu/tune.hpp"

namespace sft::gpu::detail {

std::string tune_cache_key(const DeviceInfo& device, const TuneKey& key);

void load_tune_cache(const std::filesystem::path& path, std::map<std::string, Tuner::Entry>& entries,
                     std::vector<std::string>& warnings);

Result<void> save_tune_cache(const std::filesystem::path& path, const std::map<std::string, Tuner::Entry>& entries);

}  // namespace sft::gpu::detail
