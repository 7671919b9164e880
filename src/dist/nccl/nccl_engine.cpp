// The NCCL engine: host buffers staged through the rank's GPU, NCCL opened at run time.
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "dist/engine_base.hpp"
#include "sft/dist_nccl.hpp"

#ifndef SFT_NCCL_LIBRARY
#define SFT_NCCL_LIBRARY ""
#endif

namespace sft {

namespace {

static_assert(sizeof(NcclUniqueId::bytes) == sizeof(ncclUniqueId), "NcclUniqueId must hold an ncclUniqueId");

using Clock = std::chrono::steady_clock;

// The NCCL entry points, typed by nccl.h so that a mismatch fails to compile.
struct Nccl {
  decltype(&ncclGetVersion) GetVersion = nullptr;
  decltype(&ncclGetUniqueId) GetUniqueId = nullptr;
  decltype(&ncclCommInitRankConfig) CommInitRankConfig = nullptr;
  decltype(&ncclCommFinalize) CommFinalize = nullptr;
  decltype(&ncclCommDestroy) CommDestroy = nullptr;
  decltype(&ncclCommAbort) CommAbort = nullptr;
  decltype(&ncclCommGetAsyncError) CommGetAsyncError = nullptr;
  decltype(&ncclGetErrorString) GetErrorString = nullptr;
  decltype(&ncclGroupStart) GroupStart = nullptr;
  decltype(&ncclGroupEnd) GroupEnd = nullptr;
  decltype(&ncclSend) Send = nullptr;
  decltype(&ncclRecv) Recv = nullptr;
  decltype(&ncclBroadcast) Broadcast = nullptr;
  decltype(&ncclAllGather) AllGather = nullptr;
};

// Opened once per process; never closed (NCCL keeps threads of its own).
Result<const Nccl*> nccl() {
  static std::once_flag once;
  static Nccl table;
  static std::string failure;
  std::call_once(once, [] {
    void* h = ::dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    std::string why = h ? "" : std::string(::dlerror());
    if (!h && *SFT_NCCL_LIBRARY) {
      h = ::dlopen(SFT_NCCL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
      if (!h) why += std::string("; ") + ::dlerror();
    }
    if (!h) {
      failure = "cannot load NCCL: " + why;
      return;
    }
    bool ok = true;
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
      if (!fn) {
        ok = false;
        failure += std::string(failure.empty() ? "NCCL lacks " : ", ") + name;
      }
    };
    get(table.GetVersion, "ncclGetVersion");
    get(table.GetUniqueId, "ncclGetUniqueId");
    get(table.CommInitRankConfig, "ncclCommInitRankConfig");
    get(table.CommFinalize, "ncclCommFinalize");
    get(table.CommDestroy, "ncclCommDestroy");
    get(table.CommAbort, "ncclCommAbort");
    get(table.CommGetAsyncError, "ncclCommGetAsyncError");
    get(table.GetErrorString, "ncclGetErrorString");
    get(table.GroupStart, "ncclGroupStart");
    get(table.GroupEnd, "ncclGroupEnd");
    get(table.Send, "ncclSend");
    get(table.Recv, "ncclRecv");
    get(table.Broadcast, "ncclBroadcast");
    get(table.AllGather, "ncclAllGather");
    if (!ok) failure += " (a version older than 2.14?)";
  });
  if (!failure.empty()) return Error(Errc::dist_engine, failure);
  return &table;
}

Error cuda_error(const char* call, cudaError_t rc) {
  return Error(Errc::dist_engine, std::string(call) + " failed: " + cudaGetErrorString(rc));
}

class NcclEngine final : public detail::EngineBase {
 public:
  NcclEngine(const Nccl& n, std::uint32_t rank, std::span<const std::uint32_t> nodes, const NcclEngineOptions& o)
      : n_(n), options_(o) {
    rank_ = rank;
    world_ = static_cast<std::uint32_t>(nodes.size());
    nodes_.assign(nodes.begin(), nodes.end());
  }

