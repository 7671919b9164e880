// Distributed loading with ranks as threads (tests/support/thread_engine.hpp):
// every rank's tensors against an element-by-element reference slicer, for
// every strategy, world sizes 1..4, node layouts, sharded checkpoints and
// every dtype; the accounting; the plan's read requests; the faults (a rank
// that cannot open or read, plans that differ, a rank that never comes).
// The same loader under MPI and torch.distributed, against the reference
// package, is tests/py/dist_mpi.py and tests/py/dist_torch.py.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "dist/load_plan.hpp"
#include "dist/read_exec.hpp"
#include "sft/checkpoint_writer.hpp"
#include "sft/compressed.hpp"
#include "sft/distributed.hpp"
#include "sft/writer.hpp"
#include "test_support.hpp"
#include "thread_engine.hpp"

namespace {

namespace fs = std::filesystem;
using sft::DType;
using sft::Errc;
using sft::LoadOptions;
using sft::ReplicaStrategy;
using sft::SplitStrategy;
using sft::TensorParallelPlan;
using sft::test::ThreadGroup;

struct Spec {
  std::string name;
  DType dtype;
  std::vector<std::uint64_t> shape;
};

std::uint64_t bit_count(const Spec& s) {
  std::uint64_t b = sft::bits(s.dtype);
  for (auto d : s.shape) b *= d;
  return b;
}

// Tensors with random bytes, written as a checkpoint of several shards
// (max_shard_size bytes each) or one file.
struct Model {
  fs::path path;
  std::map<std::string, std::vector<std::byte>> bytes;
  std::map<std::string, Spec> specs;
};

Model write_model(const fs::path& dir, const std::vector<Spec>& specs, std::uint64_t max_shard_size) {
  Model m;
  std::mt19937_64 rng(42);
  sft::Writer w;
  for (const Spec& s : specs) {
    auto& b = m.bytes[s.name];
    b.resize(bit_count(s) / 8);
    for (auto& x : b) x = static_cast<std::byte>(rng());
    m.specs[s.name] = s;
  }
  for (const Spec& s : specs) EXPECT_TRUE(w.add(s.name, s.dtype, s.shape, m.bytes[s.name]).ok()) << s.name;
  auto whole = w.serialize();
  EXPECT_TRUE(whole.ok());
  auto file = sft::File::from_memory(*whole);
  EXPECT_TRUE(file.ok());
  auto all = file->views();
  EXPECT_TRUE(all.ok());
  std::vector<sft::TensorView> views(all->begin(), all->end());
  sft::CheckpointWriteOptions o;
  o.sharding.max_shard_size = max_shard_size;
  auto plan = sft::write_checkpoint(views, dir, o);
  EXPECT_TRUE(plan.ok()) << (plan.ok() ? "" : plan.error().to_string());
  m.path = dir;
  return m;
}

// The part of a tensor a rank should hold, element by element: every element
// whose index along `dim` lies in [start, stop), in row-major order, bit by bit.
std::vector<std::byte> reference_part(const Spec& s, const std::vector<std::byte>& full, std::uint32_t dim,
                                      std::uint64_t start, std::uint64_t stop) {
  const unsigned b = sft::bits(s.dtype);
  std::uint64_t n = 1;
  for (auto d : s.shape) n *= d;
  std::vector<std::byte> out;
  std::uint64_t out_bits = 0;
  std::vector<std::uint64_t> idx(s.shape.size(), 0);
  for (std::uint64_t e = 0; e < n; ++e) {
    if (s.shape.empty() || (idx[dim] >= start && idx[dim] < stop)) {
      for (unsigned k = 0; k < b; ++k) {
        const std::uint64_t src = e * b + k;
        const bool bit = (static_cast<unsigned>(full[src / 8]) >> (src % 8)) & 1u;
        if (out_bits % 8 == 0) out.push_back(std::byte{0});
        if (bit) out.back() |= static_cast<std::byte>(1u << (out_bits % 8));
        ++out_bits;
      }
    }
    for (std::size_t k = idx.size(); k-- > 0;) {
      if (++idx[k] < s.shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

// What rank r of w should hold of a tensor: nullopt when nothing.
std::optional<std::vector<std::byte>> expected(const Model& m, const TensorParallelPlan& plan, const std::string& name,
                                               std::uint32_t r, std::uint32_t w) {
  const Spec& s = m.specs.at(name);
  sft::TensorInfo info;
  info.name = s.name;
  info.dtype = s.dtype;
  info.shape = s.shape;
  info.data_offsets = {0, bit_count(s) / 8};
  auto a = plan.assign(info, w);
  EXPECT_TRUE(a.ok());
  switch (a->placement) {
    case sft::Placement::skip: return std::nullopt;
    case sft::Placement::replicate: return m.bytes.at(name);
    case sft::Placement::expert: {
      auto e = sft::expert_range(a->experts, r, w);
      if (a->expert < e.start || a->expert >= e.stop) return std::nullopt;
      return m.bytes.at(name);
    }
    case sft::Placement::split: {
      auto c = sft::chunk_range(s.shape[a->dim], r, w);
      return reference_part(s, m.bytes.at(name), a->dim, c.start, c.stop);
    }
  }
  return std::nullopt;
}

// Every tensor of every rank against the reference; `check` sees each rank's shard.
void load_and_check(const Model& m, const TensorParallelPlan& plan, std::uint32_t world, const LoadOptions& o,
                    std::vector<std::uint32_t> nodes = {},
                    const std::function<void(const sft::LoadedShard&)>& check = {}) {
  ThreadGroup g(world, std::move(nodes));
  std::mutex mu;
  g.run([&](sft::DistEngine& e) {
    auto shard = sft::load_shard(m.path, plan, e, o);
    std::lock_guard<std::mutex> lock(mu);
    SCOPED_TRACE("rank " + std::to_string(e.rank()) + " of " + std::to_string(world));
    ASSERT_TRUE(shard.ok()) << shard.error().to_string();
    std::size_t held = 0;
    for (const auto& [name, spec] : m.specs) {
      auto want = expected(m, plan, name, e.rank(), world);
      const sft::LoadedTensor* t = shard->find(name);
      ASSERT_EQ(t != nullptr, want.has_value()) << name;
      if (!t) continue;
      ++held;
      auto got = shard->view(*t).bytes();
      ASSERT_EQ(got.size(), want->size()) << name;
      EXPECT_TRUE(std::equal(got.begin(), got.end(), want->begin())) << name;
      EXPECT_EQ(t->info.dtype, spec.dtype);
      EXPECT_EQ(std::vector<std::uint64_t>(t->global_shape), spec.shape);
    }
    EXPECT_EQ(shard->tensors().size(), held);
    EXPECT_EQ(shard->stats().tensors, held);
    if (check) check(*shard);
  });
}

const char* kPlan = R"({"rules":[
  {"match":"*.col","split":0}, {"match":"*.row","split":1}, {"match":"*.inner","split":1},
  {"match":"experts.{e}.w","experts":6}, {"match":"*.skip","skip":true}, {"match":"*.rep","replicate":true}],
  "default":"replicate"})";

// Every dtype, each split along dim 0, dim 1 and an inner dim, uneven sizes,
// replicated, experts, empty and scalar tensors. Sub-byte shapes keep every
// part on whole bytes for worlds 1..4.
std::vector<Spec> every_kind() {
  std::vector<Spec> specs;
  for (int t = 0; t < sft::dtype_count; ++t) {
    const auto d = static_cast<DType>(t);
    const std::string n(sft::name(d));
    if (sft::is_subbyte(d)) {
      const std::uint64_t row = d == DType::F4 ? 24 : 48;
      specs.push_back({n + ".col", d, {8, 4}});
      specs.push_back({n + ".row", d, {4, row}});
      specs.push_back({n + ".inner", d, {3, 8, 4}});
      specs.push_back({n + ".rep", d, {8}});
    } else {
      specs.push_back({n + ".col", d, {7, 6}});
      specs.push_back({n + ".row", d, {6, 10}});
      specs.push_back({n + ".inner", d, {3, 5, 4}});
      specs.push_back({n + ".rep", d, {5}});
    }
  }
  for (int e = 0; e < 6; ++e) specs.push_back({"experts." + std::to_string(e) + ".w", DType::BF16, {2, 3}});
  specs.push_back({"x.skip", DType::F32, {4}});
  specs.push_back({"empty.col", DType::F32, {0, 4}});
  specs.push_back({"empty.row", DType::F32, {4, 0}});
  specs.push_back({"scalar", DType::F64, {}});
  specs.push_back({"big.row", DType::F32, {64, 96}});  // strided runs worth coalescing, redistributed through staging
  specs.push_back({"wide.row", DType::F32, {6, 1100}});  // rows read straight into the send blocks
  specs.push_back({"odd.row", DType::BF16, {5, 1030}});  // into place for 2 ranks, through staging for 3 and 4
  specs.push_back({"big.rep", DType::U8, {3000}});
  return specs;
}

TensorParallelPlan plan_of(const char* json) {
  auto p = TensorParallelPlan::parse(json);
  EXPECT_TRUE(p.ok());
  return std::move(*p);
}

TEST(DistLoad, EveryStrategyEveryWorld) {
  const Model m = write_model(sft::test::temp_dir("dist_every"), every_kind(), 600);
  auto checkpoint = sft::Checkpoint::open(m.path);
  ASSERT_TRUE(checkpoint.ok());
  ASSERT_GT(checkpoint->shards().size(), 3u);  // tensors spread over shards
  const auto plan = plan_of(kPlan);
  for (std::uint32_t w = 1; w <= 4; ++w)
    for (auto split : {SplitStrategy::automatic, SplitStrategy::direct, SplitStrategy::redistribute})
      for (auto rep : {ReplicaStrategy::automatic, ReplicaStrategy::every_rank, ReplicaStrategy::per_node,
                       ReplicaStrategy::per_world}) {
        LoadOptions o;
        o.split = split;
        o.replicated = rep;
        SCOPED_TRACE("world " + std::to_string(w) + " split " + std::to_string(int(split)) + " replicated " +
                     std::to_string(int(rep)));
        load_and_check(m, plan, w, o);
      }
}

TEST(DistLoad, NodesGroupStripesAndRoundsStayCorrect) {
  const Model m = write_model(sft::test::temp_dir("dist_nodes"), every_kind(), 1 << 20);
  const auto plan = plan_of(kPlan);
  LoadOptions o;
  o.split = SplitStrategy::redistribute;
  o.replicated = ReplicaStrategy::per_node;
  o.max_round_bytes = 512;  // many exchange rounds
  o.read_threads = 3;
  o.coalesce.max_request_bytes = 100;  // large ranges cut into many requests
  load_and_check(m, plan, 4, o, {0, 0, 1, 1}, [](const sft::LoadedShard& s) {
    EXPECT_GT(s.stats().rounds, 3u);
    EXPECT_GT(s.stats().striped, 0u);
  });
  load_and_check(m, plan, 3, o, {0, 1, 1});
}

TEST(DistLoad, CompressedCheckpointsReadThroughTheFile) {
  const fs::path dir = sft::test::temp_dir("dist_compressed");
  const Model m = write_model(dir / "plain", every_kind(), ~std::uint64_t{0});
  auto f = sft::File::open(m.path / "model.safetensors");
  ASSERT_TRUE(f.ok());
  auto stats = sft::compress_file(*f, dir / "model.safetensors");
  if (!stats.ok() && stats.error().code == Errc::compressed_unsupported) GTEST_SKIP() << "built without zstd";
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  Model c = m;
  c.path = dir / "model.safetensors";
  LoadOptions o;
  o.split = SplitStrategy::direct;  // strided reads through read_bytes
  load_and_check(c, plan_of(kPlan), 2, o);
}

TEST(DistLoad, WrittenRankFilesEqualReshard) {
  const fs::path dir = sft::test::temp_dir("dist_write");
  const Model m = write_model(dir / "model", every_kind(), 700);
  const auto plan = plan_of(kPlan);
  auto checkpoint = sft::Checkpoint::open(m.path);
  ASSERT_TRUE(checkpoint.ok());
  auto files = sft::reshard(*checkpoint, plan, 3, dir / "reshard");
  ASSERT_TRUE(files.ok()) << files.error().to_string();
  ASSERT_EQ(files->size(), 3u);
  ThreadGroup g(3);
  LoadOptions o;
  o.split = SplitStrategy::redistribute;
  g.run([&](sft::DistEngine& e) {
    auto shard = sft::load_shard(m.path, plan, e, o);
    ASSERT_TRUE(shard.ok());
    auto path = shard->write(dir / "load");
    ASSERT_TRUE(path.ok()) << path.error().to_string();
    EXPECT_EQ(sft::test::read_all(*path), sft::test::read_all((*files)[e.rank()].path));
    EXPECT_EQ((*files)[e.rank()].tensors, shard->tensors().size());
  });
}

TEST(DistLoad, AccountingMatchesThePlan) {
  // One row-parallel weight: with redistribution each rank reads a quarter of
  // it, sends three quarters of that and receives as much.
  const Model m = write_model(sft::test::temp_dir("dist_accounting"), {{"w.row", DType::F32, {64, 256}}}, ~0ull);
  const auto plan = plan_of(kPlan);
  const std::uint64_t B = 64 * 256 * 4;
  LoadOptions o;
  o.split = SplitStrategy::redistribute;
  std::atomic<std::uint64_t> sent{0}, received{0};
  load_and_check(m, plan, 4, o, {}, [&](const sft::LoadedShard& s) {
    EXPECT_EQ(s.stats().bytes_read, B / 4);
    EXPECT_EQ(s.stats().read_requests, 1u);
    EXPECT_EQ(s.stats().bytes_sent, B / 4 * 3 / 4);
    EXPECT_EQ(s.stats().bytes_received, B / 4 * 3 / 4);
    EXPECT_EQ(s.stats().redistributed, 1u);
    EXPECT_EQ(s.stats().rounds, 1u);
    EXPECT_GT(s.stats().control_bytes, 0u);
    sent += s.stats().bytes_sent;
    received += s.stats().bytes_received;
  });
  EXPECT_EQ(sent.load(), received.load());
  // Read directly, each rank's 64 runs of 256 bytes, 1024 apart, are read 43
  // at a time: 42 gaps of 768 bytes stay within the 32 KiB gap floor.
  o.split = SplitStrategy::direct;
  load_and_check(m, plan, 4, o, {}, [&](const sft::LoadedShard& s) {
    EXPECT_EQ(s.stats().read_requests, 2u);
    EXPECT_EQ(s.stats().bytes_read, (42u * 1024 + 256) + (20u * 1024 + 256));
    EXPECT_EQ(s.stats().bytes_sent + s.stats().bytes_received, 0u);
  });
  // World 1 moves nothing.
  load_and_check(m, plan, 1, {}, {}, [&](const sft::LoadedShard& s) {
    EXPECT_EQ(s.stats().bytes_read, B);
    EXPECT_EQ(s.stats().bytes_sent + s.stats().bytes_received, 0u);
  });
}

TEST(DistPlan, RequestsPerStrategy) {
  const std::uint64_t rep = 1 << 20;  // F32 elements of the replicated tensor
  const Model m = write_model(sft::test::temp_dir("dist_requests"),
                              {{"a.col", DType::BF16, {1024, 512}}, {"b.row", DType::BF16, {512, 1024}},
                               {"c.rep", DType::F32, {rep}}},
                              ~0ull);
  auto checkpoint = sft::Checkpoint::open(m.path);
  ASSERT_TRUE(checkpoint.ok());
  const auto plan = plan_of(kPlan);
  const std::vector<std::uint32_t> nodes(4, 0);
  LoadOptions o;
  o.split = SplitStrategy::redistribute;
  o.replicated = ReplicaStrategy::per_world;
  o.coalesce.gap_floor = 0;  // no coalescing across tensors: one request each
  o.coalesce.over_read_ratio = 0;
  auto strategy = [&](const sft::Result<sft::RankLoadPlan>& p, std::string_view name) {
    for (const auto& t : p->tensors)
      if (t.name == name) return t.strategy;
    ADD_FAILURE() << name;
    return sft::LoadStrategy::none;
  };
  auto p = sft::plan_load(*checkpoint, plan, 1, nodes, o);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  ASSERT_EQ(p->tensors.size(), 3u);
  EXPECT_EQ(strategy(p, "a.col"), sft::LoadStrategy::direct);        // dim 0: contiguous
  EXPECT_EQ(strategy(p, "b.row"), sft::LoadStrategy::redistribute);  // dim 1, forced
  EXPECT_EQ(strategy(p, "c.rep"), sft::LoadStrategy::striped);
  ASSERT_EQ(p->requests.size(), 3u);
  std::uint64_t total = 0;
  for (const auto& r : p->requests) {
    EXPECT_EQ(r.repeat, 1u);
    EXPECT_EQ(r.useful, r.length);
    total += r.length;
  }
  EXPECT_EQ(total, (1024u * 512 * 2 + 512u * 1024 * 2 + rep * 4) / 4);
  EXPECT_EQ(p->bytes_read, total);
  EXPECT_EQ(p->bytes_held, 1024u * 512 * 2 / 4 + 512u * 1024 * 2 / 4 + rep * 4);

  // Direct strided reads: runs of 512 bytes, 2048 apart; with no over-read allowed, one request each.
  o.split = SplitStrategy::direct;
  auto d = sft::plan_load(*checkpoint, plan, 1, nodes, o);
  ASSERT_TRUE(d.ok());
  const auto strided = std::find_if(d->requests.begin(), d->requests.end(), [](const auto& r) { return r.repeat > 1; });
  ASSERT_NE(strided, d->requests.end());
  EXPECT_EQ(strided->repeat, 512u);
  EXPECT_EQ(strided->length, 512u * 512);
  EXPECT_EQ(strided->useful, 512u * 512);

  // The cost model: a row-parallel weight is redistributed when the network
  // is fast and read directly when it is slow.
  o.split = SplitStrategy::automatic;
  o.cost.network_bytes_per_s = 100e9;
  EXPECT_EQ(strategy(sft::plan_load(*checkpoint, plan, 0, nodes, o), "b.row"), sft::LoadStrategy::redistribute);
  o.cost.network_bytes_per_s = 1e6;
  EXPECT_EQ(strategy(sft::plan_load(*checkpoint, plan, 0, nodes, o), "b.row"), sft::LoadStrategy::direct);
  // ... and a replicated tensor striped only when there are several ranks per node.
  o.replicated = ReplicaStrategy::automatic;
  o.cost.network_bytes_per_s = 100e9;
  EXPECT_EQ(strategy(sft::plan_load(*checkpoint, plan, 0, nodes, o), "c.rep"), sft::LoadStrategy::striped);
  const std::vector<std::uint32_t> apart{0, 1, 2, 3};
  EXPECT_EQ(strategy(sft::plan_load(*checkpoint, plan, 0, apart, o), "c.rep"), sft::LoadStrategy::direct);
}

TEST(DistPlan, CoalescingFollowsTheGapRule) {
  using sft::detail::Buf;
  using sft::detail::Range;
  sft::CoalesceOptions c;
  c.gap_floor = 100;
  c.over_read_ratio = 0.5;
  c.max_request_bytes = 10'000;
  // Gaps of 100 are absorbed (floor), then one of 1000 for 1000 useful (ratio 0.5: no).
  std::vector<Range> r = {{0, 0, 0, 50, Buf::output, 0},       {0, 0, 150, 50, Buf::output, 50},
                          {0, 0, 250, 1000, Buf::output, 100}, {0, 0, 2250, 10, Buf::output, 1100},
                          {1, 0, 2260, 10, Buf::output, 1110}};
  auto q = sft::detail::coalesce(r, c);
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].offset, 0u);
  EXPECT_EQ(q[0].length, 1250u);
  EXPECT_EQ(q[0].useful, 1100u);
  EXPECT_EQ(q[0].segments.size(), 5u);  // three ranges, two gaps
  EXPECT_EQ(q[1].offset, 2250u);
  EXPECT_EQ(q[2].shard, 1u);            // never across files
  // Long ranges are cut.
  c.max_request_bytes = 400;
  auto cut = sft::detail::coalesce({{0, 0, 0, 1000, Buf::output, 0}}, c);
  ASSERT_EQ(cut.size(), 3u);
  EXPECT_EQ(cut[2].offset, 800u);
  EXPECT_EQ(cut[2].segments[0].at, 800u);
  // Strided runs per request: (k - 1) gaps within max(floor, ratio x k x run).
  sft::CoalesceOptions s;
  s.gap_floor = 1000;
  s.over_read_ratio = 0;
  s.max_request_bytes = 1 << 20;
  EXPECT_EQ(sft::detail::runs_per_request(10, 110, 1000, s), 11u);
  s.over_read_ratio = 1;
  EXPECT_EQ(sft::detail::runs_per_request(100, 150, 1000, s), 1000u);  // gap 50 <= 100 per run: unbounded
  EXPECT_EQ(sft::detail::runs_per_request(10, 110, 5, s), 5u);
}

