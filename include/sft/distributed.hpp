// sft/distributed.hpp — tensor-parallel loading: each rank reads only its share.
//
// load_shard() gives every rank of a group the part of each tensor that a
// TensorParallelPlan (sft/tensor_parallel.hpp) assigns it. Every rank plans
// the whole group's work from the same inputs (the checkpoint's headers, the
// plan, the options, the group's shape), so no plan is ever sent; then:
//
//   * parts that are contiguous in the file (dim-0 splits, experts, whole
//     tensors) are read directly by the ranks that hold them;
//   * parts that are strided (a split along dimension 1 or an inner
//     dimension: rows x chunk) are either read directly, run by run, or
//     "redistributed": each rank reads a contiguous 1/world of the tensor's
//     rows and an all-to-all hands every rank its columns;
//   * replicated tensors are either read by every rank or "striped": each rank
//     of a node (or of the whole group) reads 1/n of the bytes and an
//     all-to-all gives everyone the rest.
//
// The choice is per tensor, from a cost model (CostModel; docs/distributed.md
// has the formulas), or forced by LoadOptions. Reads are coalesced across
// tensors, reading a gap between two ranges when it is small (at most
// max(gap_floor, over_read_ratio x useful bytes) per request), and issued as
// parallel preads.
//
// Collectives go through a DistEngine: MPI and NCCL in sft_dist
// (sft/dist_mpi.hpp, sft/dist_nccl.hpp), torch.distributed from Python
// (sft.distributed), a one-rank engine here. The planner never sees which.
//
// Faults: every rank's outcome is agreed on (an all-gather of a fixed-size
// status) after each round of reads and before the collective that depends on
// them, so a rank that cannot open or read its files makes EVERY rank return
// an error: its own error on the failing rank, dist_peer_failed (quoting it)
// on the others. Ranks whose checkpoints, plans or options differ get
// dist_mismatch before any data moves. Engines bound every collective by a
// timeout (dist_timeout; the engine is unusable afterwards, and an MPI
// program should then MPI_Abort: see sft/dist_mpi.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sft/checkpoint.hpp"
#include "sft/header.hpp"
#include "sft/result.hpp"
#include "sft/tensor_parallel.hpp"
#include "sft/tensor_view.hpp"

namespace sft {

// --- engines -----------------------------------------------------------------------------

// The collectives the loader needs, over byte buffers in host memory. Every
// rank calls the same collectives in the same order (the loader guarantees it
// once the ranks have agreed on their plans). Implementations bound each call
// by a timeout and return dist_timeout / dist_engine instead of hanging or
// aborting; after such an error the engine is unusable.
class DistEngine {
 public:
  virtual ~DistEngine() = default;

  virtual std::string_view name() const noexcept = 0;  // "local", "mpi", "nccl", "torch"
  virtual std::uint32_t rank() const noexcept = 0;
  virtual std::uint32_t world() const noexcept = 0;
  // The node of every rank (world entries, numbered from 0): ranks of one
  // node share its storage bandwidth and a fast link.
  virtual std::span<const std::uint32_t> nodes() const noexcept = 0;

