// sft/gpu/kernels.hpp — the kernels of sft_gpu and their typed launchers.
//
// Every kernel is written once (src/gpu/kernels/kernels.inc) and compiled for
// all three backends, so the CPU and OpenCL runs in the tests exercise the very
// logic the CUDA build runs. The typed launchers below check dtypes, sizes,
// bounds and alignment before anything is enqueued and report a violation as
// gpu_bad_argument; a failure of the device or driver is gpu_launch / gpu_driver.
//
// Semantics (docs/gpu.md has the detail):
//   convert   F32, F16, BF16, F8_E4M3, F8_E5M2, F8_E8M0 -> F32, F16, BF16; round to
//             nearest, ties to even; overflow to infinity; bit-exact with numpy /
//             ml_dtypes on every input, NaNs included (see "NaN" below).
//   mxfp4     F4 (E2M1, two per byte, low nibble first) with one F8_E8M0 scale per
//             32 elements -> F32 or BF16, per the OCP Microscaling Formats spec.
//   gemv      y = W x, W rows x cols row-major in F32/F16/BF16, x and y F32, F32
//             accumulation.
//   checksum  the block hashes of sft's 64-bit digest (sft/gpu/checksum.hpp).
//
// NaN: an identity conversion copies bits. F16 -> F32 and BF16 -> F32 keep the
// payload; F32 -> F16 keeps the top payload bits (setting the lowest one if none
// is left), like numpy's conversions; every other conversion of a NaN gives the
// canonical quiet NaN of the target with the source's sign (positive for
// F8_E8M0, whose NaN has none), as ml_dtypes does.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sft/dtype.hpp"
#include "sft/gpu/device.hpp"
#include "sft/result.hpp"

namespace sft::gpu {

enum class Kernel : std::uint8_t { convert = 0, mxfp4 = 1, gemv = 2, checksum = 3 };
inline constexpr int kernel_count = 4;
std::string_view kernel_name(Kernel k) noexcept;  // "convert", "mxfp4", "gemv", "checksum"

// The kinds of kernel argument. A buffer argument is passed as the buffer and,
// in the next argument, a u64 byte offset into it.
enum class ArgKind : std::uint8_t { buffer_in, buffer_out, u32, u64, f32 };
std::string_view arg_kind_name(ArgKind k) noexcept;

// The parameter list of a kernel, taken from the kernel's own C++ compilation.
std::span<const ArgKind> kernel_signature(Kernel k) noexcept;

struct KernelArg {
  ArgKind kind = ArgKind::u64;
  const Buffer* buffer = nullptr;  // buffer_in, buffer_out
  std::uint64_t u64 = 0;
  std::uint32_t u32 = 0;
  float f32 = 0.0f;