  ~NcclEngine() override {
    if (comm_) {
      if (broken_) {
        n_.CommAbort(comm_);
      } else {
        // Flush what was issued; a communicator that cannot finalise in time is aborted.
        if (n_.CommFinalize(comm_) != ncclSuccess || !poll_comm("finalising the communicator")) n_.CommAbort(comm_);
        else n_.CommDestroy(comm_);
      }
    }
    if (dsend_) cudaFree(dsend_);
    if (drecv_) cudaFree(drecv_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  Result<void> init(const NcclUniqueId& id) {
    int count = 0;
    if (auto rc = cudaGetDeviceCount(&count); rc != cudaSuccess) return cuda_error("cudaGetDeviceCount", rc);
    if (count <= 0) return Error(Errc::dist_engine, "no CUDA device");
    int device = options_.device;
    if (device < 0) {
      int local = 0;
      for (std::uint32_t r = 0; r < rank_; ++r) local += nodes_[r] == nodes_[rank_];
      device = local % count;
    }
    if (device >= count)
      return Error(Errc::dist_engine, "device " + std::to_string(device) + " of " + std::to_string(count));
    if (auto rc = cudaSetDevice(device); rc != cudaSuccess) return cuda_error("cudaSetDevice", rc);
    device_ = device;
    if (auto rc = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking); rc != cudaSuccess)
      return cuda_error("cudaStreamCreateWithFlags", rc);
    ncclUniqueId nid;
    std::memcpy(&nid, id.bytes.data(), sizeof nid);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // every call returns at once; poll_comm() waits with a deadline
    const ncclResult_t rc = n_.CommInitRankConfig(&comm_, static_cast<int>(world_), nid, static_cast<int>(rank_), &config);
    if (rc != ncclSuccess && rc != ncclInProgress) return nccl_error("ncclCommInitRankConfig", rc);
    return poll_comm("creating the communicator");
  }

  std::string_view name() const noexcept override { return "nccl"; }

  Result<void> all_gather(std::span<const std::byte> mine, std::span<std::byte> out) override {
    SFT_TRY(usable());
    if (out.size() != mine.size() * world_) return size_error("all_gather");
    SFT_TRY(buffers(mine.size(), out.size()));
    SFT_TRY(upload(dsend_, mine));
    SFT_TRY(run("an all-gather", [&] { return n_.AllGather(dsend_, drecv_, mine.size(), ncclUint8, comm_, stream_); }));
    return download(out, drecv_);
  }

  Result<void> broadcast(std::span<std::byte> buffer, std::uint32_t root) override {
    SFT_TRY(usable());
    if (root >= world_) return root_error(root);
    SFT_TRY(buffers(buffer.size(), 0));
    if (rank_ == root) SFT_TRY(upload(dsend_, buffer));
    SFT_TRY(run("a broadcast", [&] {
      return n_.Broadcast(dsend_, dsend_, buffer.size(), ncclUint8, static_cast<int>(root), comm_, stream_);
    }));
    return download(buffer, dsend_);
  }

  Result<void> scatter(std::span<const std::byte> send, std::span<std::byte> recv, std::uint32_t root) override {
    SFT_TRY(usable());
    if (root >= world_) return root_error(root);
    if (rank_ == root && send.size() != recv.size() * world_) return size_error("scatter");
    const std::size_t n = recv.size();
    SFT_TRY(buffers(rank_ == root ? send.size() : 0, n));
    if (rank_ == root) SFT_TRY(upload(dsend_, send));
    SFT_TRY(run("a scatter", [&] {
      n_.GroupStart();
      if (rank_ == root) {
        for (std::uint32_t q = 0; q < world_; ++q)
          if (q != root && n) n_.Send(static_cast<std::byte*>(dsend_) + q * n, n, ncclUint8, static_cast<int>(q), comm_, stream_);
      } else if (n) {
        n_.Recv(drecv_, n, ncclUint8, static_cast<int>(root), comm_, stream_);
      }
      return n_.GroupEnd();
    }));
    if (rank_ == root) {
      if (n) std::memcpy(recv.data(), send.data() + static_cast<std::size_t>(root) * n, n);
      return {};
    }
    return download(recv, drecv_);
  }

  Result<void> all_to_all(std::span<const std::byte> send, std::span<const std::uint64_t> send_counts,
                          std::span<std::byte> recv, std::span<const std::uint64_t> recv_counts) override {
    SFT_TRY(usable());
    if (send_counts.size() != world_ || recv_counts.size() != world_) return size_error("all_to_all");
    std::uint64_t st = 0, rt = 0;
    for (auto c : send_counts) st += c;
    for (auto c : recv_counts) rt += c;
    if (st > send.size() || rt > recv.size() || send_counts[rank_] != recv_counts[rank_]) return size_error("all_to_all");
    SFT_TRY(buffers(st, rt));
    SFT_TRY(upload(dsend_, send.first(st)));
    SFT_TRY(run("an all-to-all", [&] {
      n_.GroupStart();
      std::uint64_t so = 0, ro = 0;
      for (std::uint32_t q = 0; q < world_; ++q) {
        if (q != rank_) {
          if (send_counts[q]) n_.Send(static_cast<std::byte*>(dsend_) + so, send_counts[q], ncclUint8, static_cast<int>(q), comm_, stream_);
          if (recv_counts[q]) n_.Recv(static_cast<std::byte*>(drecv_) + ro, recv_counts[q], ncclUint8, static_cast<int>(q), comm_, stream_);
        }
        so += send_counts[q];
        ro += recv_counts[q];
      }
      return n_.GroupEnd();
    }));
    SFT_TRY(download(recv.first(rt), drecv_));
    // Its own block never went through NCCL: copy it on the host.
    std::uint64_t so = 0, ro = 0;
    for (std::uint32_t q = 0; q < rank_; ++q) {
      so += send_counts[q];
      ro += recv_counts[q];
    }
    if (send_counts[rank_]) std::memcpy(recv.data() + ro, send.data() + so, send_counts[rank_]);
    return {};
  }

  Result<void> barrier() override {
    const std::byte one{};
    std::vector<std::byte> all(world_);
    return all_gather({&one, 1}, all);
  }

 private:
  Result<void> usable() const {
    if (broken_) return Error(Errc::dist_engine, "the NCCL engine is unusable after an earlier timeout or failure");
    return {};
  }

  Error nccl_error(const char* call, ncclResult_t rc) const {
    return Error(Errc::dist_engine, std::string(call) + " failed: " + n_.GetErrorString(rc));
  }

  Result<void> fail(Error e) {
    broken_ = true;
    return e;
  }

  // Wait until the communicator has no call in progress (non-blocking mode).
  Result<void> poll_comm(const char* what) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(options_.timeout_s);
    for (;;) {
      ncclResult_t state = ncclSuccess;
      if (ncclResult_t rc = n_.CommGetAsyncError(comm_, &state); rc != ncclSuccess) return fail(nccl_error("ncclCommGetAsyncError", rc));
      if (state == ncclSuccess) return {};
      if (state != ncclInProgress) return fail(nccl_error(what, state));
      if (Clock::now() > deadline) return fail(timeout(what));
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  // Enqueue a call (or a group), then wait for the stream to drain.
  template <class F>
  Result<void> run(const char* what, F&& enqueue) {
    const ncclResult_t rc = enqueue();
    if (rc != ncclSuccess && rc != ncclInProgress) return fail(nccl_error(what, rc));
    SFT_TRY(poll_comm(what));
    const auto deadline = Clock::now() + std::chrono::duration<double>(options_.timeout_s);
    for (std::uint64_t polls = 0;; ++polls) {
      const cudaError_t q = cudaStreamQuery(stream_);
      if (q == cudaSuccess) return {};
      if (q != cudaErrorNotReady) return fail(cuda_error("cudaStreamQuery", q));
      ncclResult_t state = ncclSuccess;
      n_.CommGetAsyncError(comm_, &state);
      if (state != ncclSuccess && state != ncclInProgress) return fail(nccl_error(what, state));
      if (Clock::now() > deadline) return fail(timeout(what));
      if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  Error timeout(const char* what) const {
    return Error(Errc::dist_timeout, std::string(what) + " did not complete within " + detail::seconds(options_.timeout_s) +
                                         " s on rank " + std::to_string(rank_) + " of " + std::to_string(world_) +
                                         ": a peer stalled, failed or died");
  }

  // Device buffers of at least the sizes asked, grown as needed.
  Result<void> buffers(std::size_t send, std::size_t recv) {
    auto grow = [&](void** p, std::size_t* cap, std::size_t want) -> Result<void> {
      if (want <= *cap) return {};
      if (*p) cudaFree(*p);
      *p = nullptr;
      *cap = 0;
      if (auto rc = cudaMalloc(p, want); rc != cudaSuccess) return cuda_error("cudaMalloc", rc);
      *cap = want;
      return {};
    };
    SFT_TRY(grow(&dsend_, &send_cap_, std::max<std::size_t>(send, 1)));
    return grow(&drecv_, &recv_cap_, std::max<std::size_t>(recv, 1));
  }
  Result<void> upload(void* to, std::span<const std::byte> from) {
    if (from.empty()) return {};
    if (auto rc = cudaMemcpyAsync(to, from.data(), from.size(), cudaMemcpyHostToDevice, stream_); rc != cudaSuccess)
      return fail(cuda_error("cudaMemcpyAsync", rc));
    return {};
  }
  // Called once the collective has completed, so the copy cannot wait on a peer.
  Result<void> download(std::span<std::byte> to, const void* from) {
    if (to.empty()) return {};
    if (auto rc = cudaMemcpyAsync(to.data(), from, to.size(), cudaMemcpyDeviceToHost, stream_); rc != cudaSuccess)
      return fail(cuda_error("cudaMemcpyAsync", rc));
    if (auto rc = cudaStreamSynchronize(stream_); rc != cudaSuccess) return fail(cuda_error("cudaStreamSynchronize", rc));
    return {};
  }

  const Nccl& n_;
  NcclEngineOptions options_;
  int device_ = -1;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
  void* dsend_ = nullptr;
  void* drecv_ = nullptr;
  std::size_t send_cap_ = 0, recv_cap_ = 0;
  bool broken_ = false;
};

}  // namespace

Result<int> nccl_version() {
  SFT_TRY_ASSIGN(const Nccl* n, nccl());
  int v = 0;
  if (ncclResult_t rc = n->GetVersion(&v); rc != ncclSuccess)
    return Error(Errc::dist_engine, std::string("ncclGetVersion failed: ") + n->GetErrorString(rc));
  return v;
}

Result<NcclUniqueId> nccl_unique_id() {
  SFT_TRY_ASSIGN(const Nccl* n, nccl());
  ncclUniqueId id;
  if (ncclResult_t rc = n->GetUniqueId(&id); rc != ncclSuccess)
    return Error(Errc::dist_engine, std::string("ncclGetUniqueId failed: ") + n->GetErrorString(rc));
  NcclUniqueId out;
  std::memcpy(out.bytes.data(), &id, sizeof id);
  return out;
}

Result<std::unique_ptr<DistEngine>> make_nccl_engine(const NcclUniqueId& id, std::uint32_t rank,
                                                     std::span<const std::uint32_t> nodes,
                                                     const NcclEngineOptions& options) {
  if (nodes.empty() || rank >= nodes.size())
    return Error(Errc::invalid_argument, "rank " + std::to_string(rank) + " of a group of " + std::to_string(nodes.size()));
  SFT_TRY_ASSIGN(const Nccl* n, nccl());
  try {
    auto e = std::make_unique<NcclEngine>(*n, rank, nodes, options);
    SFT_TRY(e->init(id));
    return std::unique_ptr<DistEngine>(std::move(e));
  } catch (...) {
    return Error(Errc::out_of_memory, "no memory for the NCCL engine");
  }
}

Result<std::unique_ptr<DistEngine>> make_nccl_engine(DistEngine& bootstrap, const NcclEngineOptions& options) {
  // Check what can fail on one rank before anything waits for all of them.
  Result<void> ready = nccl().transform([](const Nccl*) {});
  if (ready) {
    int count = 0;
    if (auto rc = cudaGetDeviceCount(&count); rc != cudaSuccess) ready = cuda_error("cudaGetDeviceCount", rc);
    else if (count <= 0) ready = Error(Errc::dist_engine, "no CUDA device");
  }
  Result<NcclUniqueId> id = NcclUniqueId{};
  if (ready && bootstrap.rank() == 0) {
    id = nccl_unique_id();
    if (!id) ready = id.error();
  }
  SFT_TRY(agree(bootstrap, ready));
  NcclUniqueId shared = *id;
  SFT_TRY(bootstrap.broadcast(shared.bytes, 0));
  auto engine = make_nccl_engine(shared, bootstrap.rank(), bootstrap.nodes(), options);
  SFT_TRY(agree(bootstrap, engine.transform([](const std::unique_ptr<DistEngine>&) {})));
  return engine;
}

}  // namespace sft