  // out (world x mine.size() bytes) receives every rank's `mine`, in rank order.
  virtual Result<void> all_gather(std::span<const std::byte> mine, std::span<std::byte> out) = 0;
  // `buffer` of `root` is copied into `buffer` of every rank (same size everywhere).
  virtual Result<void> broadcast(std::span<std::byte> buffer, std::uint32_t root) = 0;
  // On root, `send` holds world blocks of recv.size() bytes; rank r receives block r.
  // `send` is ignored on other ranks.
  virtual Result<void> scatter(std::span<const std::byte> send, std::span<std::byte> recv, std::uint32_t root) = 0;
  // `send` holds send_counts[q] bytes for each rank q, back to back in rank
  // order; `recv` receives recv_counts[p] bytes from each rank p, likewise.
  // The counts must pair up (what p sends to q is what q expects from p).
  virtual Result<void> all_to_all(std::span<const std::byte> send, std::span<const std::uint64_t> send_counts,
                                  std::span<std::byte> recv, std::span<const std::uint64_t> recv_counts) = 0;
  virtual Result<void> barrier() = 0;
};

// The engine of a group of one: every collective is a local copy.
std::unique_ptr<DistEngine> make_local_engine();

// The number of ranks a parallel launcher announces to this process through
// its environment (Open MPI's OMPI_COMM_WORLD_SIZE, the PMI_SIZE of MPICH's
// launcher, Slurm's SLURM_NTASKS), or 0 when none does. A program
// built without an engine uses it to refuse to run as N copies of rank 0.
unsigned launcher_world_size() noexcept;

// Agreement: every rank passes its own outcome; every rank gets an error if
// any rank had one (its own error on the failing rank, dist_peer_failed
// quoting the lowest failing rank's error on the others), or an engine error.
// Tools call it when their own set-up (reading a plan, creating a directory)
// can fail on some ranks only, before anything that needs every rank.
Result<void> agree(DistEngine& engine, const Result<void>& local);

// --- options ---------------------------------------------------------------------------

enum class SplitStrategy : std::uint8_t {
  automatic,     // the cheaper of the two under the cost model
  direct,        // each rank reads its own runs (coalesced with the gap rule)
  redistribute,  // each rank reads 1/world of the rows, an all-to-all sorts them out
};

enum class ReplicaStrategy : std::uint8_t {
  automatic,   // every_rank or per_node, the cheaper under the cost model
  every_rank,  // every rank reads the whole tensor
  per_node,    // the ranks of each node read 1/n of it each and exchange the rest
  per_world,   // all ranks read 1/world each and exchange the rest
};

// The cost model that picks strategies (docs/distributed.md, "Cost model").
// Defaults describe one node with local NVMe and a fast interconnect; the
// choice only needs the ratios to be roughly right.
struct CostModel {
  double storage_bytes_per_s = 2e9;     // per node, shared by the node's ranks
  double request_latency_s = 100e-6;    // per read request (divided over the read threads)
  double network_bytes_per_s = 10e9;    // per rank, each direction
  double collective_latency_s = 50e-6;  // fixed cost of one exchange for one tensor
};

// When two ranges are read as one request (the gap read and thrown away):
// while the request's thrown-away bytes stay at most
// max(gap_floor, over_read_ratio x its useful bytes) and its span at most
// max_request_bytes. Ranges longer than max_request_bytes are cut into
// requests of that size, so that the read threads share a large tensor.
struct CoalesceOptions {
  std::uint64_t gap_floor = 32 << 10;
  double over_read_ratio = 1.0 / 32;
  std::uint64_t max_request_bytes = 16 << 20;
};

struct LoadOptions {
  SplitStrategy split = SplitStrategy::automatic;
  ReplicaStrategy replicated = ReplicaStrategy::automatic;
  CostModel cost{};
  CoalesceOptions coalesce{};
  unsigned read_threads = 4;                      // parallel preads per rank (0: one per hardware thread)
  // Tensors that need an exchange are grouped into rounds of at most this many
  // bytes of staging and exchange buffers per rank (a larger tensor is a round
  // of its own); each round is read, agreed on, then exchanged.
  std::uint64_t max_round_bytes = std::uint64_t{1} << 30;
  // How shards are opened. pread by default: a file truncated under the
  // loader is io_error on that rank (and dist_peer_failed elsewhere), never SIGBUS.
  CheckpointOptions checkpoint{.open = {.mode = ReadMode::pread}};
};

// --- the plan of one rank ------------------------------------------------------------------

enum class LoadStrategy : std::uint8_t {
  none,          // nobody holds the tensor (skip)
  direct,        // read by the ranks that hold it
  redistribute,  // read 1/world of the rows each, then all-to-all
  striped,       // replicated: read 1/n each within a group, then all-to-all
};
std::string_view strategy_name(LoadStrategy s) noexcept;

struct PlannedTensor {
  std::size_t index = 0;                 // in the checkpoint's tensors() order
  std::string name;
  TensorAssignment assignment;
  LoadStrategy strategy = LoadStrategy::none;
  std::uint32_t round = 0;               // exchange round (0 for direct reads)
  TensorPart part;                       // this rank's part (held == false: none)
  std::uint64_t bytes_read = 0;          // storage bytes this rank reads for it (gaps within it included)
};

// Read requests after coalescing: `repeat` requests of `length` bytes, the
// first at `offset` of a shard file and each `stride` bytes after the
// previous (repeat > 1 only for a strided direct read, whose last request may
// be shorter: `length` is then the total), `useful` bytes of them needed (the
// rest are gaps read and thrown away).
struct PlannedRead {
  std::size_t shard = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;              // bytes read, all repeats together
  std::uint64_t useful = 0;
  std::uint64_t repeat = 1;
  std::uint64_t stride = 0;
};

struct RankLoadPlan {
  std::uint32_t rank = 0, world = 1;
  std::vector<PlannedTensor> tensors;    // every tensor of the checkpoint, in tensors() order
  std::vector<PlannedRead> requests;     // every round's (issued in parallel, in no set order)
  std::uint32_t rounds = 1;
  std::uint64_t bytes_held = 0;          // sum of this rank's parts
  std::uint64_t bytes_read = 0;          // sum of requests' lengths
  std::uint64_t bytes_to_send = 0, bytes_to_receive = 0;  // through the engine
};

// The plan of `rank` of a group of world = nodes.size() ranks, without reading
// any tensor data (shard headers are opened). Every error of assign(), and
// the checkpoint's.
Result<RankLoadPlan> plan_load(const Checkpoint& checkpoint, const TensorParallelPlan& plan, std::uint32_t rank,
                               std::span<const std::uint32_t> nodes, const LoadOptions& options = {});

// --- loading -------------------------------------------------------------------------------

// What one rank moved, measured while loading.
struct LoadStats {
  std::uint32_t rank = 0, world = 1;
  std::string engine;
  std::uint64_t tensors = 0;             // tensors this rank holds
  std::uint64_t bytes_held = 0;          // their bytes
  std::uint64_t bytes_read = 0;          // requested from storage (coalesced gaps included)
  std::uint64_t read_requests = 0;       // pread / preadv calls
  std::uint64_t bytes_sent = 0;          // through the engine's all-to-all (to other ranks)
  std::uint64_t bytes_received = 0;      // through the engine's all-to-all (from other ranks)
  std::uint64_t control_bytes = 0;       // agreement messages (all-gathered status blocks)
  std::uint32_t rounds = 0;              // exchange rounds
  std::uint64_t direct = 0, redistributed = 0, striped = 0;  // tensors by strategy (held or not)
  double seconds_read = 0, seconds_exchange = 0, seconds_total = 0;