// --- faults -------------------------------------------------------------------------------

struct Outcome {
  std::vector<sft::Error> errors;
};

// Run the load with each rank choosing its own path / plan; collect errors.
std::vector<std::optional<sft::Error>> run_ranks(std::uint32_t world, const std::function<fs::path(std::uint32_t)>& path,
                                                 const std::function<TensorParallelPlan(std::uint32_t)>& plan,
                                                 std::chrono::milliseconds timeout = std::chrono::seconds(20),
                                                 std::int64_t absent = -1) {
  ThreadGroup g(world, {}, timeout);
  std::vector<std::optional<sft::Error>> out(world);
  g.run([&](sft::DistEngine& e) {
    if (static_cast<std::int64_t>(e.rank()) == absent) return;  // this rank never comes
    auto shard = sft::load_shard(path(e.rank()), plan(e.rank()), e);
    if (!shard) out[e.rank()] = shard.error();
  });
  return out;
}

TEST(DistFaults, AMissingCheckpointOnOneRankFailsEveryRank) {
  const Model m = write_model(sft::test::temp_dir("dist_missing"), every_kind(), 600);
  const auto plan = plan_of(kPlan);
  auto errors = run_ranks(
      3, [&](std::uint32_t r) { return r == 1 ? m.path / "nowhere" : m.path; }, [&](std::uint32_t) { return plan; });
  ASSERT_TRUE(errors[1].has_value());
  EXPECT_EQ(errors[1]->code, Errc::io_error) << errors[1]->to_string();
  for (std::uint32_t r : {0u, 2u}) {
    ASSERT_TRUE(errors[r].has_value()) << r;
    EXPECT_EQ(errors[r]->code, Errc::dist_peer_failed);
    EXPECT_NE(errors[r]->message.find("rank 1 of 3 failed: io_error"), std::string::npos) << errors[r]->message;
  }
}

