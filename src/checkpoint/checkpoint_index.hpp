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

// weight_map in the shape Checkpoint keeps it. An index may map a million
// tensors (a 95 MB file), so each name is stored once and each shard name
// once, not once per tensor.
struct ParsedIndex {
  std::vector<std::string> shards;          // the distinct shard names, sorted bytewise
  std::vector<std::string> tensors;         // the tensor names, sorted bytewise, each once
  std::vector<std::uint32_t> tensor_shard;  // parallel to tensors: its shard's position in shards
  std::vector<std::uint32_t> shard_first;   // per shard: the tensor (position in tensors) that
                                            // names it first in the file, for error messages
  bool has_total_size = false;
  std::uint64_t total_size = 0;
};

// Parse and type-check the index JSON (not the shard names' safety: see
// shard_name_problem and resolve_shard). A tensor mapped twice is
// duplicate_key naming the first name, in file order, that repeats.
Result<ParsedIndex> parse_index(std::string_view json);

// Read the index file (bad_index if larger than max_bytes) and parse it,
// reading straight into the parser's padded buffer (no second copy).
Result<ParsedIndex> read_index(const std::filesystem::path& path, std::uint64_t max_bytes);

// The index at an http(s) URL (sft/remote.hpp), fetched with `options` and
// parsed: bad_index beyond max_bytes, as for a file.
Result<ParsedIndex> read_remote_index(std::string_view url, const RemoteOptions& options, std::uint64_t max_bytes);

// The URL of shard `name` of the index at `index_url`: the index's own
// directory on the same host (src/remote/url.hpp, shard_url), or shard_path
// for a name that could leave it.
Result<std::filesystem::path> remote_shard(std::string_view index_url, const std::string& name);

// The path to open for shard `name` of a checkpoint in `dir` whose real path is
// `real_dir`: shard_path for an unsafe name or a symlink leading outside
// (unless allowed), shard_missing when it does not exist.
Result<std::filesystem::path> resolve_shard(const std::filesystem::path& dir, const std::string& real_dir,
                                            const std::string& name, bool follow_external_symlinks);

// The path to read the index `index` of a checkpoint whose directory's real
// path is `real_dir`: the index obeys the shards' rule, so a symlink that
// resolves outside the directory is shard_path unless allowed; io_error when
// it cannot be resolved.
Result<std::filesystem::path> resolve_index(const std::filesystem::path& index, const std::string& real_dir,
                                            bool follow_external_symlinks);

}  // namespace sft::detail
