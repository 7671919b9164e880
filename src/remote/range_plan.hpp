// src/remote/range_plan.hpp — turning reads into range requests (internal, no curl).
//
// A batch of reads (file offset, destination) becomes as few requests as the
// rules allow: reads sorted by offset, neighbours whose gap is at most
// `coalesce_gap` joined into one request (the gap's bytes are fetched and
// discarded), and any request longer than `part_bytes` split into parts of
// about that size so that they can be fetched in parallel.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "remote/remote_client.hpp"

namespace sft::detail {

// `wants` may come in any order; overlapping reads are allowed (each gets its
// bytes). Empty reads are dropped.
std::vector<RangeRequest> plan_ranges(std::span<const RangePiece> wants, std::uint64_t coalesce_gap,
                                      std::uint64_t part_bytes);

}  // namespace sft::detail
