// sft/dist_nccl.hpp — the NCCL engine of distributed loading (library sft_dist).
//
// Built wherever CMake finds nccl.h and the CUDA runtime (SFT_WITH_NCCL, on by
// default); this header includes neither. libnccl is opened at run time
// (dlopen of libnccl.so.2, then the library found at build time), so the sft
// tool and programs linking sft_dist start on machines without NCCL or a GPU
// and get dist_engine from make_nccl_engine() there.
//
// The engine takes host buffers, as every DistEngine does: each collective
// copies the bytes to device buffers on the rank's GPU, runs the NCCL call
// (ncclAllGather, ncclBroadcast, grouped ncclSend / ncclRecv for scatter and
// all-to-all) and copies the result back. The communicator is non-blocking
// (ncclConfig_t::blocking = 0): every call is polled against the timeout with
// ncclCommGetAsyncError and cudaStreamQuery, and a timeout aborts the
// communicator (ncclCommAbort) and returns dist_timeout.
//
// NCCL needs one GPU per rank: the device is NcclEngineOptions::device, or
// the rank's index among the ranks of its node, modulo the devices present.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "sft/distributed.hpp"
#include "sft/result.hpp"

namespace sft {

struct NcclEngineOptions {
  int device = -1;               // CUDA device; -1: the rank's index on its node, modulo the device count
  double timeout_s = 600;        // per collective (and for creating the communicator)
};

// NCCL's ncclUniqueId: made by one rank, given to all.
struct NcclUniqueId {
  std::array<std::byte, 128> bytes{};
};

// NCCL's version code (e.g. 22809 for 2.28.9) if the library loads, else dist_engine saying why.
Result<int> nccl_version();

// A fresh unique id (ncclGetUniqueId). Errors: dist_engine.
Result<NcclUniqueId> nccl_unique_id();

// The engine of `rank` of `nodes.size()` ranks sharing `id`.
Result<std::unique_ptr<DistEngine>> make_nccl_engine(const NcclUniqueId& id, std::uint32_t rank,
                                                     std::span<const std::uint32_t> nodes,
                                                     const NcclEngineOptions& options = {});

// The same group as `bootstrap` (an MPI engine, say): rank 0 makes the id and
// broadcasts it through `bootstrap`, whose ranks and nodes the engine takes.
// Every rank's outcome is agreed on through `bootstrap`.
Result<std::unique_ptr<DistEngine>> make_nccl_engine(DistEngine& bootstrap, const NcclEngineOptions& options = {});

}  // namespace sft