TEST(DistFaults, ATruncatedShardOnOneRankFailsEveryRank) {
  const fs::path dir = sft::test::temp_dir("dist_truncated");
  const Model m = write_model(dir / "good", every_kind(), 600);
  fs::copy(m.path, dir / "bad", fs::copy_options::recursive);
  auto checkpoint = sft::Checkpoint::open(dir / "bad");
  ASSERT_TRUE(checkpoint.ok());
  const fs::path victim = *checkpoint->shard_path(1);
  fs::resize_file(victim, fs::file_size(victim) - 3);
  const auto plan = plan_of(kPlan);
  auto errors = run_ranks(
      4, [&](std::uint32_t r) { return r == 2 ? dir / "bad" : m.path; }, [&](std::uint32_t) { return plan; });
  ASSERT_TRUE(errors[2].has_value());
  EXPECT_EQ(errors[2]->code, Errc::incomplete_buffer) << errors[2]->to_string();
  for (std::uint32_t r : {0u, 1u, 3u}) {
    ASSERT_TRUE(errors[r].has_value());
    EXPECT_EQ(errors[r]->code, Errc::dist_peer_failed);
    EXPECT_NE(errors[r]->message.find("incomplete_buffer"), std::string::npos);
  }
}

TEST(DistFaults, AFileThatShrinksWhileReadIsAnIoError) {
  // Opened fine, truncated before the reads: the pread path reports it
  // (with the shard, the offset and the tensor) instead of faulting.
  const fs::path dir = sft::test::temp_dir("dist_shrinks");
  const Model m = write_model(dir, {{"w.col", DType::F32, {256, 64}}}, ~0ull);
  auto checkpoint = sft::Checkpoint::open(m.path, {.open = {.mode = sft::ReadMode::pread}});
  ASSERT_TRUE(checkpoint.ok());
  auto tensors = checkpoint->tensors();
  ASSERT_TRUE(tensors.ok());
  const auto plan = plan_of(kPlan);
  const std::vector<std::uint32_t> nodes(2, 0);
  auto rp = sft::detail::plan_rank(*tensors, plan, 1, nodes, {});
  ASSERT_TRUE(rp.ok());
  fs::resize_file(*checkpoint->shard_path(0), 1000);
  std::vector<std::byte> out(rp->output_bytes);
  sft::detail::ReadTargets targets{&*checkpoint, *tensors, out.data(), nullptr};
  auto r = sft::detail::execute_reads(rp->rounds[0], targets, 2, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::io_error);
  EXPECT_EQ(r.error().tensor, "w.col");
  EXPECT_NE(r.error().message.find("model.safetensors"), std::string::npos) << r.error().message;
}

