// The MPI engine: non-blocking MPI collectives polled against a deadline.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "dist/engine_base.hpp"
#include "sft/dist_mpi.hpp"

namespace sft {

namespace {

using Clock = std::chrono::steady_clock;

// Messages are cut to this size so that counts fit MPI's int.
constexpr std::uint64_t max_message = std::uint64_t{1} << 30;

std::string mpi_message(int rc) {
  char buf[MPI_MAX_ERROR_STRING];
  int n = 0;
  if (MPI_Error_string(rc, buf, &n) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
  return std::string(buf, static_cast<std::size_t>(n));
}

Error mpi_error(const char* call, int rc) {
  return Error(Errc::dist_engine, std::string(call) + " failed: " + mpi_message(rc));
}

class MpiEngine final : public detail::EngineBase {
 public:
  MpiEngine(MPI_Comm comm, bool owns_mpi, const MpiEngineOptions& o) : comm_(comm), owns_mpi_(owns_mpi), options_(o) {}

  ~MpiEngine() override {
    if (broken_) return;  // a collective may still be pending: freeing or finalising could wait forever
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_mpi_ && options_.finalize && !finalized) MPI_Finalize();
  }

  Result<void> init() {
    if (int rc = MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN); rc != MPI_SUCCESS)
      return mpi_error("MPI_Comm_set_errhandler", rc);
    int r = 0, w = 0;
    if (int rc = MPI_Comm_rank(comm_, &r); rc != MPI_SUCCESS) return mpi_error("MPI_Comm_rank", rc);
    if (int rc = MPI_Comm_size(comm_, &w); rc != MPI_SUCCESS) return mpi_error("MPI_Comm_size", rc);
    rank_ = static_cast<std::uint32_t>(r);
    world_ = static_cast<std::uint32_t>(w);
    // Nodes: the ranks that share memory form a node; its lowest world rank names it.
    MPI_Comm local = MPI_COMM_NULL;
    if (int rc = MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, r, MPI_INFO_NULL, &local); rc != MPI_SUCCESS)
      return mpi_error("MPI_Comm_split_type", rc);
    int leader = r;
    int rc = MPI_Bcast(&leader, 1, MPI_INT, 0, local);
    MPI_Comm_free(&local);
    if (rc != MPI_SUCCESS) return mpi_error("MPI_Bcast", rc);
    std::vector<int> leaders(world_);
    MPI_Request req = MPI_REQUEST_NULL;
    if ((rc = MPI_Iallgather(&leader, 1, MPI_INT, leaders.data(), 1, MPI_INT, comm_, &req)) != MPI_SUCCESS)
      return mpi_error("MPI_Iallgather", rc);
    SFT_TRY(wait(&req, 1, "the node discovery"));
    std::vector<int> distinct = leaders;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    nodes_.resize(world_);
    for (std::uint32_t i = 0; i < world_; ++i)
      nodes_[i] = static_cast<std::uint32_t>(std::lower_bound(distinct.begin(), distinct.end(), leaders[i]) - distinct.begin());
    return {};
  }

  std::string_view name() const noexcept override { return "mpi"; }

  Result<void> all_gather(std::span<const std::byte> mine, std::span<std::byte> out) override {
    SFT_TRY(usable());
    if (out.size() != mine.size() * world_) return size_error("all_gather");
    if (mine.size() > max_message) return too_large("all_gather");
    MPI_Request req = MPI_REQUEST_NULL;
    const int n = static_cast<int>(mine.size());
    if (int rc = MPI_Iallgather(mine.data(), n, MPI_BYTE, out.data(), n, MPI_BYTE, comm_, &req); rc != MPI_SUCCESS)
      return mpi_error("MPI_Iallgather", rc);
    return wait(&req, 1, "an all-gather");
  }

  Result<void> broadcast(std::span<std::byte> buffer, std::uint32_t root) override {
    SFT_TRY(usable());
    if (root >= world_) return root_error(root);
    for (std::uint64_t done = 0; done < buffer.size(); done += max_message) {
      const auto n = static_cast<int>(std::min<std::uint64_t>(max_message, buffer.size() - done));
      MPI_Request req = MPI_REQUEST_NULL;
      if (int rc = MPI_Ibcast(buffer.data() + done, n, MPI_BYTE, static_cast<int>(root), comm_, &req); rc != MPI_SUCCESS)
        return mpi_error("MPI_Ibcast", rc);
      SFT_TRY(wait(&req, 1, "a broadcast"));
    }
    return {};
  }

