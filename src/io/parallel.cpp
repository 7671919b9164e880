#include "sft_internal/parallel.hpp"

#include <atomic>
#include <new>
#include <thread>
#include <vector>

namespace sft::detail {

unsigned resolve_threads(unsigned requested) noexcept {
  if (requested) return requested;
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? hw : 1;
}

Result<void> parallel_for(std::size_t count, unsigned threads,
                          const std::function<void(std::size_t, unsigned)>& fn) {
  // 0: no exception; 1: std::bad_alloc; 2: anything else. The first one wins.
  std::atomic<int> thrown{0};
  std::atomic<std::size_t> next{0};
  auto run = [&](unsigned worker) noexcept {
    try {
      for (std::size_t i = next.fetch_add(1, std::memory_order_relaxed); i < count;
           i = next.fetch_add(1, std::memory_order_relaxed))
        fn(i, worker);
    } catch (const std::bad_alloc&) {
      int none = 0;
      thrown.compare_exchange_strong(none, 1);
      next.store(count, std::memory_order_relaxed);  // hand out nothing more
    } catch (...) {
      int none = 0;
      thrown.compare_exchange_strong(none, 2);
      next.store(count, std::memory_order_relaxed);
    }
  };
  const unsigned workers = worker_count(count, threads);
  std::vector<std::thread> pool;
  if (workers > 1) {
    try {
      pool.reserve(workers - 1);
      for (unsigned w = 1; w < workers; ++w) pool.emplace_back(run, w);
    } catch (...) {
      // Out of threads or memory: the threads already running and this one share the work.
    }
  }
  run(0);
  for (auto& t : pool) t.join();
  switch (thrown.load()) {
    case 0: return {};
    case 1: return Error(Errc::out_of_memory, "out of memory");
    default: return Error(Errc::internal, "an exception escaped a worker thread");
  }
}

}  // namespace sft::detail
