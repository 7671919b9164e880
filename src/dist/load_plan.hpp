// src/dist/load_plan.hpp — one rank's share of a distributed load, as work lists (internal).
//
// plan_rank() is a pure function of (the checkpoint's tensors, the plan, the
// options, the group's shape, the rank): every rank computes the whole
// group's strategy per tensor the same way, then keeps what concerns it:
// reads (coalesced), copies into its send buffers, and where the bytes it
// receives go. The fingerprint hashes everything that must be equal on every
// rank for the collectives to pair up; the loader agrees on it before any
// data moves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sft/checkpoint.hpp"
#include "sft/digest.hpp"
#include "sft/distributed.hpp"

namespace sft::detail {

// Where read bytes go: the rank's tensors, the staging area, the round's send
// buffer (rows read straight into the blocks of their receivers), or nowhere (a gap).
enum class Buf : std::uint8_t { output, staging, send, sink };

// Part of a coalesced request: `length` bytes into a buffer at `at` (sink: a gap).
struct Segment {
  std::uint64_t length = 0;
  Buf buf = Buf::output;
  std::uint64_t at = 0;
};

// A contiguous read of one shard, possibly covering several ranges and the gaps between them.
struct Request {
  std::uint32_t shard = 0;
  std::uint32_t tensor = 0;  // the first range's tensor, for messages
  std::uint64_t offset = 0;  // in the shard file
  std::uint64_t length = 0;
  std::uint64_t useful = 0;
  std::vector<Segment> segments;
};

// A direct read of a strided part: `count` runs of `run` bytes, `stride`
// apart in the file from `offset`, packed into the output at `at`; read
// `per_request` runs per request (through a scratch buffer when > 1).
struct StridedRead {
  std::uint32_t shard = 0;
  std::uint32_t tensor = 0;
  std::uint64_t offset = 0, run = 0, count = 0, stride = 0;
  std::uint64_t at = 0;
  std::uint64_t per_request = 1;
};

// `count` runs of `run` bytes, `stride` apart from `src_at` in a buffer,
// copied to consecutive bytes (of a send buffer, or of the output at `dst_at`).
// A copy whose source is Buf::send is a place holder: the reads put its bytes
// in the send buffer themselves.
struct Copy {
  Buf src = Buf::output;
  std::uint64_t src_at = 0, run = 0, count = 0, stride = 0;
  std::uint64_t dst_at = 0;  // self copies only
  std::uint64_t bytes() const noexcept { return run * count; }
};

// Bytes from a peer, landing contiguously in the output.
struct Receive {
  std::uint64_t at = 0;
  std::uint64_t length = 0;
};

struct Round {
  std::vector<Request> requests;
  std::vector<StridedRead> strided;
  std::uint64_t staging_bytes = 0;
  std::vector<Copy> self;                        // staging -> output (redistribute's own columns)
  std::vector<std::vector<Copy>> send;           // per peer, packed in this order
  std::vector<std::vector<Receive>> receive;     // per peer, unpacked in this order
  std::vector<std::uint64_t> send_counts, receive_counts;
  bool exchange = false;                         // the group moves bytes this round (equal on every rank)
};

struct RankPlan {
  RankLoadPlan summary;
  std::vector<std::uint64_t> output_at;          // per tensor: offset in the output buffer (held ones)
  std::uint64_t output_bytes = 0;
  std::vector<Round> rounds;
  Digest128 fingerprint;
};

// Output tensors are placed at multiples of this many bytes.
inline constexpr std::uint64_t output_alignment = 64;

// Redistributed tensors whose runs average at least this many bytes are read
// straight into the send blocks (one preadv segment per run); narrower ones go
// through the staging area and are copied out, to bound the segment count.
inline constexpr std::uint64_t min_scatter_run = 1024;

// `tensors` are the checkpoint's tensors() in order; nodes.size() is the world.
Result<RankPlan> plan_rank(std::span<const CheckpointTensor> tensors, const TensorParallelPlan& plan, std::uint32_t rank, std::span<const std::uint32_t> nodes,
                           const LoadOptions& options);

// How many runs of a strided read one request covers under the gap rule.
std::uint64_t runs_per_request(std::uint64_t run, std::uint64_t stride, std::uint64_t count,
                               const CoalesceOptions& c) noexcept;

// Coalesce contiguous reads (any order) into requests under the gap rule.
struct Range {
  std::uint32_t shard = 0, tensor = 0;
  std::uint64_t offset = 0, length = 0;
  Buf buf = Buf::output;
  std::uint64_t at = 0;
};
std::vector<Request> coalesce(std::vector<Range> ranges, const CoalesceOptions& c);

}  // namespace sft::detail
