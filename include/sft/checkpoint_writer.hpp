// sft/checkpoint_writer.hpp — writing a checkpoint in the Hugging Face layout.
//
// write_checkpoint() spreads tensors over shards as plan_shards() decides
// (sft/checkpoint.hpp), writes each shard with a Writer (the reference's
// layout), and, when there is more than one shard, the index
// PREFIX.safetensors.index.json exactly as index_json() formats it. One shard
// is written as PREFIX.safetensors with no index.
//
// All or nothing: every shard and the index are written and synced under
// temporary names first (Writer::write_staged); only when all are complete
// are they renamed into place, shards first and the index last, so a reader
// never finds an index naming a shard not yet written. A failure before that
// (a full disk, a source's error) removes every temporary and touches nothing
// else: re-saving over an existing checkpoint leaves it whole. If a rename
// itself fails midway (rare: same directory, same file system), the shards
// renamed so far are new, the others and the old index stay, and the error's
// message says "half replaced" with the counts.
//
// ShardingOptions::prefix must be a plain file name (shard_prefix_problem):
// "../x" is refused with shard_path before anything is written. Files
// already in the directory are never removed: writing a single
// PREFIX.safetensors next to an old PREFIX.safetensors.index.json leaves a
// directory that Checkpoint::open reads through the old index; give an empty
// directory (`sft split` refuses one that holds PREFIX files).
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
// Errors: shard_path for a prefix that is no plain file name, duplicate_name
// for a name given twice, every Writer error, write_failed.
Result<ShardPlan> write_checkpoint(std::span<const TensorView> tensors, const std::filesystem::path& directory,
                                   const CheckpointWriteOptions& options = {});

}  // namespace sft
