// write_checkpoint: shards through the Writer, then the index (see sft/checkpoint_writer.hpp).

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sft_internal/atomic_file.hpp"
#include "sft/checkpoint_writer.hpp"
#include "sft_internal/name_hash.hpp"

namespace sft {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kChunk = std::size_t{16} << 20;  // bytes per sink write: progress granularity

// The index, written to its temporary and prepared (not yet renamed).
Result<detail::AtomicFile> stage_index(const fs::path& path, const std::string& text, const WriterOptions& options) {
  SFT_TRY_ASSIGN(auto f, detail::AtomicFile::create(path, options.fail_after_bytes));
  SFT_TRY(f.write_at(0, std::as_bytes(std::span(text.data(), text.size()))));
  SFT_TRY(f.prepare(options.durable));
  return f;
}

}  // namespace

Result<ShardPlan> write_checkpoint(std::span<const TensorInfo> tensors, const TensorSource& source,
                                   const fs::path& directory, const CheckpointWriteOptions& options) {
  if (auto why = shard_prefix_problem(options.sharding.prefix); !why.empty())
    return Error(Errc::shard_path, "ShardingOptions::prefix cannot name shard files: " + why);
  std::unordered_map<std::string_view, std::size_t, NameHash> by_name;
  std::vector<std::uint64_t> sizes;
  std::vector<std::string_view> names;
  sizes.reserve(tensors.size());
  names.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (!by_name.emplace(tensors[i].name, i).second)
      return Error(Errc::duplicate_name, "the tensor is given twice", Error::no_offset, std::string(tensors[i].name));
    sizes.push_back(tensors[i].byte_size());
    names.push_back(tensors[i].name);
  }
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) return Error(Errc::write_failed, "cannot create " + directory.string() + ": " + ec.message());

  ShardPlan plan = plan_shards(sizes, options.sharding);
  // Stage: every shard and the index complete and synced under temporary
  // names. A failure here returns at once; the staged temporaries are removed
  // as `staged` goes out of scope, and no file in the directory has changed.
  std::vector<StreamingWriter> staged;
  staged.reserve(plan.shards.size());
  for (const auto& shard : plan.shards) {
    Writer w(options.writer);
    for (const auto& m : options.metadata) SFT_TRY(w.set_metadata(m.key, m.value));
    for (std::size_t t : shard.tensors) {
      const TensorInfo& v = tensors[t];
      SFT_TRY(w.declare(v.name, v.dtype, v.shape));
    }
    SFT_TRY_ASSIGN(auto s, w.write_staged(directory / shard.file_name, source));
    staged.push_back(std::move(s));
  }
  std::optional<detail::AtomicFile> index;
  if (plan.sharded()) {
    SFT_TRY_ASSIGN(auto f, stage_index(directory / index_file_name(options.sharding.prefix), index_json(plan, names),
                                       options.writer));
    index.emplace(std::move(f));
  }
  // Publish: rename the shards into place, the index last, so that an old
  // index keeps naming complete files until the new one replaces it.
  for (std::size_t i = 0; i < staged.size(); ++i) {
    if (auto r = staged[i].commit(); !r) {
      if (i == 0) return std::move(r).error();
      return std::move(r).error().with_context(
          "the checkpoint in " + directory.string() + " is half replaced: " + std::to_string(i) + " of " +
          std::to_string(staged.size()) + " new shards were renamed into place, the rest and the index are the old "
          "ones (if any)");
    }
  }
  if (index) {
    if (auto r = index->commit(options.writer.durable); !r)
      return std::move(r).error().with_context("every new shard is in place, but not the new index");
  }
  return plan;
}

Result<ShardPlan> write_checkpoint(std::span<const TensorView> tensors, const fs::path& directory,
                                   const CheckpointWriteOptions& options) {
  std::vector<TensorInfo> infos;
  infos.reserve(tensors.size());
  std::unordered_map<std::string_view, std::size_t, NameHash> by_name;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorView& v = tensors[i];
    infos.push_back(TensorInfo{v.name(), v.dtype(), v.shape(), {0, v.size_bytes()}});
    by_name.emplace(v.name(), i);  // a repeated name is refused by the overload below
  }
  const TensorSource source = [&](const TensorInfo& info, TensorSink& sink) -> Result<void> {
    const TensorView& v = tensors[by_name.at(info.name)];
    auto bytes = v.bytes();
    for (std::size_t at = 0; at < bytes.size(); at += kChunk) {
      auto part = bytes.subspan(at, std::min(kChunk, bytes.size() - at));
      if (auto r = sink.write(part); !r) return r;
      if (options.progress) options.progress(part.size());
    }
    return {};
  };
  return write_checkpoint(infos, source, directory, options);
}

}  // namespace sft