  // One JSON object on one line: {"rank":0,"world":4,"engine":"mpi","tensors":..,
  // "bytes_held":..,"bytes_read":..,"read_requests":..,"bytes_sent":..,
  // "bytes_received":..,"control_bytes":..,"rounds":..,"direct":..,
  // "redistributed":..,"striped":..,"seconds_read":..,"seconds_exchange":..,"seconds_total":..}
  std::string to_json() const;
};

// One tensor as this rank holds it. `info` has the local shape and
// data_offsets relative to the shard's storage; view() gives its bytes.
struct LoadedTensor {
  TensorInfo info;
  std::vector<std::uint64_t> global_shape;
  TensorAssignment assignment;
  LoadStrategy strategy = LoadStrategy::direct;
  TensorPart part;
};

// The tensors a rank holds, in one buffer it owns. Move-only.
class LoadedShard {
 public:
  LoadedShard() = default;
  LoadedShard(LoadedShard&&) noexcept = default;
  LoadedShard& operator=(LoadedShard&&) noexcept = default;
  LoadedShard(const LoadedShard&) = delete;
  LoadedShard& operator=(const LoadedShard&) = delete;

  // Held tensors in checkpoint order (shard order, then data order).
  std::span<const LoadedTensor> tensors() const& noexcept { return tensors_; }
  std::span<const LoadedTensor> tensors() && = delete;
  const LoadedTensor* find(std::string_view name) const& noexcept;
  TensorView view(const LoadedTensor& t) const& noexcept;
  TensorView view(const LoadedTensor& t) && = delete;
  std::span<std::byte> bytes(const LoadedTensor& t) & noexcept;
  const LoadStats& stats() const noexcept { return stats_; }
  std::uint32_t rank() const noexcept { return stats_.rank; }
  std::uint32_t world() const noexcept { return stats_.world; }

  // Write the held tensors as directory/rank_file_name(rank, world), with the
  // Writer (atomically, the reference's layout, no metadata): byte for byte
  // what reshard() writes for this rank. The directory is created if missing.
  Result<std::filesystem::path> write(const std::filesystem::path& directory) const;

 private:
  friend struct LoadedShardBuilder;
  struct Free { void operator()(std::byte* p) const noexcept; };
  std::unique_ptr<std::byte, Free> storage_;
  std::uint64_t storage_bytes_ = 0;
  std::vector<char> names_;               // every name's bytes, back to back (stable under moves)
  std::vector<std::uint64_t> shapes_;     // every local shape, back to back
  std::vector<LoadedTensor> tensors_;
  LoadStats stats_;
};

template <>
inline constexpr bool result_owns_views<LoadedShard> = true;

// Load this rank's share of the checkpoint at `path` (a file, directory or
// index). Every rank of `engine` must call it with the same plan and options
// (dist_mismatch otherwise). Errors: the checkpoint's, assign()'s, io_error
// from reads, out_of_memory, the engine's, and dist_peer_failed / dist_mismatch.
Result<LoadedShard> load_shard(const std::filesystem::path& path, const TensorParallelPlan& plan, DistEngine& engine,
                               const LoadOptions& options = {});

// --- offline resharding ----------------------------------------------------------------------

struct ReshardedFile {
  std::filesystem::path path;
  std::uint64_t tensors = 0;
  std::uint64_t bytes = 0;               // tensor bytes
};

// Write one file per rank, directory/rank_file_name(r, world), each holding
// that rank's parts under their original names with their local shapes (the
// pre-sharded layout of vLLM's sharded_state loader). The directory is
// created if missing. On failure the files this call wrote are removed.
Result<std::vector<ReshardedFile>> reshard(const Checkpoint& checkpoint, const TensorParallelPlan& plan,
                                           std::uint32_t world, const std::filesystem::path& directory);

}  // namespace sft
