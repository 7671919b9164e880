// src/internal/sft_internal/parallel.hpp — running independent pieces of work on a few threads (internal).
//
// Hashing independent tensors and (de)compressing independent zstd frames are
// embarrassingly parallel; this is the one small helper they share. Threads
// are started per call: the work items are milliseconds long, so a pool would
// save nothing worth its lifetime management.
#pragma once

#include <cstddef>
#include <functional>

#include "sft/result.hpp"

namespace sft::detail {

// `requested`, or the number of hardware threads when it is 0 (at least 1).
unsigned resolve_threads(unsigned requested) noexcept;

// Calls fn(index, worker) once for every index in [0, count), on up to
// `threads` threads, the calling thread being one of them; returns when every
// call has returned. `worker` (< min(threads, count)) tells the calls that run
// on the same thread apart, so each thread can keep its own scratch state.
// Indices are handed out in increasing order. If a thread cannot be started,
// the threads that did start do its share.
//
// fn reports its own failures through its captures; it should not throw. If
// it does anyway (std::bad_alloc while growing a buffer, say), the exception
// is caught on the thread that threw it (it would otherwise end the process),
// no further index is handed out, and parallel_for returns out_of_memory for
// std::bad_alloc or internal for anything else, once every thread has stopped.
Result<void> parallel_for(std::size_t count, unsigned threads,
                          const std::function<void(std::size_t index, unsigned worker)>& fn);

// How many workers parallel_for(count, threads, ...) uses.
inline unsigned worker_count(std::size_t count, unsigned threads) noexcept {
  if (count == 0) return 0;
  return count < threads ? static_cast<unsigned>(count) : (threads == 0 ? 1 : threads);
}

}  // namespace sft::detail
