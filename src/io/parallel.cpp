#include "sft_internal/parallel.hpp"

#include <atomic>
#include <thread>
#include <vector>

namespace sft::detail {

unsigned resolve_threads(unsigned requested) noexcept {
  if (requested) return requested;
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? hw : 1;
}

void parallel_for(std::size_t count, unsigned threads,
                  const std::function<void(std::size_t, unsigned)>& fn) {
  const unsigned workers = worker_count(count, threads);
  if (workers <= 1) {
    for (std::size_t i = 0; i < count; ++i) fn(i, 0);
    return;
  }
  std::atomic<std::size_t> next{0};
  auto run = [&](unsigned worker) {
    for (std::size_t i = next.fetch_add(1, std::memory_order_relaxed); i < count;
         i = next.fetch_add(1, std::memory_order_relaxed))
      fn(i, worker);
  };
  std::vector<std::thread> pool;
  try {
    pool.reserve(workers - 1);
    for (unsigned w = 1; w < workers; ++w) pool.emplace_back(run, w);
  } catch (...) {
    // Out of threads or memory: the threads already running and this one share the work.
  }
  run(0);
  for (auto& t : pool) t.join();
}

}  // namespace sft::detail
