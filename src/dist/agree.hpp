// src/dist/agree.hpp — every rank learns every rank's outcome (internal).
//
// Each rank all-gathers a fixed-size block: a magic number, its error code,
// offset, message and tensor name (cut to fit), and a fingerprint of its plan.
// A fixed size keeps the collective the same on every rank whatever happened,
// so a failed rank never leaves the others waiting.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sft/digest.hpp"
#include "sft/distributed.hpp"

namespace sft::detail {

inline constexpr std::size_t agreement_block_bytes = 1024;

// Errors, in this order: the engine's; this rank's own error; dist_peer_failed
// quoting the lowest failing rank; dist_mismatch when the fingerprints differ.
// *control_bytes grows by the bytes the all-gather moved.
Result<void> agree_on(DistEngine& engine, const Result<void>& local, const Digest128& fingerprint,
                      std::uint64_t* control_bytes);

}  // namespace sft::detail
