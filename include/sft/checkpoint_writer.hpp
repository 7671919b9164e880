// sft/checkpoint_writer.hpp — writing a checkpoint in the Hugging Face layout.
//
// write_checkpoint() spreads tensors over shards as plan_shards() decides
// (below), writes each shard with a Writer (the reference's
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
  std::string prefix = "model";  // a plain file name (shard_prefix_problem), never a path
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

// Why `prefix` cannot name a checkpoint's files (ShardingOptions::prefix):
// empty, or PREFIX.safetensors fails shard_name_problem ("../x", "a/b",
// "C:x", a control character...); an empty string when it can.
// write_checkpoint refuses such a prefix with shard_path before writing.
std::string shard_prefix_problem(std::string_view prefix);

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

// The same for tensors whose bytes are read as they are written: `tensors`
// gives each one's name, dtype and shape (and, through byte_size(), its size;
// data_offsets are used for nothing else), in the order that decides the
// sharding; `source` is called once per tensor, shard by shard in each
// shard's data order, with the output's TensorInfo, and writes its bytes
// into the sink (an error it returns aborts the whole write, as above).
// options.progress is not called: the source reports its own progress.
Result<ShardPlan> write_checkpoint(std::span<const TensorInfo> tensors, const TensorSource& source,
                                   const std::filesystem::path& directory, const CheckpointWriteOptions& options = {});

}  // namespace sft
