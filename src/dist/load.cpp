// load_shard(): plan, read, agree, exchange; and what it returns.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>
#include <string>

#include "dist/agree.hpp"
#include "dist/load_plan.hpp"
#include "dist/read_exec.hpp"
#include "sft/distributed.hpp"
#include "sft/writer.hpp"
#include "sft_internal/json_escape.hpp"

namespace sft {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

constexpr std::align_val_t storage_alignment{4096};

struct AlignedFree {
  void operator()(std::byte* p) const noexcept { ::operator delete(p, storage_alignment); }
};
using Buffer = std::unique_ptr<std::byte, AlignedFree>;

std::byte* allocate(std::uint64_t n) {
  if (n == 0) return nullptr;
  return static_cast<std::byte*>(::operator new(static_cast<std::size_t>(n), storage_alignment, std::nothrow));
}

}  // namespace

std::string_view strategy_name(LoadStrategy s) noexcept {
  switch (s) {
    case LoadStrategy::none: return "none";
    case LoadStrategy::direct: return "direct";
    case LoadStrategy::redistribute: return "redistribute";
    case LoadStrategy::striped: return "striped";
  }
  return "unknown";
}

std::string LoadStats::to_json() const {
  std::string s = "{\"rank\":" + std::to_string(rank) + ",\"world\":" + std::to_string(world) + ",\"engine\":";
  detail::append_json_string(s, engine);
  auto num = [&](const char* k, std::uint64_t v) { s += ",\""; s += k; s += "\":"; s += std::to_string(v); };
  auto sec = [&](const char* k, double v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, ",\"%s\":%.6f", k, v);
    s += buf;
  };
  num("tensors", tensors);
  num("bytes_held", bytes_held);
  num("bytes_read", bytes_read);
  num("read_requests", read_requests);
  num("bytes_sent", bytes_sent);
  num("bytes_received", bytes_received);
  num("control_bytes", control_bytes);
  num("rounds", rounds);
  num("direct", direct);
  num("redistributed", redistributed);
  num("striped", striped);
  sec("seconds_read", seconds_read);
  sec("seconds_exchange", seconds_exchange);
  sec("seconds_total", seconds_total);
  s += '}';
  return s;
}

void LoadedShard::Free::operator()(std::byte* p) const noexcept { ::operator delete(p, storage_alignment); }

const LoadedTensor* LoadedShard::find(std::string_view name) const& noexcept {
  for (const LoadedTensor& t : tensors_)
    if (t.info.name == name) return &t;
  return nullptr;
}

TensorView LoadedShard::view(const LoadedTensor& t) const& noexcept {
  return TensorView(&t.info, {storage_.get() + t.info.data_offsets.begin, static_cast<std::size_t>(t.info.byte_size())});
}

std::span<std::byte> LoadedShard::bytes(const LoadedTensor& t) & noexcept {
  return {storage_.get() + t.info.data_offsets.begin, static_cast<std::size_t>(t.info.byte_size())};
}

Result<std::filesystem::path> LoadedShard::write(const std::filesystem::path& directory) const {
  Writer w;
  for (const LoadedTensor& t : tensors_) SFT_TRY(w.add(t.info.name, t.info.dtype, t.info.shape, view(t).bytes()));
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);  // every rank may try: existing is fine
  if (ec) return Error(Errc::write_failed, "cannot create " + directory.string() + ": " + ec.message());
  std::filesystem::path path = directory / rank_file_name(stats_.rank, stats_.world);
  SFT_TRY(w.write_file(path));
  return path;
}

