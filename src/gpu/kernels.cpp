// Typed launchers (sft/gpu/kernels.hpp): every argument checked, then one launch.
#include "sft/gpu/kernels.hpp"

#include <algorithm>
#include <string>

#include "backend.hpp"
#include "sft/gpu/checksum.hpp"

namespace sft::gpu {

using detail::gpu_error;

std::string_view kernel_name(Kernel k) noexcept {
  switch (k) {
    case Kernel::convert: return "convert";
    case Kernel::mxfp4: return "mxfp4";
    case Kernel::gemv: return "gemv";
    case Kernel::checksum: return "checksum";
  }
  return "?";
}

std::string_view arg_kind_name(ArgKind k) noexcept {
  switch (k) {
    case ArgKind::buffer_in: return "an input buffer";
    case ArgKind::buffer_out: return "an output buffer";
    case ArgKind::u32: return "u32";
    case ArgKind::u64: return "u64";
    case ArgKind::f32: return "f32";
  }
  return "?";
}

Result<void> check_config(const LaunchConfig& c) {
  bool pow2 = c.local_size != 0 && (c.local_size & (c.local_size - 1)) == 0;
  if (!pow2 || c.local_size > 1024)
    return gpu_error(Errc::gpu_bad_argument,
                     "local size " + std::to_string(c.local_size) + " is not a power of two in 1..1024");
  if (c.items_per_thread < 1 || c.items_per_thread > 64)
    return gpu_error(Errc::gpu_bad_argument,
                     "items per thread " + std::to_string(c.items_per_thread) + " is not in 1..64");
  if (c.vector_width != 1 && c.vector_width != 2 && c.vector_width != 4 && c.vector_width != 8)
    return gpu_error(Errc::gpu_bad_argument, "vector width " + std::to_string(c.vector_width) + " is not 1, 2, 4 or 8");
  return {};
}

bool convert_source_ok(DType t) noexcept {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F8_E4M3 || t == DType::F8_E5M2 ||
         t == DType::F8_E8M0;
}
bool convert_target_ok(DType t) noexcept { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

namespace {

// `bytes` bytes at `offset` lie inside the buffer (no overflow).
Result<void> check_span(const char* kernel, const char* what, const Buffer& b, std::uint64_t offset,
                        std::uint64_t bytes) {
  if (!b.valid()) return gpu_error(Errc::gpu_bad_argument, std::string(kernel) + ": " + what + " buffer is empty");
  if (offset > b.size() || bytes > b.size() - offset)
    return gpu_error(Errc::gpu_bad_argument, std::string(kernel) + ": " + what + " needs " + std::to_string(bytes) +
                                                 " bytes at offset " + std::to_string(offset) + " of a " +
                                                 std::to_string(b.size()) + "-byte buffer");
  return {};
}

Result<void> check_aligned(const char* kernel, const char* what, std::uint64_t offset, std::uint64_t align) {
  if (offset % align != 0)
    return gpu_error(Errc::gpu_bad_argument, std::string(kernel) + ": " + what + " offset " + std::to_string(offset) +
                                                 " is not a multiple of " + std::to_string(align));
  return {};
}

// n * size, or an error when it overflows 64 bits.
Result<std::uint64_t> times(const char* kernel, std::uint64_t n, std::uint64_t size) {
  if (size != 0 && n > ~std::uint64_t{0} / size)
    return gpu_error(Errc::gpu_bad_argument, std::string(kernel) + ": size overflows 64 bits");
  return n * size;
}

// The index space for `items` units of work, `per_item` of them per work item.
Result<LaunchDims> dims_for(const char* kernel, std::uint64_t items, std::uint64_t per_item, const LaunchConfig& c) {
  if (auto r = check_config(c); !r) return gpu_error(r.error().code, std::string(kernel) + ": " + r.error().message);
  std::uint64_t work_items = (items + per_item - 1) / per_item;
  std::uint64_t groups = (work_items + c.local_size - 1) / c.local_size;
  if (groups == 0) groups = 1;
  // CUDA's grid and most OpenCL devices stop at 2^31 - 1 groups.
  if (groups > 0x7FFFFFFFull)
    return gpu_error(Errc::gpu_bad_argument, std::string(kernel) + ": " + std::to_string(items) +
                                                 " items need more than 2^31 work groups; raise items_per_thread");
  return LaunchDims{groups * c.local_size, c.local_size};
}

Result<Event> launch(Queue& q, Kernel k, Result<LaunchDims> dims, std::initializer_list<KernelArg> args) {
  if (!dims) return std::move(dims).error();
  return q.launch(k, *dims, std::span<const KernelArg>(args.begin(), args.size()));
}

std::uint32_t code(DType t) { return static_cast<std::uint32_t>(t); }

Event done() { return detail::Access::make_event(std::make_shared<detail::DoneEvent>()); }

}  // namespace

Result<Event> convert(Queue& q, In src, DType src_dtype, Out dst, DType dst_dtype, std::uint64_t count,
                      const LaunchConfig& config) {
  const char* k = "convert";
  if (!convert_source_ok(src_dtype))
    return gpu_error(Errc::gpu_unsupported, "convert: cannot convert from " + std::string(name(src_dtype)));
  if (!convert_target_ok(dst_dtype))
    return gpu_error(Errc::gpu_unsupported, "convert: cannot convert to " + std::string(name(dst_dtype)));
  auto in_bytes = times(k, count, element_size(src_dtype));
  auto out_bytes = times(k, count, element_size(dst_dtype));
  if (!in_bytes) return std::move(in_bytes).error();
  if (!out_bytes) return std::move(out_bytes).error();
  if (auto r = check_span(k, "source", src.buffer, src.offset, *in_bytes); !r) return r.error();
  if (auto r = check_span(k, "destination", dst.buffer, dst.offset, *out_bytes); !r) return r.error();
  if (auto r = check_aligned(k, "destination", dst.offset, element_size(dst_dtype)); !r) return r.error();
  if (count == 0) return done();
  std::uint64_t per_item = std::uint64_t{config.items_per_thread} * config.vector_width;
  return launch(q, Kernel::convert, dims_for(k, count, per_item, config),
                {KernelArg::in(src.buffer), KernelArg::of_u64(src.offset), KernelArg::out(dst.buffer),
                 KernelArg::of_u64(dst.offset), KernelArg::of_u64(count), KernelArg::of_u32(code(src_dtype)),
                 KernelArg::of_u32(code(dst_dtype)), KernelArg::of_u32(config.items_per_thread),
                 KernelArg::of_u32(config.vector_width)});
}

Result<Event> dequantize_mxfp4(Queue& q, In packed, In scales, Out dst, DType dst_dtype, std::uint64_t count,
                               const LaunchConfig& config) {
  const char* k = "mxfp4";
  if (dst_dtype != DType::F32 && dst_dtype != DType::BF16)
    return gpu_error(Errc::gpu_unsupported, "mxfp4: the target must be F32 or BF16, not " + std::string(name(dst_dtype)));
  if (count % 2 != 0)
    return gpu_error(Errc::gpu_bad_argument, "mxfp4: " + std::to_string(count) + " F4 elements are not whole bytes");
  auto out_bytes = times(k, count, element_size(dst_dtype));
  if (!out_bytes) return std::move(out_bytes).error();
  if (auto r = check_span(k, "packed", packed.buffer, packed.offset, count / 2); !r) return r.error();
  if (auto r = check_span(k, "scales", scales.buffer, scales.offset, (count + 31) / 32); !r) return r.error();
  if (auto r = check_span(k, "destination", dst.buffer, dst.offset, *out_bytes); !r) return r.error();
  if (auto r = check_aligned(k, "destination", dst.offset, element_size(dst_dtype)); !r) return r.error();
  if (count == 0) return done();
  std::uint64_t per_item = std::uint64_t{config.items_per_thread} * config.vector_width;
  return launch(q, Kernel::mxfp4, dims_for(k, count, per_item, config),
                {KernelArg::in(packed.buffer), KernelArg::of_u64(packed.offset), KernelArg::in(scales.buffer),
                 KernelArg::of_u64(scales.offset), KernelArg::out(dst.buffer), KernelArg::of_u64(dst.offset),
                 KernelArg::of_u64(count), KernelArg::of_u32(code(dst_dtype)),
                 KernelArg::of_u32(config.items_per_thread), KernelArg::of_u32(config.vector_width)});
}

Result<Event> gemv(Queue& q, In w, DType w_dtype, In x, Out y, std::uint64_t rows, std::uint64_t cols,
                   const LaunchConfig& config) {
  const char* k = "gemv";
  if (w_dtype != DType::F32 && w_dtype != DType::F16 && w_dtype != DType::BF16)
    return gpu_error(Errc::gpu_unsupported, "gemv: W must be F32, F16 or BF16, not " + std::string(name(w_dtype)));
  auto elems = times(k, rows, cols);
  if (!elems) return std::move(elems).error();
  auto w_bytes = times(k, *elems, element_size(w_dtype));
  auto x_bytes = times(k, cols, 4);
  auto y_bytes = times(k, rows, 4);
  if (!w_bytes) return std::move(w_bytes).error();
  if (!x_bytes) return std::move(x_bytes).error();
  if (!y_bytes) return std::move(y_bytes).error();
  if (auto r = check_span(k, "W", w.buffer, w.offset, *w_bytes); !r) return r.error();
  if (auto r = check_span(k, "x", x.buffer, x.offset, *x_bytes); !r) return r.error();
  if (auto r = check_span(k, "y", y.buffer, y.offset, *y_bytes); !r) return r.error();
  if (auto r = check_aligned(k, "y", y.offset, 4); !r) return r.error();
  if (rows == 0) return done();
  return launch(q, Kernel::gemv, dims_for(k, rows, config.items_per_thread, config),
                {KernelArg::in(w.buffer), KernelArg::of_u64(w.offset), KernelArg::in(x.buffer),
                 KernelArg::of_u64(x.offset), KernelArg::out(y.buffer), KernelArg::of_u64(y.offset),
                 KernelArg::of_u64(rows), KernelArg::of_u64(cols), KernelArg::of_u32(code(w_dtype)),
                 KernelArg::of_u32(config.items_per_thread), KernelArg::of_u32(config.vector_width)});
}

Result<Event> checksum_blocks(Queue& q, In data, std::uint64_t n, Out hashes, std::uint64_t seed,
                              const LaunchConfig& config) {
  const char* k = "checksum";
  std::uint64_t blocks = checksum_block_count(n);
  if (auto r = check_span(k, "data", data.buffer, data.offset, n); !r) return r.error();
  if (auto r = check_span(k, "hashes", hashes.buffer, hashes.offset, blocks * 8); !r) return r.error();
  if (auto r = check_aligned(k, "hashes", hashes.offset, 8); !r) return r.error();
  return launch(q, Kernel::checksum, dims_for(k, blocks, config.items_per_thread, config),
                {KernelArg::in(data.buffer), KernelArg::of_u64(data.offset), KernelArg::of_u64(n),
                 KernelArg::out(hashes.buffer), KernelArg::of_u64(hashes.offset), KernelArg::of_u64(seed),
                 KernelArg::of_u32(config.items_per_thread)});
}

Result<std::uint64_t> device_digest(Queue& q, In data, std::uint64_t n, const LaunchConfig& config,
                                    std::vector<std::uint64_t>* level0) {
  if (!q.valid()) return gpu_error(Errc::gpu_bad_argument, "device_digest on an empty Queue");
  const Device device = q.device();
  // Level 0 into one buffer, then each level into the other, until one is left.
  std::uint64_t count = checksum_block_count(n);
  auto a = device.alloc(count * 8);
  if (!a) return std::move(a).error();
  auto b = device.alloc(checksum_block_count(count * 8) * 8);
  if (!b) return std::move(b).error();
  if (auto e = checksum_blocks(q, data, n, Out{*a}, 0, config); !e) return std::move(e).error();
  if (level0) {
    level0->assign(count, 0);
    if (auto e = q.read(*a, 0, level0->data(), count * 8); !e) return std::move(e).error();
  }
  Buffer* cur = &*a;
  Buffer* next = &*b;
  for (std::uint64_t seed = 1; count > 1; ++seed) {
    if (auto e = checksum_blocks(q, In{*cur}, count * 8, Out{*next}, seed, config); !e) return std::move(e).error();
    count = checksum_block_count(count * 8);
    std::swap(cur, next);
  }
  std::uint64_t top = 0;
  if (auto e = q.read(*cur, 0, &top, 8); !e) return std::move(e).error();
  if (auto r = q.finish(); !r) return r.error();
  // The same final mix as digest_from_level0 (one hash left: it is the top).
  return digest_from_level0({top}, n);
}

}  // namespace sft::gpu

namespace sft::gpu::detail {
std::uint64_t kernel_source_hash() noexcept {
  static const std::uint64_t h = digest(std::as_bytes(std::span(kernel_source().data(), kernel_source().size())));
  return h;
}
}  // namespace sft::gpu::detail
