// dist_mpi_probe — the MPI engine's collectives under mpirun, for tests/py/dist_mpi.py.
//
//   dist_mpi_probe primitives        every collective with uneven, empty and
//                                    multi-megabyte buffers; each rank checks
//                                    what it received; exit 0 when all match
//   dist_mpi_probe fail RANK         RANK reports an error to agree(): it must
//                                    get its own error back, every other rank
//                                    dist_peer_failed naming RANK
//   dist_mpi_probe late RANK SECONDS the engine times out after 1 s; RANK sleeps
//                                    SECONDS before the barrier: the others
//                                    print dist_timeout and call mpi_abort(3),
//                                    which must end RANK too
//   dist_mpi_probe stall SECONDS     start MPI and sleep (a rank that never
//                                    enters a collective, beside `sft load`)
//
// Each rank prints one line, "rank R: ok" or "rank R: FAIL what", on stdout.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sft/dist_mpi.hpp"

namespace {

std::byte pattern(std::uint64_t a, std::uint64_t b, std::uint64_t i) {
  return static_cast<std::byte>((a * 131 + b * 31 + i * 7 + (i >> 8)) % 251);
}

int report(const sft::DistEngine& e, const std::string& failure) {
  std::printf("rank %u: %s\n", e.rank(), failure.empty() ? "ok" : ("FAIL " + failure).c_str());
  std::fflush(stdout);
  return failure.empty() ? 0 : 1;
}

std::string primitives(sft::DistEngine& e) {
  const std::uint32_t r = e.rank(), w = e.world();
  if (e.nodes().size() != w) return "nodes() has " + std::to_string(e.nodes().size()) + " entries";
  for (auto n : e.nodes())
    if (n != 0) return "all ranks of one machine should be node 0";

  // all_gather of 1000 bytes.
  std::vector<std::byte> mine(1000), all(1000 * w);
  for (std::size_t i = 0; i < mine.size(); ++i) mine[i] = pattern(r, 0, i);
  if (auto s = e.all_gather(mine, all); !s) return s.error().to_string();
  for (std::uint32_t p = 0; p < w; ++p)
    for (std::size_t i = 0; i < 1000; ++i)
      if (all[p * 1000 + i] != pattern(p, 0, i)) return "all_gather: byte " + std::to_string(i) + " of rank " + std::to_string(p);

  // broadcast of 3 MB from the last rank.
  std::vector<std::byte> b(3 << 20);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = r == w - 1 ? pattern(9, 9, i) : std::byte{0};
  if (auto s = e.broadcast(b, w - 1); !s) return s.error().to_string();
  for (std::size_t i = 0; i < b.size(); ++i)
    if (b[i] != pattern(9, 9, i)) return "broadcast: byte " + std::to_string(i);

  // scatter of 10 KB blocks from rank 0.
  std::vector<std::byte> send(r == 0 ? 10240 * w : 0), recv(10240);
  for (std::size_t i = 0; i < send.size(); ++i) send[i] = pattern(i / 10240, 5, i % 10240);
  if (auto s = e.scatter(send, recv, 0); !s) return s.error().to_string();
  for (std::size_t i = 0; i < recv.size(); ++i)
    if (recv[i] != pattern(r, 5, i)) return "scatter: byte " + std::to_string(i);

  // all_to_all with uneven counts, some zero, one pair of 2 MB.
  auto count = [&](std::uint32_t p, std::uint32_t q) -> std::uint64_t {
    if (p == 1 && q == 0) return 0;
    if (p == 0 && q == w - 1) return 2 << 20;
    return (p + 1) * 100 + q * 17;
  };
  std::vector<std::uint64_t> sc(w), rc(w);
  std::uint64_t st = 0, rt = 0;
  for (std::uint32_t q = 0; q < w; ++q) {
    st += sc[q] = count(r, q);
    rt += rc[q] = count(q, r);
  }
  std::vector<std::byte> sb(st), rb(rt);
  for (std::uint32_t q = 0, at = 0; q < w; at += static_cast<std::uint32_t>(sc[q]), ++q)
    for (std::uint64_t i = 0; i < sc[q]; ++i) sb[at + i] = pattern(r, q, i);
  if (auto s = e.all_to_all(sb, sc, rb, rc); !s) return s.error().to_string();
  for (std::uint32_t p = 0, at = 0; p < w; at += static_cast<std::uint32_t>(rc[p]), ++p)
    for (std::uint64_t i = 0; i < rc[p]; ++i)
      if (rb[at + i] != pattern(p, r, i)) return "all_to_all: byte " + std::to_string(i) + " from rank " + std::to_string(p);

  // Wrong sizes are argument errors, not collectives.
  if (auto s = e.all_gather(mine, b); s || s.error().code != sft::Errc::invalid_argument) return "all_gather accepted a bad size";
  if (auto s = e.barrier(); !s) return s.error().to_string();
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  sft::MpiEngineOptions options;
  if (mode == "late") options.timeout_s = 1;
  auto engine = sft::make_mpi_engine(options);
  if (!engine) {
    std::fprintf(stderr, "dist_mpi_probe: %s\n", engine.error().to_string().c_str());
    return 2;
  }
  sft::DistEngine& e = **engine;
  if (mode == "primitives") return report(e, primitives(e));
  if (mode == "fail" && argc > 2) {
    const auto bad = static_cast<std::uint32_t>(std::atoi(argv[2]));
    sft::Result<void> mine;
    if (e.rank() == bad) mine = sft::Error(sft::Errc::io_error, "probe failure", 12, "tensor.x");
    auto r = sft::agree(e, mine);
    std::string failure;
    if (r) failure = "agree() succeeded";
    else if (e.rank() == bad && (r.error().code != sft::Errc::io_error || r.error().tensor != "tensor.x"))
      failure = "own error changed: " + r.error().to_string();
    else if (e.rank() != bad && (r.error().code != sft::Errc::dist_peer_failed || r.error().tensor != "tensor.x" ||
                                 r.error().offset != 12 ||
                                 r.error().message.find("rank " + std::to_string(bad)) == std::string::npos))
      failure = "peer error: " + r.error().to_string();
    return report(e, failure);
  }
  if (mode == "late" && argc > 3) {
    if (e.rank() == static_cast<std::uint32_t>(std::atoi(argv[2])))
      std::this_thread::sleep_for(std::chrono::seconds(std::atoi(argv[3])));
    auto r = e.barrier();
    if (r) return report(e, "");
    std::printf("rank %u: %s\n", e.rank(), r.error().to_string().c_str());
    std::fflush(stdout);
    sft::mpi_abort(3);
  }
  if (mode == "stall" && argc > 2) {
    std::this_thread::sleep_for(std::chrono::seconds(std::atoi(argv[2])));
    return 0;
  }
  std::fprintf(stderr, "usage: dist_mpi_probe primitives | fail RANK | late RANK SECONDS | stall SECONDS\n");
  return 2;
}
