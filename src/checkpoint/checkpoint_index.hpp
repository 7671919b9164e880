// src/checkpoint/checkpoint_index.hpp — reading model.safetensors.index.json (internal).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sft/checkpoint_writer.hpp"

namespace sft::detail {

struct ParsedIndex {
  // (tensor name, shard file name), in the order of the file.
  std::vector<std::pair<std::string, std::string>> weight_map;
  bool has_total_size = false;
  std::uint64_t total_size = 0;
};

// Parse and type-check the index JSON (not the shard names' safety: see
// shard_name_problem and resolve_shard).
Result<ParsedIndex> parse_index(std::string_view json);

// Read the index file (bad_index if larger than max_bytes) and parse it.
Result<ParsedIndex> read_index(const std::filesystem::path& path, std::uint64_t max_bytes);

// The path to open for shard `name` of a checkpoint in `dir` whose real path is
// `real_dir`: shard_path for an unsafe name or a symlink leading outside
// (unless allowed), shard_missing when it does not exist.
Result<std::filesystem::path> resolve_shard(const std::filesystem::path& dir, const std::string& real_dir,
                                            const std::string& name, bool follow_external_symlinks);

}  // namespace sft::detail
