// tests/support/thread_engine.hpp — a DistEngine whose ranks are threads of one test process.
//
// For unit tests of the loader only (the real engines are MPI, NCCL and
// torch.distributed): every collective is "each rank posts its buffers, all
// wait, each copies what it needs from the others' posted buffers, all wait
// again", under one mutex. Waits are bounded by a timeout, so a test whose
// rank skips a collective gets dist_timeout instead of hanging.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sft/distributed.hpp"

namespace sft::test {

class ThreadGroup {
 public:
  explicit ThreadGroup(std::uint32_t world, std::vector<std::uint32_t> nodes = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(20))
      : world_(world), nodes_(nodes.empty() ? std::vector<std::uint32_t>(world, 0) : std::move(nodes)),
        timeout_(timeout), posted_(world) {}

  // Run fn(engine) on `world` threads, one per rank, and wait for them.
  void run(const std::function<void(DistEngine&)>& fn);

  struct Post {
    const std::byte* send = nullptr;
    std::vector<std::uint64_t> counts;  // bytes for each rank, back to back in `send`
  };

  // Post this rank's data, wait for everyone, let `take` copy out of the
  // others' posts, wait again so the posts stay alive while others read.
  Result<void> collective(std::uint32_t rank, Post post, const std::function<void(const std::vector<Post>&)>& take) {
    std::unique_lock<std::mutex> lock(mu_);
    posted_[rank] = std::move(post);
    SFT_TRY(arrive(lock));
    take(posted_);
    return arrive(lock);
  }

  std::uint32_t world() const noexcept { return world_; }
  const std::vector<std::uint32_t>& nodes() const noexcept { return nodes_; }

 private:
  // A barrier with a deadline: the last rank to arrive releases the others.
  Result<void> arrive(std::unique_lock<std::mutex>& lock) {
    const std::uint64_t gen = generation_;
    if (++arrived_ == world_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return {};
    }
    if (!cv_.wait_for(lock, timeout_, [&] { return generation_ != gen || broken_; }) || broken_) {
      broken_ = true;
      cv_.notify_all();
      return Error(Errc::dist_timeout, "a thread rank did not reach the collective in time");
    }
    return {};
  }

  std::uint32_t world_;
  std::vector<std::uint32_t> nodes_;
  std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint32_t arrived_ = 0;
  std::uint64_t generation_ = 0;
  bool broken_ = false;
  std::vector<Post> posted_;
};

class ThreadEngine final : public DistEngine {
 public:
  ThreadEngine(ThreadGroup& g, std::uint32_t rank) : g_(g), rank_(rank) {}
  std::string_view name() const noexcept override { return "threads"; }
  std::uint32_t rank() const noexcept override { return rank_; }
  std::uint32_t world() const noexcept override { return g_.world(); }
  std::span<const std::uint32_t> nodes() const noexcept override { return g_.nodes(); }

  Result<void> all_gather(std::span<const std::byte> mine, std::span<std::byte> out) override {
    const std::uint32_t w = world();
    return g_.collective(rank_, {mine.data(), std::vector<std::uint64_t>(w, mine.size())}, [&](const auto& posts) {
      for (std::uint32_t p = 0; p < w; ++p)
        if (!mine.empty()) std::memcpy(out.data() + p * mine.size(), posts[p].send, mine.size());
    });
  }
  Result<void> broadcast(std::span<std::byte> buffer, std::uint32_t root) override {
    return g_.collective(rank_, {buffer.data(), {}}, [&](const auto& posts) {
      if (rank_ != root && !buffer.empty()) std::memcpy(buffer.data(), posts[root].send, buffer.size());
    });
  }
  Result<void> scatter(std::span<const std::byte> send, std::span<std::byte> recv, std::uint32_t root) override {
    return g_.collective(rank_, {send.data(), {}}, [&](const auto& posts) {
      if (!recv.empty()) std::memcpy(recv.data(), posts[root].send + rank_ * recv.size(), recv.size());
    });
  }
  Result<void> all_to_all(std::span<const std::byte> send, std::span<const std::uint64_t> send_counts,
                          std::span<std::byte> recv, std::span<const std::uint64_t> recv_counts) override {
    Result<void> check;
    auto r = g_.collective(rank_, {send.data(), {send_counts.begin(), send_counts.end()}}, [&](const auto& posts) {
      std::uint64_t at = 0;
      for (std::uint32_t p = 0; p < world(); ++p) {
        std::uint64_t from = 0;
        for (std::uint32_t q = 0; q < rank_; ++q) from += posts[p].counts[q];
        if (posts[p].counts[rank_] != recv_counts[p])
          check = Error(Errc::internal, "all_to_all: rank " + std::to_string(p) + " sends " +
                                            std::to_string(posts[p].counts[rank_]) + " bytes, rank " +
                                            std::to_string(rank_) + " expects " + std::to_string(recv_counts[p]));
        else if (recv_counts[p])
          std::memcpy(recv.data() + at, posts[p].send + from, recv_counts[p]);
        at += recv_counts[p];
      }
    });
    if (!r) return r;
    return check;
  }
  Result<void> barrier() override {
    return g_.collective(rank_, {}, [](const auto&) {});
  }

 private:
  ThreadGroup& g_;
  std::uint32_t rank_;
};

inline void ThreadGroup::run(const std::function<void(DistEngine&)>& fn) {
  std::vector<std::thread> threads;
  for (std::uint32_t r = 0; r < world_; ++r)
    threads.emplace_back([this, r, &fn] {
      ThreadEngine e(*this, r);
      fn(e);
    });
  for (auto& t : threads) t.join();
}

}  // namespace sft::test
