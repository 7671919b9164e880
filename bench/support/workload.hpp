// bench/support/workload.hpp — in-memory workloads for the Google Benchmark suites.
//
// The same shapes as bench/gen_workload.py (which writes the files that
// bench/compare.py measures): a transformer checkpoint, optionally with
// mixture-of-experts layers, and a header of many zero-size tensors that fills
// most of the format's 100,000,000-byte header limit. Keep the two in step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "sft/dtype.hpp"

namespace sft::bench {

struct TensorSpec {
  std::string name;
  DType dtype = DType::BF16;
  std::vector<std::uint64_t> shape;
};

// Tensors of a transformer with `layers` layers of width `hidden`; `experts`
// > 0 replaces each layer's MLP by that many expert MLPs plus a router.
std::vector<TensorSpec> transformer_tensors(int layers, std::uint64_t hidden, int experts = 0,
                                            DType dtype = DType::BF16);
// `count` F32 tensors of shape [0] at offsets [0, 0], names padded so that the
// header comes to about `header_bytes`.
std::vector<TensorSpec> zero_size_tensors(std::size_t count, std::uint64_t header_bytes = 99'900'000);

// A safetensors file in memory. `bytes` holds the 8-byte prefix and the header,
// followed by the data only when it was built with data.
struct Workload {
  std::vector<std::byte> bytes;
  std::uint64_t header_bytes = 0;  // N
  std::uint64_t data_bytes = 0;
  std::uint64_t tensor_count = 0;
  std::vector<std::string> names;  // in file order

  std::uint64_t file_size() const noexcept { return 8 + header_bytes + data_bytes; }
  std::span<const std::byte> span() const noexcept { return bytes; }
};

// Header with {"format":"pt"} metadata, compact JSON padded with spaces to a
// multiple of 8; data (when asked for) is the pattern byte[i] = i mod 256.
Workload build_workload(const std::vector<TensorSpec>& tensors, bool with_data);

// The workloads performance figures are judged on (../shared/tools/README.md).
Workload small_transformer(bool with_data);  // 32 layers, hidden 256: 290 tensors
Workload moe_header();                       // 48 layers, hidden 64, 128 experts: 18,770 tensors
Workload zero_size_header();                 // 1,000,000 zero-size tensors, ~99.9 MB of JSON

// Write the workload to `path`; without its data in memory the data is left as a
// hole (ftruncate), so the file is complete but costs no disk.
void write_workload(const std::filesystem::path& path, const Workload& w);

// A scratch directory for benchmark files: $SFT_BENCH_TMP or the system temp dir.
std::filesystem::path scratch_dir();

}  // namespace sft::bench
