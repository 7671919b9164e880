// sft/checkpoint_writer.hpp — writing a checkpoint in the Hugging Face layout.
//
// write_checkpoint() spreads tensors over shards as plan_shards() decides
// (sft/checkpoint.hpp), writes each shard with a Writer (the reference's
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
#include <functional>
#include <span>
#include <vector>

#include "sft/checkpoint.hpp"
#include "sft/header.hpp"
#include "sft/result.hpp"
#include "sft/tensor_view.hpp"
#include "sft/writer.hpp"

namespace sft {

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