TEST(DistFaults, DifferentPlansAreAMismatchEverywhere) {
  const Model m = write_model(sft::test::temp_dir("dist_mismatch"), every_kind(), 600);
  const auto plan = plan_of(kPlan);
  const auto other = plan_of(R"({"rules":[{"match":"*","replicate":true}]})");
  auto errors = run_ranks(3, [&](std::uint32_t) { return m.path; }, [&](std::uint32_t r) { return r == 2 ? other : plan; });
  for (std::uint32_t r = 0; r < 3; ++r) {
    ASSERT_TRUE(errors[r].has_value()) << r;
    EXPECT_EQ(errors[r]->code, Errc::dist_mismatch) << errors[r]->to_string();
  }
}

TEST(DistFaults, APlanThatDoesNotFitFailsOnEveryRankWithItsOwnError) {
  const Model m = write_model(sft::test::temp_dir("dist_planerr"), {{"a.row", DType::F32, {4}}}, ~0ull);
  const auto plan = plan_of(kPlan);  // split dim 1 of a 1-D tensor
  auto errors = run_ranks(2, [&](std::uint32_t) { return m.path; }, [&](std::uint32_t) { return plan; });
  for (std::uint32_t r = 0; r < 2; ++r) {
    ASSERT_TRUE(errors[r].has_value());
    EXPECT_EQ(errors[r]->code, Errc::plan_split);
    EXPECT_EQ(errors[r]->tensor, "a.row");
  }
}