// Builds a LoadedShard from a finished plan (a friend of LoadedShard).
struct LoadedShardBuilder {
  static LoadedShard build(const detail::RankPlan& rp, std::span<const CheckpointTensor> tensors, std::byte* storage,
                           std::uint64_t storage_bytes) {
    LoadedShard s;
    s.storage_.reset(storage);
    s.storage_bytes_ = storage_bytes;
    std::size_t name_bytes = 0, dims = 0, held = 0;
    for (const PlannedTensor& p : rp.summary.tensors) {
      if (!p.part.held) continue;
      name_bytes += p.name.size();
      dims += p.part.shape.size();
      ++held;
    }
    s.names_.reserve(name_bytes);
    s.shapes_.reserve(dims);
    s.tensors_.reserve(held);
    for (const PlannedTensor& p : rp.summary.tensors) {
      if (!p.part.held) continue;
      const TensorInfo& g = *tensors[p.index].info;
      LoadedTensor t;
      t.info.name = std::string_view(s.names_.data() + s.names_.size(), p.name.size());
      s.names_.insert(s.names_.end(), p.name.begin(), p.name.end());
      t.info.shape = std::span<const std::uint64_t>(s.shapes_.data() + s.shapes_.size(), p.part.shape.size());
      s.shapes_.insert(s.shapes_.end(), p.part.shape.begin(), p.part.shape.end());
      t.info.dtype = g.dtype;
      t.info.data_offsets = {rp.output_at[p.index], rp.output_at[p.index] + p.part.byte_size()};
      t.global_shape.assign(g.shape.begin(), g.shape.end());
      t.assignment = p.assignment;
      t.strategy = p.strategy;
      t.part = p.part;
      s.tensors_.push_back(std::move(t));
    }
    return s;
  }
  static LoadStats& stats(LoadedShard& s) { return s.stats_; }
};

namespace {

// One round's exchange buffers. They exist before the round's reads (which
// put redistributed rows straight into the send blocks) and are filled before
// the round's agreement, so that nothing that can fail on one rank only
// (memory) comes between the agreement and the collective.
struct Exchange {
  Buffer send, recv;
  std::uint64_t send_total = 0, recv_total = 0;
};

Result<Exchange> allocate_exchange(const detail::Round& round) {
  Exchange x;
  if (!round.exchange) return x;
  for (auto n : round.send_counts) x.send_total += n;
  for (auto n : round.receive_counts) x.recv_total += n;
  x.send.reset(allocate(x.send_total));
  x.recv.reset(allocate(x.recv_total));
  if ((x.send_total && !x.send) || (x.recv_total && !x.recv))
    return Error(Errc::out_of_memory,
                 "no memory for " + std::to_string(x.send_total + x.recv_total) + " bytes of exchange buffers");
  return x;
}

// After the reads: the self copies, and the sends that were not read into place.
void prepare(const detail::Round& round, Exchange& x, std::byte* output, std::byte* staging) {
  using detail::Buf;
  auto src = [&](Buf b, std::uint64_t at) { return (b == Buf::staging ? staging : output) + at; };
  for (const detail::Copy& c : round.self)
    for (std::uint64_t j = 0; j < c.count; ++j)
      std::memcpy(output + c.dst_at + j * c.run, src(c.src, c.src_at + j * c.stride), c.run);
  if (!round.exchange) return;
  std::byte* to = x.send.get();
  for (const auto& copies : round.send)
    for (const detail::Copy& c : copies) {
      if (c.src == Buf::send) {  // already read into place
        to += c.bytes();
        continue;
      }
      for (std::uint64_t j = 0; j < c.count; ++j, to += c.run) std::memcpy(to, src(c.src, c.src_at + j * c.stride), c.run);
    }
}

// The all-to-all of a prepared round, then the received bytes into place.
Result<void> run_exchange(DistEngine& engine, const detail::Round& round, Exchange& x, std::byte* output,
                          LoadStats& stats) {
  if (!round.exchange) return {};
  SFT_TRY(engine.all_to_all({x.send.get(), static_cast<std::size_t>(x.send_total)}, round.send_counts,
                            {x.recv.get(), static_cast<std::size_t>(x.recv_total)}, round.receive_counts));
  const std::byte* from = x.recv.get();
  for (const auto& receives : round.receive)
    for (const detail::Receive& v : receives) {
      std::memcpy(output + v.at, from, v.length);
      from += v.length;
    }
  stats.bytes_sent += x.send_total;
  stats.bytes_received += x.recv_total;
  return {};
}

}  // namespace

Result<RankLoadPlan> plan_load(const Checkpoint& checkpoint, const TensorParallelPlan& plan, std::uint32_t rank,
                               std::span<const std::uint32_t> nodes, const LoadOptions& options) {
  SFT_TRY_ASSIGN(auto tensors, checkpoint.tensors());
  SFT_TRY_ASSIGN(auto rp, detail::plan_rank(tensors, plan, rank, nodes, options));
  return std::move(rp.summary);
}

