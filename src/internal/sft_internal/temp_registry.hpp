// src/internal/sft_internal/temp_registry.hpp — the live temporaries, for sft::remove_temporaries() (internal).
//
// A registry that a signal handler can walk while other threads add and
// remove entries: fixed-size slots in blocks that are allocated as needed and
// never freed, each slot a path guarded by a sequence number (a seqlock), so
// that the handler reads either a complete path or skips the slot. Adding
// allocates only when every slot is taken; walking never allocates or locks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace sft::detail {

class TempRegistration {
 public:
  TempRegistration() = default;
  // Register `path` (NUL-terminated). A path longer than the slot (4095
  // bytes) is not registered: the write still works, only a handler cannot
  // remove its temporary.
  static TempRegistration add(const char* path) noexcept;
  TempRegistration(TempRegistration&& o) noexcept : slot_(o.slot_) { o.slot_ = nullptr; }
  TempRegistration& operator=(TempRegistration&& o) noexcept;
  TempRegistration(const TempRegistration&) = delete;
  TempRegistration& operator=(const TempRegistration&) = delete;
  ~TempRegistration() { remove(); }
  // Forget the path (the temporary was renamed or removed). Idempotent.
  void remove() noexcept;

  struct Slot;  // defined in temp_registry.cpp

 private:
  explicit TempRegistration(Slot* s) noexcept : slot_(s) {}
  Slot* slot_ = nullptr;
};

// unlink() every registered path (async-signal-safe); how many are registered.
void unlink_registered() noexcept;
std::size_t count_registered() noexcept;

}  // namespace sft::detail
