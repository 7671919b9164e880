// src/internal/sft_internal/guard.hpp — the boundary where exceptions become Errors (internal).
//
// sft never lets an exception leave the library. Code inside it uses the
// standard containers, which report a failed allocation by throwing
// std::bad_alloc; a public entry point that allocates runs its body through
// guarded(), which turns std::bad_alloc into Errc::out_of_memory and any other
// exception (a bug) into Errc::internal. The messages fit the small-string
// buffer, so reporting an allocation failure allocates nothing.
#pragma once

#include <new>
#include <utility>

#include "sft/result.hpp"

namespace sft::detail {

// f() -> Result<T>; its result, or the error an exception stands for.
template <class F>
auto guarded(F&& f) noexcept -> decltype(std::forward<F>(f)()) {
  try {
    return std::forward<F>(f)();
  } catch (const std::bad_alloc&) {
    return Error(Errc::out_of_memory, "out of memory");
  } catch (...) {
    return Error(Errc::internal, "exception");
  }
}

}  // namespace sft::detail
