// write_checkpoint: shards through the Writer, then the index (see sft/checkpoint_writer.hpp).

#include <string>
#include <unordered_map>

#include "sft_internal/atomic_file.hpp"
#include "sft/checkpoint_writer.hpp"
#include "sft_internal/name_hash.hpp"

namespace sft {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kChunk = std::size_t{16} << 20;  // bytes per sink write: progress granularity

Result<void> write_index(const fs::path& path, const std::string& text, const WriterOptions& options) {
  auto f = detail::AtomicFile::create(path, options.fail_after_bytes);
  if (!f) return std::move(f).error();
  auto bytes = std::as_bytes(std::span(text.data(), text.size()));
  if (auto r = f->write_at(0, bytes); !r) {
    f->abort();
    return r;
  }
  return f->commit(options.durable);
}

}  // namespace

Result<ShardPlan> write_checkpoint(std::span<const TensorView> tensors, const fs::path& directory,
                                   const CheckpointWriteOptions& options) {
  std::unordered_map<std::string_view, std::size_t, NameHash> by_name;
  std::vector<std::uint64_t> sizes;
  std::vector<std::string_view> names;
  sizes.reserve(tensors.size());
  names.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (!by_name.emplace(tensors[i].name(), i).second)
      return Error(Errc::duplicate_name, "the tensor is given twice", Error::no_offset, std::string(tensors[i].name()));
    sizes.push_back(tensors[i].size_bytes());
    names.push_back(tensors[i].name());
  }
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) return Error(Errc::write_failed, "cannot create " + directory.string() + ": " + ec.message());

  ShardPlan plan = plan_shards(sizes, options.sharding);
  std::vector<fs::path> written;
  auto fail = [&](Error e) -> Result<ShardPlan> {
    for (const auto& p : written) fs::remove(p, ec);
    return e;
  };
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
  for (const auto& shard : plan.shards) {
    Writer w(options.writer);
    for (const auto& m : options.metadata)
      if (auto r = w.set_metadata(m.key, m.value); !r) return fail(std::move(r).error());
    for (std::size_t t : shard.tensors) {
      const TensorView& v = tensors[t];
      if (auto r = w.declare(v.name(), v.dtype(), v.shape()); !r) return fail(std::move(r).error());
    }
    const fs::path path = directory / shard.file_name;
    if (auto r = w.write_file(path, source); !r) return fail(std::move(r).error());
    written.push_back(path);
  }
  if (plan.sharded()) {
    const fs::path index = directory / index_file_name(options.sharding.prefix);
    if (auto r = write_index(index, index_json(plan, names), options.writer); !r) return fail(std::move(r).error());
  }
  return plan;
}

}  // namespace sft