  static KernelArg in(const Buffer& b) { KernelArg a; a.kind = ArgKind::buffer_in; a.buffer = &b; return a; }
  static KernelArg out(Buffer& b) { KernelArg a; a.kind = ArgKind::buffer_out; a.buffer = &b; return a; }
  static KernelArg of_u64(std::uint64_t v) { KernelArg a; a.kind = ArgKind::u64; a.u64 = v; return a; }
  static KernelArg of_u32(std::uint32_t v) { KernelArg a; a.kind = ArgKind::u32; a.u32 = v; return a; }
  static KernelArg of_f32(float v) { KernelArg a; a.kind = ArgKind::f32; a.f32 = v; return a; }
};

// A one-dimensional index space: `global` work items in groups of `local`
// (global must be a positive multiple of local).
struct LaunchDims {
  std::uint64_t global = 0;
  std::uint32_t local = 0;
};

// The tunable shape of a launch, and the variant of the kernel that runs it
// (sft/gpu/tune.hpp picks one per device and problem). Every configuration a
// launcher accepts computes the same result: bit for bit for convert, mxfp4
// and the checksum, within the F32 summation bound for GEMV (docs/gpu.md).
//
// Backends run a variant of the kernel compiled for the configuration, its
// parameters constants the compiler specialises on: OpenCL builds one per
// configuration on first use (clBuildProgram with -D options); CUDA has a
// fixed set compiled in and builds the others with NVRTC where the toolkit's
// libnvrtc is present; the CPU backend has a fixed set of C++ template
// instantiations. A configuration without a compiled variant runs the
// generic build of the kernel, which reads the same parameters at run time.
struct LaunchConfig {
  std::uint32_t local_size = 128;       // work-group / thread-block size (a power of two, 1..1024)
  std::uint32_t items_per_thread = 1;   // elements, rows or blocks per work item (1..64)
  std::uint32_t vector_width = 1;       // consecutive elements per step / partial sums (1, 2, 4, 8)
  // How work maps to items. convert, checksum: 0 interleaved across items
  // (neighbouring items touch neighbouring memory), 1 contiguous per item;
  // mxfp4: 0 and 1 by element, 2 and 3 a whole 32-element block per step
  // (interleaved, contiguous); gemv (split > 1): how a row's columns are dealt
  // to its items, 0 round-robin chunks of vector_width, 1 contiguous slices.
  std::uint32_t mapping = 0;
  std::uint32_t unroll = 1;             // gemv: column chunks, checksum: 32-byte groups per loop step (1, 2, 4, 8)
  // Items sharing one unit of work, combined in local memory: gemv, a row
  // (split-K; 1..local_size, powers of two); checksum, a block's 4 lanes (1, 2, 4).
  std::uint32_t split = 1;
  std::uint32_t reduction = 0;          // gemv, split > 1: 0 a tree of barriers, 1 the row's first item adds in order
  bool specialize = false;              // compile the launch's dtypes into the variant
  bool wide_loads = false;              // typed loads where the launch's offsets are aligned (little-endian devices)
  // Test only: a deliberately wrong variant, for the tuner's tests (1: one
  // output value wrong, 2: half the work skipped, 3: does not compile).
  std::uint32_t fault = 0;
  friend bool operator==(const LaunchConfig&, const LaunchConfig&) = default;
};

// Check a configuration (gpu_bad_argument): the ranges above. The launchers
// check what is specific to their kernel.
Result<void> check_config(const LaunchConfig& c);

// The configuration a launcher of kernel k runs for `c`: fields the kernel
// does not use set to their defaults (so that equal variants compare equal),
// or gpu_bad_argument for values the kernel does not take.
Result<LaunchConfig> normalize_config(Kernel k, const LaunchConfig& c);

// A compact spelling, "L256 E4 V4 M1 U1 K1 R0 S1 W1" (local size, items per
// thread, vector width, mapping, unroll, split, reduction, specialize, wide
// loads; " F<n>" appended for a test fault), and its strict parser.
std::string config_string(const LaunchConfig& c);
std::optional<LaunchConfig> parse_config(std::string_view s);

// A place in device memory for a kernel to read or write.
struct In {
  const Buffer& buffer;
  std::uint64_t offset = 0;
};
struct Out {
  Buffer& buffer;
  std::uint64_t offset = 0;
};

// The dtypes convert() accepts.
bool convert_source_ok(DType t) noexcept;       // F32 F16 BF16 F8_E4M3 F8_E5M2 F8_E8M0
bool convert_target_ok(DType t) noexcept;       // F32 F16 BF16

// count elements of src_dtype at src to dst_dtype at dst (aligned to its size).
Result<Event> convert(Queue& q, In src, DType src_dtype, Out dst, DType dst_dtype, std::uint64_t count,
                      const LaunchConfig& config = {});

// count F4 elements (count even) at `packed` ((count / 2) bytes) with
// ceil(count / 32) scales at `scales`, to dst (F32 or BF16, aligned).
Result<Event> dequantize_mxfp4(Queue& q, In packed, In scales, Out dst, DType dst_dtype, std::uint64_t count,
                               const LaunchConfig& config = {});

// y[rows] = W[rows x cols] x[cols]; W of w_dtype (F32 F16 BF16), x and y F32,
// y aligned to 4.
Result<Event> gemv(Queue& q, In w, DType w_dtype, In x, Out y, std::uint64_t rows, std::uint64_t cols,
                   const LaunchConfig& config = {});

// The hashes of the blocks of data[offset, offset + n) with `seed` into
// `hashes` (aligned to 8, room for checksum_block_count(n) u64 values).
Result<Event> checksum_blocks(Queue& q, In data, std::uint64_t n, Out hashes, std::uint64_t seed,
                              const LaunchConfig& config = {});

// The digest (sft/gpu/checksum.hpp) of n device bytes, computed on the device:
// block hashes level by level until one is left, then 8 bytes come back. Blocks
// until done. With level0 non-null, the level-0 block hashes are read back
// into it too (to find where two copies differ).
Result<std::uint64_t> device_digest(Queue& q, In data, std::uint64_t n, const LaunchConfig& config = {},
                                    std::vector<std::uint64_t>* level0 = nullptr);

}  // namespace sft::gpu
