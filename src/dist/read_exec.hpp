// src/dist/read_exec.hpp — issuing a round's reads as parallel preads (internal).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dist/load_plan.hpp"
#include "sft/checkpoint.hpp"

namespace sft::detail {

struct ReadTargets {
  const Checkpoint* checkpoint = nullptr;       // shard paths, for messages
  std::span<const CheckpointTensor> tensors;    // files and names
  std::byte* output = nullptr;
  std::byte* staging = nullptr;
  std::byte* send = nullptr;                    // the round's send buffer
};

struct ReadCounters {
  std::uint64_t bytes = 0;
  std::uint64_t requests = 0;
};

// Every request and strided read of `round`, on up to `threads` threads.
// Coalesced requests become one preadv each (gaps land in a scratch sink);
// strided reads of several runs per request read the span into a per-thread
// scratch buffer and copy the runs out. Files without a descriptor
// (compressed checkpoints) are read range by range through File::read_bytes.
// The first error wins: io_error naming the shard, the offset and the tensor.
Result<void> execute_reads(const Round& round, const ReadTargets& targets, unsigned threads, ReadCounters* counters);

}  // namespace sft::detail
