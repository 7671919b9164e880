#include "dist/read_exec.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>

#include <sys/uio.h>
#include <unistd.h>

#include "sft_internal/parallel.hpp"

namespace sft::detail {

namespace {

// One unit of work for the pool: a coalesced request, or a batch of a strided read's requests.
struct Task {
  bool strided = false;
  std::size_t index = 0;       // into round.requests or round.strided
  std::uint64_t first = 0;     // strided: first run of the batch
  std::uint64_t runs = 0;      // strided: runs in the batch
};

std::unique_ptr<std::byte[]> try_alloc(std::uint64_t n) {
  if (n == 0) return nullptr;
  return std::unique_ptr<std::byte[]>(new (std::nothrow) std::byte[static_cast<std::size_t>(n)]);
}

class Reader {
 public:
  Reader(const Round& round, const ReadTargets& t, ReadCounters* counters)
      : round_(round), t_(t), counters_(counters) {}

  std::byte* where(Buf b, std::uint64_t at) const noexcept {
    return (b == Buf::staging ? t_.staging : b == Buf::send ? t_.send : t_.output) + at;
  }

  Error fail(std::uint32_t shard, std::uint32_t tensor, std::uint64_t offset, std::string what) const {
    std::string path = "shard " + std::to_string(shard);
    if (t_.checkpoint)
      if (auto p = t_.checkpoint->shard_path(shard)) path = p->string();
    return Error(Errc::io_error, path + ": " + what, offset, std::string(t_.tensors[tensor].info->name));
  }

  // preadv of `iov` at `offset`, continuing after short reads.
  Result<void> preadv_all(int fd, std::vector<iovec>& iov, std::uint64_t offset, std::uint32_t shard,
                          std::uint32_t tensor) const {
    std::size_t first = 0;
    std::uint64_t at = offset;
    while (first < iov.size()) {
      const ssize_t got = ::preadv(fd, iov.data() + first, static_cast<int>(iov.size() - first), static_cast<off_t>(at));
      count(1, 0);
      if (got < 0) {
        if (errno == EINTR) continue;
        return fail(shard, tensor, at, std::string("read failed: ") + std::strerror(errno));
      }
      if (got == 0) return fail(shard, tensor, at, "the file ends before this offset (truncated after it was opened?)");
      auto left = static_cast<std::uint64_t>(got);
      at += left;
      while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
      if (left) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    }
    return {};
  }

  Result<void> run_request(const Request& q, std::byte* sink) const {
    const File* f = t_.tensors[q.tensor].file;
    if (f->fd() < 0) {  // no descriptor: range by range through the File, gaps skipped
      std::uint64_t at = q.offset;
      for (const Segment& s : q.segments) {
        if (s.buf != Buf::sink) {
          auto r = f->read_bytes(at, {where(s.buf, s.at), static_cast<std::size_t>(s.length)});
          count(1, s.length);
          if (!r) return fail(q.shard, q.tensor, at, r.error().message);
        }
        at += s.length;
      }
      return {};
    }
    count(0, q.length);
    std::vector<iovec> iov;
    iov.reserve(q.segments.size());
    for (const Segment& s : q.segments)
      iov.push_back({s.buf == Buf::sink ? static_cast<void*>(sink) : static_cast<void*>(where(s.buf, s.at)),
                     static_cast<std::size_t>(s.length)});
    return preadv_all(f->fd(), iov, q.offset, q.shard, q.tensor);
  }

