// parallel_for (src/internal/sft_internal/parallel.hpp): every index once, and
// an exception on any worker thread becomes an Error instead of ending the
// process (std::terminate, as an exception leaving a std::thread does).
#include <gtest/gtest.h>

#include <atomic>
#include <new>
#include <stdexcept>
#include <vector>

#include "expect.hpp"
#include "sft_internal/parallel.hpp"

namespace {

using namespace sft;
using namespace sft::test;

TEST(ParallelFor, CallsEveryIndexOnce) {
  for (unsigned threads : {1u, 2u, 7u}) {
    std::vector<std::atomic<int>> seen(1000);
    ASSERT_TRUE(succeeds(detail::parallel_for(seen.size(), threads, [&](std::size_t i, unsigned w) {
      EXPECT_LT(w, threads);
      seen[i].fetch_add(1);
    })));
    for (auto& s : seen) EXPECT_EQ(s.load(), 1);
  }
}

TEST(ParallelFor, BadAllocOnAWorkerIsOutOfMemory) {
  for (unsigned threads : {1u, 4u}) {
    std::atomic<int> calls{0};
    auto r = detail::parallel_for(64, threads, [&](std::size_t i, unsigned) {
      calls.fetch_add(1);
      if (i == 5) throw std::bad_alloc();
    });
    EXPECT_TRUE(fails_with(r, Errc::out_of_memory));
    EXPECT_LE(calls.load(), 64);
  }
}

TEST(ParallelFor, AnyOtherExceptionIsInternal) {
  auto r = detail::parallel_for(16, 3, [&](std::size_t i, unsigned) {
    if (i % 4 == 3) throw std::runtime_error("bug");
  });
  EXPECT_TRUE(fails_with(r, Errc::internal));
}

}  // namespace
