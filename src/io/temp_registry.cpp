// The registry of live temporaries walked by sft::remove_temporaries().
//
// Slot state: a 32-bit word, generation << 2 | phase, phase 0 free, 1 being
// written, 2 live. Only the owner changes a claimed slot; the generation goes
// up on every claim, so a reader that sees the same live word before and
// after copying the path (a seqlock) copied one consistent path, even if the
// slot was freed and claimed again in between. The path bytes are accessed
// through std::atomic_ref, so concurrent reads and writes are not data races.
// Removing a path that was already renamed into place is harmless: the
// temporary's name no longer exists, and the target has another name.
#include "sft_internal/temp_registry.hpp"

#include <cstring>
#include <new>

#include <unistd.h>

#include "sft/temporaries.hpp"

namespace sft::detail {

namespace {

constexpr std::size_t kPathBytes = 4096;
constexpr std::size_t kSlotsPerBlock = 32;
constexpr std::uint32_t kFree = 0, kWriting = 1, kLive = 2;

static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "the registry must be usable from a signal handler");
static_assert(std::atomic_ref<char>::is_always_lock_free, "the registry must be usable from a signal handler");

}  // namespace

struct TempRegistration::Slot {
  std::atomic<std::uint32_t> state{0};
  char path[kPathBytes];
};

namespace {

struct Block {
  TempRegistration::Slot slots[kSlotsPerBlock];
  std::atomic<Block*> next{nullptr};
};

// The first block is static; later ones are allocated when every slot is in
// use and kept for the life of the process (reachable from here, so leak
// checkers do not report them).
Block first_block;

std::uint32_t phase(std::uint32_t s) { return s & 3u; }

}  // namespace

TempRegistration TempRegistration::add(const char* path) noexcept {
  const std::size_t n = std::strlen(path);
  if (n >= kPathBytes) return {};
  for (Block* b = &first_block;;) {
    for (auto& slot : b->slots) {
      std::uint32_t s = slot.state.load(std::memory_order_relaxed);
      if (phase(s) != kFree) continue;
      const std::uint32_t gen = (s >> 2) + 1;
      if (!slot.state.compare_exchange_strong(s, gen << 2 | kWriting, std::memory_order_acquire)) continue;
      for (std::size_t i = 0; i <= n; ++i) std::atomic_ref<char>(slot.path[i]).store(path[i], std::memory_order_relaxed);
      slot.state.store(gen << 2 | kLive, std::memory_order_release);
      return TempRegistration(&slot);
    }
    Block* next = b->next.load(std::memory_order_acquire);
    if (!next) {
      Block* fresh = new (std::nothrow) Block;
      if (!fresh) return {};  // no memory: this temporary goes unregistered
      if (b->next.compare_exchange_strong(next, fresh, std::memory_order_acq_rel)) next = fresh;
      else delete fresh;  // another thread linked one first; `next` is it
    }
    b = next;
  }
}

TempRegistration& TempRegistration::operator=(TempRegistration&& o) noexcept {
  if (this != &o) {
    remove();
    slot_ = o.slot_;
    o.slot_ = nullptr;
  }
  return *this;
}

void TempRegistration::remove() noexcept {
  if (!slot_) return;
  const std::uint32_t s = slot_->state.load(std::memory_order_relaxed);
  slot_->state.store((s >> 2) << 2 | kFree, std::memory_order_release);
  slot_ = nullptr;
}

void unlink_registered() noexcept {
  char copy[kPathBytes];
  for (Block* b = &first_block; b; b = b->next.load(std::memory_order_acquire)) {
    for (auto& slot : b->slots) {
      const std::uint32_t before = slot.state.load(std::memory_order_acquire);
      if (phase(before) != kLive) continue;
      std::size_t i = 0;
      for (; i < kPathBytes; ++i) {
        copy[i] = std::atomic_ref<char>(slot.path[i]).load(std::memory_order_relaxed);
        if (copy[i] == '\0') break;
      }
      std::atomic_thread_fence(std::memory_order_acquire);
      if (i == kPathBytes || slot.state.load(std::memory_order_relaxed) != before) continue;  // changed meanwhile
      ::unlink(copy);
    }
  }
}

std::size_t count_registered() noexcept {
  std::size_t n = 0;
  for (Block* b = &first_block; b; b = b->next.load(std::memory_order_acquire))
    for (auto& slot : b->slots) n += phase(slot.state.load(std::memory_order_acquire)) == kLive;
  return n;
}

}  // namespace sft::detail

namespace sft {

void remove_temporaries() noexcept { detail::unlink_registered(); }
std::size_t live_temporaries() noexcept { return detail::count_registered(); }

}  // namespace sft
