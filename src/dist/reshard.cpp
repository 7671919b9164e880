// reshard(): every rank's file, offline, from one process.
#include <algorithm>
#include <unordered_map>
#include <vector>

#include "sft/distributed.hpp"
#include "sft_internal/name_hash.hpp"
#include "sft/writer.hpp"

namespace sft {

namespace {

constexpr std::size_t batch_bytes = 4 << 20;

struct Held {
  const CheckpointTensor* tensor;
  TensorPart part;
};

// Stream a part's bytes into the sink, a batch at a time.
Result<void> stream_part(const Held& h, TensorSink& sink, std::vector<std::byte>& buf) {
  const File& f = *h.tensor->file;
  const TensorInfo& t = *h.tensor->info;
  const std::uint64_t base = f.header().data_start() + t.data_offsets.begin + h.part.first;
  const TensorPart& p = h.part;
  std::size_t used = 0;
  auto flush = [&]() -> Result<void> {
    if (used) SFT_TRY(sink.write({buf.data(), used}));
    used = 0;
    return {};
  };
  for (std::uint64_t k = 0; k < p.count; ++k) {
    for (std::uint64_t done = 0; done < p.run_bytes;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(p.run_bytes - done, buf.size() - used));
      SFT_TRY(f.read_bytes(base + k * p.stride + done, {buf.data() + used, n}).with_tensor(t.name));
      used += n;
      done += n;
      if (used == buf.size()) SFT_TRY(flush());
    }
  }
  return flush();
}

}  // namespace

Result<std::vector<ReshardedFile>> reshard(const Checkpoint& checkpoint, const TensorParallelPlan& plan,
                                           std::uint32_t world, const std::filesystem::path& directory) {
  if (world == 0) return Error(Errc::invalid_argument, "a group of 0 ranks");
  std::vector<ReshardedFile> written;
  auto cleanup = [&](Error e) {
    std::error_code ec;
    for (const auto& f : written) std::filesystem::remove(f.path, ec);
    return e;
  };
  try {
    SFT_TRY_ASSIGN(auto tensors, checkpoint.tensors());
    std::vector<TensorAssignment> assignments;
    assignments.reserve(tensors.size());
    for (const auto& t : tensors) {
      SFT_TRY_ASSIGN(auto a, plan.assign(*t.info, world));
      assignments.push_back(a);
    }
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    if (ec) return Error(Errc::write_failed, "cannot create " + directory.string() + ": " + ec.message());
    std::vector<std::byte> buf(batch_bytes);
    for (std::uint32_t r = 0; r < world; ++r) {
      Writer w;
      std::unordered_map<std::string_view, Held, NameHash> held;
      ReshardedFile file;
      file.path = directory / rank_file_name(r, world);
      for (std::size_t i = 0; i < tensors.size(); ++i) {
        TensorPart part = tensor_part(*tensors[i].info, assignments[i], r, world);
        if (!part.held) continue;
        if (auto d = w.declare(tensors[i].info->name, tensors[i].info->dtype, part.shape); !d)
          return cleanup(std::move(d).error());
        ++file.tensors;
        file.bytes += part.byte_size();
        held.emplace(tensors[i].info->name, Held{&tensors[i], std::move(part)});
      }
      auto source = [&](const TensorInfo& info, TensorSink& sink) -> Result<void> {
        auto it = held.find(info.name);
        if (it == held.end()) return Error(Errc::internal, "reshard: no part for a declared tensor", Error::no_offset, std::string(info.name));
        return stream_part(it->second, sink, buf);
      };
      if (auto ok = w.write_file(file.path, source); !ok) return cleanup(std::move(ok).error());
      written.push_back(std::move(file));
    }
  } catch (...) {
    return cleanup(Error(Errc::out_of_memory, "no memory while resharding"));
  }
  return written;
}

}  // namespace sft