Result<LoadedShard> load_shard(const std::filesystem::path& path, const TensorParallelPlan& plan, DistEngine& engine,
                               const LoadOptions& options) {
  const auto start = Clock::now();
  LoadStats stats;
  stats.rank = engine.rank();
  stats.world = engine.world();
  stats.engine = std::string(engine.name());

  std::optional<Checkpoint> checkpoint;
  std::vector<CheckpointTensor> tensors;
  detail::RankPlan rp;
  Buffer output, staging;

  // Everything up to the reads can fail on one rank only; the first agreement tells every rank.
  Result<void> status = [&]() -> Result<void> {
    try {
      SFT_TRY_ASSIGN(auto c, Checkpoint::open(path, options.checkpoint));
      checkpoint.emplace(std::move(c));
      SFT_TRY_ASSIGN(tensors, checkpoint->tensors());
      SFT_TRY_ASSIGN(rp, detail::plan_rank(tensors, plan, engine.rank(), engine.nodes(), options));
    } catch (...) {
      return Error(Errc::out_of_memory, "no memory to plan the load");
    }
    std::uint64_t staging_bytes = 0;
    for (const auto& r : rp.rounds) staging_bytes = std::max(staging_bytes, r.staging_bytes);
    output.reset(allocate(rp.output_bytes));
    staging.reset(allocate(staging_bytes));
    if ((rp.output_bytes && !output) || (staging_bytes && !staging))
      return Error(Errc::out_of_memory,
                   "no memory for " + std::to_string(rp.output_bytes + staging_bytes) + " bytes of tensors and staging");
    return {};
  }();

  const std::size_t rounds = status ? rp.rounds.size() : 1;
  bool exchanged = false;
  for (std::size_t k = 0; k < rounds; ++k) {
    Exchange x;
    if (status) {
      auto buffers = allocate_exchange(rp.rounds[k]);
      if (buffers) x = std::move(*buffers);
      else status = std::move(buffers).error();
    }
    if (status) {
      const auto t = Clock::now();
      detail::ReadCounters counters;
      detail::ReadTargets targets{&*checkpoint, tensors, output.get(), staging.get(), x.send.get()};
      status = detail::execute_reads(rp.rounds[k], targets, options.read_threads, &counters);
      stats.bytes_read += counters.bytes;
      stats.read_requests += counters.requests;
      stats.seconds_read += seconds_since(t);
      if (status) {
        const auto t2 = Clock::now();
        prepare(rp.rounds[k], x, output.get(), staging.get());
        stats.seconds_exchange += seconds_since(t2);
      }
    }
    // Before the collective that depends on every rank's reads: agree. The
    // first agreement also compares the plans' fingerprints, so that from
    // then on every rank runs the same sequence of collectives.
    SFT_TRY(detail::agree_on(engine, status, status ? rp.fingerprint : Digest128{}, &stats.control_bytes));
    const auto t = Clock::now();
    exchanged = exchanged || rp.rounds[k].exchange;
    SFT_TRY(run_exchange(engine, rp.rounds[k], x, output.get(), stats));
    stats.seconds_exchange += seconds_since(t);
  }
  // An exchange that failed on one rank only (an engine error) fails everywhere.
  if (exchanged) SFT_TRY(detail::agree_on(engine, Result<void>(), rp.fingerprint, &stats.control_bytes));

  stats.rounds = 0;
  for (const auto& r : rp.rounds) stats.rounds += r.exchange;
  for (const PlannedTensor& p : rp.summary.tensors) {
    stats.direct += p.strategy == LoadStrategy::direct;
    stats.redistributed += p.strategy == LoadStrategy::redistribute;
    stats.striped += p.strategy == LoadStrategy::striped;
    if (p.part.held) ++stats.tensors;
  }
  stats.bytes_held = rp.summary.bytes_held;
  try {
    LoadedShard shard = LoadedShardBuilder::build(rp, tensors, output.release(), rp.output_bytes);
    stats.seconds_total = seconds_since(start);
    LoadedShardBuilder::stats(shard) = std::move(stats);
    return shard;
  } catch (...) {
    return Error(Errc::out_of_memory, "no memory for the loaded tensors' names");
  }
}

}  // namespace sft