  // Runs [first, first + runs) of a strided read, per_request at a time.
  Result<void> run_strided(const StridedRead& s, std::uint64_t first, std::uint64_t runs, std::byte* scratch) const {
    const File* f = t_.tensors[s.tensor].file;
    for (std::uint64_t k = first; k < first + runs; k += s.per_request) {
      const std::uint64_t n = std::min(s.per_request, first + runs - k);
      const std::uint64_t offset = s.offset + k * s.stride;
      const std::uint64_t span = (n - 1) * s.stride + s.run;
      std::byte* dest = t_.output + s.at + k * s.run;
      std::byte* into = n == 1 ? dest : scratch;
      count(0, span);
      if (f->fd() < 0) {
        count(1, 0);
        if (auto r = f->read_bytes(offset, {into, static_cast<std::size_t>(span)}); !r)
          return fail(s.shard, s.tensor, offset, r.error().message);
      } else {
        std::vector<iovec> iov{{into, static_cast<std::size_t>(span)}};
        SFT_TRY(preadv_all(f->fd(), iov, offset, s.shard, s.tensor));
      }
      if (n > 1)
        for (std::uint64_t j = 0; j < n; ++j) std::memcpy(dest + j * s.run, scratch + j * s.stride, s.run);
    }
    return {};
  }

 private:
  void count(std::uint64_t requests, std::uint64_t bytes) const {
    requests_.fetch_add(requests, std::memory_order_relaxed);
    bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }

 public:
  void flush() const {
    if (counters_) {
      counters_->requests += requests_.load();
      counters_->bytes += bytes_.load();
    }
  }

 private:
  const Round& round_;
  const ReadTargets& t_;
  ReadCounters* counters_;
  mutable std::atomic<std::uint64_t> requests_{0}, bytes_{0};
};

}  // namespace

Result<void> execute_reads(const Round& round, const ReadTargets& targets, unsigned threads, ReadCounters* counters) {
  threads = resolve_threads(threads);
  std::vector<Task> tasks;
  std::uint64_t sink_bytes = 0, scratch_bytes = 0, strided_requests = 0;
  for (std::size_t i = 0; i < round.requests.size(); ++i) {
    tasks.push_back({false, i, 0, 0});
    for (const Segment& s : round.requests[i].segments)
      if (s.buf == Buf::sink) sink_bytes = std::max(sink_bytes, s.length);
  }
  for (const StridedRead& s : round.strided) strided_requests += (s.count + s.per_request - 1) / s.per_request;
  // Batches of strided requests: enough per batch that the task list stays
  // small even for millions of runs, few enough that the threads share them.
  const std::uint64_t batch = std::max<std::uint64_t>(16, strided_requests / (std::uint64_t{threads} * 64));
  for (std::size_t i = 0; i < round.strided.size(); ++i) {
    const StridedRead& s = round.strided[i];
    if (s.per_request > 1) scratch_bytes = std::max(scratch_bytes, (s.per_request - 1) * s.stride + s.run);
    const std::uint64_t step = batch * s.per_request;
    for (std::uint64_t k = 0; k < s.count; k += step) tasks.push_back({true, i, k, std::min(step, s.count - k)});
  }
  if (tasks.empty()) return {};

  const unsigned workers = worker_count(tasks.size(), threads);
  auto sink = try_alloc(sink_bytes);
  std::vector<std::unique_ptr<std::byte[]>> scratch(workers);
  if ((sink_bytes && !sink)) return Error(Errc::out_of_memory, "no memory for the read buffers");
  if (scratch_bytes)
    for (auto& s : scratch)
      if (!(s = try_alloc(scratch_bytes))) return Error(Errc::out_of_memory, "no memory for the read buffers");

  Reader reader(round, targets, counters);
  std::mutex mu;
  std::optional<Error> first_error;
  std::atomic<bool> failed{false};
  auto done = parallel_for(tasks.size(), threads, [&](std::size_t i, unsigned worker) {
    if (failed.load(std::memory_order_relaxed)) return;
    const Task& t = tasks[i];
    Result<void> r = t.strided ? reader.run_strided(round.strided[t.index], t.first, t.runs, scratch[worker].get())
                               : reader.run_request(round.requests[t.index], sink.get());
    if (!r) {
      std::lock_guard<std::mutex> lock(mu);
      if (!first_error) first_error = std::move(r).error();
      failed.store(true, std::memory_order_relaxed);
    }
  });
  reader.flush();
  if (first_error) return std::move(*first_error);
  return done;
}

}  // namespace sft::detail