TEST(DistFaults, ARankThatNeverComesIsATimeoutNotAHang) {
  const Model m = write_model(sft::test::temp_dir("dist_timeout"), every_kind(), 600);
  const auto plan = plan_of(kPlan);
  auto errors = run_ranks(
      3, [&](std::uint32_t) { return m.path; }, [&](std::uint32_t) { return plan; }, std::chrono::milliseconds(300), 1);
  for (std::uint32_t r : {0u, 2u}) {
    ASSERT_TRUE(errors[r].has_value());
    EXPECT_EQ(errors[r]->code, Errc::dist_timeout);
  }
}

TEST(DistAgree, ToolsCanAgreeOnTheirOwnSetUp) {
  ThreadGroup g(3);
  std::vector<Errc> codes(3, Errc::ok);
  g.run([&](sft::DistEngine& e) {
    sft::Result<void> mine;
    if (e.rank() == 2) mine = sft::Error(Errc::io_error, "cannot read plan.json");
    auto r = sft::agree(e, mine);
    codes[e.rank()] = r.ok() ? Errc::ok : r.error().code;
  });
  EXPECT_EQ(codes, (std::vector<Errc>{Errc::dist_peer_failed, Errc::dist_peer_failed, Errc::io_error}));
}

TEST(DistEngine, LocalEngineIsAGroupOfOne) {
  auto e = sft::make_local_engine();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->world(), 1u);
  std::vector<std::byte> a{std::byte{1}, std::byte{2}}, b(2);
  ASSERT_TRUE(e->all_gather(a, b).ok());
  EXPECT_EQ(a, b);
  const std::uint64_t n = 2;
  std::vector<std::byte> c(2);
  ASSERT_TRUE(e->all_to_all(a, {&n, 1}, c, {&n, 1}).ok());
  EXPECT_EQ(a, c);
  EXPECT_EQ(e->broadcast(a, 1).error().code, Errc::invalid_argument);
  EXPECT_TRUE(e->barrier().ok());
}

TEST(DistEngine, LauncherWorldSizeReadsTheEnvironment) {
  ::setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  EXPECT_EQ(sft::launcher_world_size(), 4u);
  ::setenv("OMPI_COMM_WORLD_SIZE", "x", 1);
  ::unsetenv("PMI_SIZE");
  ::unsetenv("SLURM_NTASKS");
  EXPECT_EQ(sft::launcher_world_size(), 0u);
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
}

}  // namespace
