// sft/dist_mpi.hpp — the MPI engine of distributed loading (library sft_dist).
//
// Built when CMake finds MPI (SFT_WITH_MPI, on by default); this header never
// includes mpi.h, so a program that uses it needs no MPI compiler wrapper.
//
//   auto engine = sft::make_mpi_engine();          // MPI_Init_thread if needed, dups MPI_COMM_WORLD
//   auto shard = sft::load_shard(path, plan, **engine);
//
// MPI has no timeouts, so the engine makes its own: every collective is the
// non-blocking MPI call (MPI_Iallgather, MPI_Ibcast, MPI_Iscatter, a set of
// MPI_Isend / MPI_Irecv for the all-to-all, MPI_Ibarrier) polled with
// MPI_Test until it completes or MpiEngineOptions::timeout_s passes. A
// timeout returns dist_timeout and leaves the engine unusable (a pending
// collective cannot be cancelled): the program should report it and call
// mpi_abort(), the last resort that ends every rank (MPI_Abort). Errors of
// MPI calls are returned (MPI_ERRORS_RETURN on the engine's communicator) as
// dist_engine with MPI's own message.
//
// Threads: the engine calls MPI from the thread that calls it only; it asks
// for MPI_THREAD_FUNNELED when it initialises MPI.
#pragma once

#include <memory>

#include "sft/distributed.hpp"
#include "sft/result.hpp"

namespace sft {

struct MpiEngineOptions {
  double timeout_s = 600;        // per collective
  // MPI_Finalize when the engine that called MPI_Init_thread is destroyed
  // (never after a timeout: finalising would wait for the stuck peers).
  bool finalize = true;
};

// An engine over a duplicate of MPI_COMM_WORLD, initialising MPI if nobody has.
// Errors: dist_engine (MPI failed to start, or was finalised).
Result<std::unique_ptr<DistEngine>> make_mpi_engine(const MpiEngineOptions& options = {});

// An engine over a duplicate of the caller's communicator: `mpi_comm` points
// to an MPI_Comm (kept out of this header's types). MPI must be initialised.
Result<std::unique_ptr<DistEngine>> make_mpi_engine(const void* mpi_comm, const MpiEngineOptions& options = {});

// MPI_Abort(MPI_COMM_WORLD, code): ends every rank. For a program that got
// dist_timeout or dist_engine, whose peers may be stuck in a collective.
[[noreturn]] void mpi_abort(int code) noexcept;

// True when MPI is initialised and not finalised.
bool mpi_initialized() noexcept;

}  // namespace sft