  Result<void> scatter(std::span<const std::byte> send, std::span<std::byte> recv, std::uint32_t root) override {
    SFT_TRY(usable());
    if (root >= world_) return root_error(root);
    if (rank_ == root && send.size() != recv.size() * world_) return size_error("scatter");
    // In pieces of at most max_message / world bytes per rank, so every count fits.
    const std::uint64_t piece = std::max<std::uint64_t>(1, max_message / world_);
    const std::uint64_t block = recv.size();
    std::vector<std::byte> packed;
    for (std::uint64_t done = 0; done < block; done += piece) {
      const std::uint64_t n = std::min(piece, block - done);
      const std::byte* from = nullptr;
      if (rank_ == root) {
        if (n == block) {
          from = send.data();
        } else {  // the pieces of every block, side by side
          try {
            packed.resize(static_cast<std::size_t>(n * world_));
          } catch (...) {
            return Error(Errc::out_of_memory, "no memory to pack a scatter");
          }
          for (std::uint32_t q = 0; q < world_; ++q) std::memcpy(packed.data() + q * n, send.data() + q * block + done, n);
          from = packed.data();
        }
      }
      MPI_Request req = MPI_REQUEST_NULL;
      if (int rc = MPI_Iscatter(from, static_cast<int>(n), MPI_BYTE, recv.data() + done, static_cast<int>(n), MPI_BYTE,
                                static_cast<int>(root), comm_, &req);
          rc != MPI_SUCCESS)
        return mpi_error("MPI_Iscatter", rc);
      SFT_TRY(wait(&req, 1, "a scatter"));
    }
    return {};
  }

  // Point-to-point messages of at most max_message bytes: counts and offsets
  // never overflow MPI's int, whatever the buffers' sizes.
  Result<void> all_to_all(std::span<const std::byte> send, std::span<const std::uint64_t> send_counts,
                          std::span<std::byte> recv, std::span<const std::uint64_t> recv_counts) override {
    SFT_TRY(usable());
    if (send_counts.size() != world_ || recv_counts.size() != world_) return size_error("all_to_all");
    std::uint64_t st = 0, rt = 0;
    for (auto n : send_counts) st += n;
    for (auto n : recv_counts) rt += n;
    if (st > send.size() || rt > recv.size()) return size_error("all_to_all");
    if (send_counts[rank_] != recv_counts[rank_]) return size_error("all_to_all (to itself)");
    int tag_ub = 32767, flag = 0;
    void* attr = nullptr;
    if (MPI_Comm_get_attr(comm_, MPI_TAG_UB, &attr, &flag) == MPI_SUCCESS && flag && attr) tag_ub = *static_cast<int*>(attr);
    std::vector<MPI_Request> reqs;
    std::uint64_t so = 0, ro = 0;
    try {
      for (std::uint32_t q = 0; q < world_; ++q) {
        if (q == rank_) {
          if (send_counts[q]) std::memcpy(recv.data() + ro, send.data() + so, send_counts[q]);
        } else {
          if (recv_counts[q] / max_message >= static_cast<std::uint64_t>(tag_ub) ||
              send_counts[q] / max_message >= static_cast<std::uint64_t>(tag_ub))
            return too_large("all_to_all");
          for (std::uint64_t d = 0, tag = 0; d < recv_counts[q]; d += max_message, ++tag) {
            MPI_Request r = MPI_REQUEST_NULL;
            const auto n = static_cast<int>(std::min(max_message, recv_counts[q] - d));
            if (int rc = MPI_Irecv(recv.data() + ro + d, n, MPI_BYTE, static_cast<int>(q), static_cast<int>(tag), comm_, &r);
                rc != MPI_SUCCESS)
              return abandon(reqs, mpi_error("MPI_Irecv", rc));
            reqs.push_back(r);
          }
          for (std::uint64_t d = 0, tag = 0; d < send_counts[q]; d += max_message, ++tag) {
            MPI_Request r = MPI_REQUEST_NULL;
            const auto n = static_cast<int>(std::min(max_message, send_counts[q] - d));
            if (int rc = MPI_Isend(send.data() + so + d, n, MPI_BYTE, static_cast<int>(q), static_cast<int>(tag), comm_, &r);
                rc != MPI_SUCCESS)
              return abandon(reqs, mpi_error("MPI_Isend", rc));
            reqs.push_back(r);
          }
        }
        so += send_counts[q];
        ro += recv_counts[q];
      }
    } catch (...) {
      return abandon(reqs, Error(Errc::out_of_memory, "no memory for the all-to-all's requests"));
    }
    return wait(reqs.data(), reqs.size(), "an all-to-all");
  }

