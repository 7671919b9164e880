// bench/driver.hpp — the operations of sft_bench_driver, the sft side of bench/compare.py.
//
// The driver runs one operation on one file N times and prints one JSON object
// with every repetition's time. Each operation times itself (one call = one
// repetition), so that work that is not part of what is measured (freeing
// buffers, verifying checksums, deleting an output file) stays outside the
// timed region. Operations register themselves with SFT_BENCH_OP; the driver
// is built from sft_bench_driver.cpp plus every bench/driver_op_*.cpp, so a
// new operation (the Writer's "write", for one) is a new file, not an edit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "sft/file.hpp"
#include "sft/result.hpp"

namespace sft::bench {

struct DriverArgs {
  std::filesystem::path file;    // the workload to read
  std::filesystem::path output;  // where an operation that writes may write (--output)
  OpenOptions open;              // --mode mmap|pread, --hint normal|sequential|random, --populate
  bool huge_pages = true;        // owned buffers >= 4 MiB advised to use huge pages (--plain-alloc: not)
};

// What one repetition did. compare.py checks that tensors, bytes and checksum
// agree with what the reference package saw in the same file.
struct RepOutcome {
  double seconds = 0;             // wall-clock time of the timed region only
  double cpu_seconds = 0;         // CPU time of this process in the timed region (user + system)
  std::uint64_t tensors = 0;      // tensors the operation went through
  std::uint64_t bytes = 0;        // tensor bytes it read, copied or wrote
  std::uint64_t checksum = 0;     // byte_checksum summed over tensors (0 when it reads no data)
};

using OpFunction = std::function<Result<RepOutcome>(const DriverArgs&)>;

struct OpRegistration {
  OpRegistration(std::string_view name, std::string_view description, OpFunction fn);
};

// Times one repetition: constructed where the timed region starts, stop()
// records wall-clock (steady clock) and process CPU time into the outcome.
// CPU time is the steadier figure on a shared machine: it leaves out the time
// the process waited for a core, though not the cache and bandwidth it shares.
class Stopwatch {
 public:
  Stopwatch() noexcept;
  void stop(RepOutcome& out) const noexcept;

 private:
  std::uint64_t wall_ns_;
  std::uint64_t cpu_ns_;
};

}  // namespace sft::bench

#define SFT_BENCH_OP_CAT2(a, b) a##b
#define SFT_BENCH_OP_CAT(a, b) SFT_BENCH_OP_CAT2(a, b)
// SFT_BENCH_OP("name", "what it measures", [](const DriverArgs&) -> Result<RepOutcome> {...});
#define SFT_BENCH_OP(name, description, fn) \
  static const ::sft::bench::OpRegistration SFT_BENCH_OP_CAT(sft_bench_op_, __LINE__){name, description, fn}
