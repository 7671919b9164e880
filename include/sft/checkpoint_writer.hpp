// sft/checkpoint_writer.hpp — writing a checkpoint in the Hugging Face layout.
//
// write_checkpoint() spreads tensors over shards as plan_shards() decides
// (below), writes each shard with a Writer (the reference's
// layout, atomic: a temporary renamed over the target), then, when there is
// more than one shard, the index PREFIX.safetensors.index.json exactly as
// index_json() formats it, also atomically and last, so a reader never finds
// an index that names a shard not yet written. One shard is written as
// PREFIX.safetensors with no index.
//
// On failure, the shards this call already wrote are removed and nothing
// else is touched. Files already in the directory are never removed: writing
// a single PREFIX.safetensors next to an old PREFIX.safetensors.index.json
// leaves a directory that Checkpoint::open reads through the old index; give
// an empty directory (`sft split` refuses one that holds PREFIX files).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <functional>
#include <span>
#include <vector>

#include "sft/checkpoint.hpp"
#include "sft/header.hpp"
#include "sft/result.hpp"
#include "sft/tensor_view.hpp"
#include "sft/writer.hpp"

namespace sft {

// How tensors are spread over shards, and the names of the files.
//
// The Hugging Face layout, as huggingface_hub's split_state_dict_into_shards
// computes it: tensors are taken in the order given; a tensor joins the current
// shard unless that would take the shard's tensor bytes over max_shard_size,
// in which case the shard is closed and a new one started; a tensor larger
// than max_shard_size on its own gets a shard of its own, placed at once in
// the list (before the shard being filled). Only tensor bytes count, not
// headers. One shard is written as PREFIX.safetensors with no index; n > 1 as
// PREFIX-00001-of-0000n.safetensors ... plus PREFIX.safetensors.index.json.
struct ShardingOptions {
  std::uint64_t max_shard_size = 5'000'000'000;  // bytes of tensor data per shard (5 GB, huggingface_hub's default)
  std::string prefix = "model";
};

struct ShardPlan {
  struct Shard {
    std::string file_name;
    std::vector<std::size_t> tensors;  // positions in the input, in input order
    std::uint64_t bytes = 0;           // tensor bytes
  };
  std::vector<Shard> shards;           // at least one (possibly empty)
  std::uint64_t total_size = 0;
  bool sharded() const noexcept { return shards.size() > 1; }
};

// sizes[i]: byte size of tensor i.
ShardPlan plan_shards(std::span<const std::uint64_t> sizes, const ShardingOptions& options = {});

// The index for a plan (names[i] is tensor i), exactly as
// json.dumps(index, indent=2, sort_keys=True) + "\n" writes
// {"metadata": {"total_size": N}, "weight_map": {name: file}}: keys sorted,
// two-space indent, non-ASCII escaped as \uXXXX (ensure_ascii), as
// transformers' save_pretrained writes model.safetensors.index.json.
std::string index_json(const ShardPlan& plan, std::span<const std::string_view> names);

// The default index name for a checkpoint whose files are PREFIX.safetensors
// or PREFIX-0000i-of-0000n.safetensors.
std::string index_file_name(std::string_view prefix = "model");

// Why `name` is not acceptable as a shard name in an index (see shard_path
// above), or an empty string when it is.
std::string shard_name_problem(std::string_view name);

struct CheckpointWriteOptions {
  ShardingOptions sharding{};
  WriterOptions writer{};
  // Written as __metadata__ into every shard (transformers writes
  // {"format": "pt"}); none when empty.
  std::vector<MetadataEntry> metadata;
  // Called with the number of tensor bytes just written (for progress bars).
  std::function<void(std::uint64_t)> progress;
};

// Write `tensors` (in the order that decides the sharding; their bytes must
// stay valid until the call returns) into `directory`, created if missing.
// Errors: duplicate_name for a name given twice, every Writer error, write_failed.
Result<ShardPlan> write_checkpoint(std::span<const TensorView> tensors, const std::filesystem::path& directory,
                                   const CheckpointWriteOptions& options = {});

}  // namespace sft