  Result<void> barrier() override {
    SFT_TRY(usable());
    MPI_Request req = MPI_REQUEST_NULL;
    if (int rc = MPI_Ibarrier(comm_, &req); rc != MPI_SUCCESS) return mpi_error("MPI_Ibarrier", rc);
    return wait(&req, 1, "a barrier");
  }

 private:
  Result<void> usable() const {
    if (broken_)
      return Error(Errc::dist_engine, "the MPI engine is unusable after an earlier timeout or failure of a collective");
    return {};
  }

  // Poll until every request completes; past the deadline the engine is
  // broken and the requests abandoned. The loop spins (yielding the CPU each
  // time round), as MPI's own blocking calls do: with shared memory, messages
  // move only while a rank polls, so sleeping between polls (tried: up to
  // 1 ms) cut an all-to-all to 45 MB/s.
  Result<void> wait(MPI_Request* reqs, std::size_t n, const char* what) {
    if (n == 0) return {};
    const auto deadline = Clock::now() + std::chrono::duration<double>(options_.timeout_s);
    for (;;) {
      int done = 0;
      const int rc = MPI_Testall(static_cast<int>(n), reqs, &done, MPI_STATUSES_IGNORE);
      if (rc != MPI_SUCCESS) {
        broken_ = true;
        return mpi_error("MPI_Testall", rc).with_context(what);
      }
      if (done) return {};
      if (Clock::now() > deadline) {
        broken_ = true;
        return Error(Errc::dist_timeout, std::string(what) + " did not complete within " +
                                             detail::seconds(options_.timeout_s) + " s on rank " + std::to_string(rank_) +
                                             " of " + std::to_string(world_) + ": a peer stalled, failed or died");
      }
      std::this_thread::yield();
    }
  }

  Error abandon(std::vector<MPI_Request>&, Error e) {
    broken_ = true;  // messages already posted may be pending
    return e;
  }
  Error too_large(const char* what) const {
    return Error(Errc::invalid_argument, std::string(what) + ": a message is too large for MPI's counts");
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  bool owns_mpi_ = false;
  MpiEngineOptions options_;
  bool broken_ = false;
};

Result<std::unique_ptr<DistEngine>> make(MPI_Comm base, bool owns_mpi, const MpiEngineOptions& options) {
  MPI_Comm comm = MPI_COMM_NULL;
  if (int rc = MPI_Comm_dup(base, &comm); rc != MPI_SUCCESS) return mpi_error("MPI_Comm_dup", rc);
  std::unique_ptr<MpiEngine> e(new (std::nothrow) MpiEngine(comm, owns_mpi, options));
  if (!e) {
    MPI_Comm_free(&comm);
    return Error(Errc::out_of_memory, "no memory for the MPI engine");
  }
  try {
    SFT_TRY(e->init());
  } catch (...) {
    return Error(Errc::out_of_memory, "no memory for the MPI engine");
  }
  return std::unique_ptr<DistEngine>(std::move(e));
}

}  // namespace

bool mpi_initialized() noexcept {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

Result<std::unique_ptr<DistEngine>> make_mpi_engine(const MpiEngineOptions& options) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (fin) return Error(Errc::dist_engine, "MPI was already finalised in this process");
  bool owns = false;
  if (!init) {
    int provided = 0;
    if (int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided); rc != MPI_SUCCESS)
      return Error(Errc::dist_engine, "MPI_Init_thread failed (error " + std::to_string(rc) + ")");
    owns = true;
  }
  return make(MPI_COMM_WORLD, owns, options);
}

Result<std::unique_ptr<DistEngine>> make_mpi_engine(const void* mpi_comm, const MpiEngineOptions& options) {
  if (!mpi_initialized()) return Error(Errc::dist_engine, "MPI is not initialised (or already finalised)");
  if (!mpi_comm) return Error(Errc::invalid_argument, "no communicator");
  return make(*static_cast<const MPI_Comm*>(mpi_comm), false, options);
}

void mpi_abort(int code) noexcept {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code ? code : 1);  // MPI_Abort does not return; if it does, do not run on
}

}  // namespace sft
