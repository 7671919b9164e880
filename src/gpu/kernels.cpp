// Typed launchers (sft/gpu/kernels.hpp): every argument checked, then one launch.
#include "sft/gpu/kernels.hpp"

#include <algorithm>
#include <charconv>
#include <string>

#include "backend.hpp"
#include "sft/gpu/checksum.hpp"
#include "variant.hpp"

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

namespace {

bool pow2(std::uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

Error bad(const std::string& what) { return gpu_error(Errc::gpu_bad_argument, what); }

}  // namespace

Result<void> check_config(const LaunchConfig& c) {
  if (!pow2(c.local_size) || c.local_size > 1024)
    return bad("local size " + std::to_string(c.local_size) + " is not a power of two in 1..1024");
  if (c.items_per_thread < 1 || c.items_per_thread > 64)
    return bad("items per thread " + std::to_string(c.items_per_thread) + " is not in 1..64");
  if (c.vector_width != 1 && c.vector_width != 2 && c.vector_width != 4 && c.vector_width != 8)
    return bad("vector width " + std::to_string(c.vector_width) + " is not 1, 2, 4 or 8");
  if (c.mapping > 3) return bad("mapping " + std::to_string(c.mapping) + " is not in 0..3");
  if (c.unroll != 1 && c.unroll != 2 && c.unroll != 4 && c.unroll != 8)
    return bad("unroll " + std::to_string(c.unroll) + " is not 1, 2, 4 or 8");
  if (!pow2(c.split) || c.split > c.local_size)
    return bad("split " + std::to_string(c.split) + " is not a power of two in 1..local size");
  if (c.reduction > 1) return bad("reduction " + std::to_string(c.reduction) + " is not 0 or 1");
  if (c.fault > 3) return bad("fault " + std::to_string(c.fault) + " is not in 0..3");
  return {};
}

Result<LaunchConfig> normalize_config(Kernel k, const LaunchConfig& in) {
  SFT_TRY(check_config(in));
  LaunchConfig c = in;
  const std::string kn(kernel_name(k));
  switch (k) {
    case Kernel::convert:
      if (c.mapping > 1) return bad("convert: mapping " + std::to_string(c.mapping) + " is not 0 or 1");
      c.unroll = 1, c.split = 1, c.reduction = 0;
      break;
    case Kernel::mxfp4:
      if (c.mapping >= 2) c.vector_width = 1;  // a whole block per step
      else c.wide_loads = false;               // element modes read single bytes
      c.unroll = 1, c.split = 1, c.reduction = 0;
      break;
    case Kernel::gemv:
      // The generic build's local memory holds 1024 items x 4 rows.
      if (c.split > 1 && std::uint64_t{c.local_size} * c.items_per_thread > 4096)
        return bad("gemv: local size x rows per item above 4096 with split > 1");
      if (c.split == 1) c.mapping = 0, c.reduction = 0;
      if (c.mapping > 1) return bad("gemv: mapping " + std::to_string(c.mapping) + " is not 0 or 1");
      break;
    case Kernel::checksum:
      if (c.split > 4) return bad("checksum: split " + std::to_string(c.split) + " is not 1, 2 or 4");
      if (c.mapping > 1) return bad("checksum: mapping " + std::to_string(c.mapping) + " is not 0 or 1");
      c.vector_width = 1, c.reduction = 0, c.specialize = false;
      break;
  }
  return c;
}

std::string config_string(const LaunchConfig& c) {
  std::string s = "L" + std::to_string(c.local_size) + " E" + std::to_string(c.items_per_thread) + " V" +
                  std::to_string(c.vector_width) + " M" + std::to_string(c.mapping) + " U" + std::to_string(c.unroll) +
                  " K" + std::to_string(c.split) + " R" + std::to_string(c.reduction) + " S" +
                  (c.specialize ? "1" : "0") + " W" + (c.wide_loads ? "1" : "0");
  if (c.fault) s += " F" + std::to_string(c.fault);
  return s;
}

std::optional<LaunchConfig> parse_config(std::string_view s) {
  static constexpr char letters[] = {'L', 'E', 'V', 'M', 'U', 'K', 'R', 'S', 'W', 'F'};
  std::uint32_t v[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t field = 0;
  while (!s.empty()) {
    if (field == std::size(letters) || s[0] != letters[field] || s.size() < 2) return std::nullopt;
    std::size_t end = s.find(' ');
    std::string_view num = s.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
    auto r = std::from_chars(num.data(), num.data() + num.size(), v[field]);
    if (num.empty() || num.size() > 5 || r.ec != std::errc() || r.ptr != num.data() + num.size()) return std::nullopt;
    ++field;
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 1);
    if (s.empty()) return std::nullopt;  // a trailing space
  }
  if (field < 9 || v[7] > 1 || v[8] > 1) return std::nullopt;
  LaunchConfig c{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7] == 1, v[8] == 1, v[9]};
  if (!check_config(c)) return std::nullopt;
  return c;
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

// The index space of `groups` work groups of the configuration's size.
Result<LaunchDims> group_dims(const char* kernel, std::uint64_t units, std::uint64_t units_per_group,
                              const LaunchConfig& c) {
  std::uint64_t groups = units / units_per_group + (units % units_per_group != 0);
  if (groups == 0) groups = 1;
  // CUDA's grid and most OpenCL devices stop at 2^31 - 1 groups.
  if (groups > 0x7FFFFFFFull)
    return gpu_error(Errc::gpu_bad_argument, std::string(kernel) + ": " + std::to_string(units) +
                                                 " units of work need more than 2^31 work groups; raise items_per_thread");
  return LaunchDims{groups * c.local_size, c.local_size};
}

// The configuration as the kernel takes it, its errors prefixed with the kernel's name.
Result<LaunchConfig> normalized(Kernel k, const LaunchConfig& c) {
  auto n = normalize_config(k, c);
  if (!n) return gpu_error(n.error().code, std::string(kernel_name(k)) + ": " + n.error().message);
  return n;
}

// Launch the variant of kernel k for configuration c (normalized) and facts f;
// the last argument is always the packed configuration.
Result<Event> launch(Queue& q, Kernel k, const LaunchConfig& c, detail::LaunchFacts f, Result<LaunchDims> dims,
                     std::initializer_list<KernelArg> args) {
  SFT_TRY(dims);
  if (!q.valid()) return gpu_error(Errc::gpu_bad_argument, "launch on an empty Queue");
  if (!q.device().info().little_endian) f.aligned = false;
  std::vector<KernelArg> all(args);
  all.push_back(KernelArg::of_u32(detail::pack_cfg(c)));
  return detail::Access::launch(q, k, *dims, all, detail::variant_of(k, c, f));
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
  SFT_TRY_ASSIGN(auto c, normalized(Kernel::convert, config));
  SFT_TRY_ASSIGN(auto in_bytes, times(k, count, element_size(src_dtype)));
  SFT_TRY_ASSIGN(auto out_bytes, times(k, count, element_size(dst_dtype)));
  SFT_TRY(check_span(k, "source", src.buffer, src.offset, in_bytes));
  SFT_TRY(check_span(k, "destination", dst.buffer, dst.offset, out_bytes));
  SFT_TRY(check_aligned(k, "destination", dst.offset, element_size(dst_dtype)));
  if (count == 0) return done();
  const std::uint64_t per_group = std::uint64_t{c.local_size} * c.items_per_thread * c.vector_width;
  const detail::LaunchFacts facts{code(src_dtype), code(dst_dtype), src.offset % element_size(src_dtype) == 0};
  return launch(q, Kernel::convert, c, facts, group_dims(k, count, per_group, c),
                {KernelArg::in(src.buffer), KernelArg::of_u64(src.offset), KernelArg::out(dst.buffer),
                 KernelArg::of_u64(dst.offset), KernelArg::of_u64(count), KernelArg::of_u32(code(src_dtype)),
                 KernelArg::of_u32(code(dst_dtype))});
}

Result<Event> dequantize_mxfp4(Queue& q, In packed, In scales, Out dst, DType dst_dtype, std::uint64_t count,
                               const LaunchConfig& config) {
  const char* k = "mxfp4";
  if (dst_dtype != DType::F32 && dst_dtype != DType::BF16)
    return gpu_error(Errc::gpu_unsupported, "mxfp4: the target must be F32 or BF16, not " + std::string(name(dst_dtype)));
  if (count % 2 != 0)
    return gpu_error(Errc::gpu_bad_argument, "mxfp4: " + std::to_string(count) + " F4 elements are not whole bytes");
  SFT_TRY_ASSIGN(auto c, normalized(Kernel::mxfp4, config));
  SFT_TRY_ASSIGN(auto out_bytes, times(k, count, element_size(dst_dtype)));
  SFT_TRY(check_span(k, "packed", packed.buffer, packed.offset, count / 2));
  SFT_TRY(check_span(k, "scales", scales.buffer, scales.offset, (count + 31) / 32));
  SFT_TRY(check_span(k, "destination", dst.buffer, dst.offset, out_bytes));
  SFT_TRY(check_aligned(k, "destination", dst.offset, element_size(dst_dtype)));
  if (count == 0) return done();
  const bool blocks = c.mapping >= 2;
  const std::uint64_t units = blocks ? (count + 31) / 32 : count;
  const std::uint64_t per_group = std::uint64_t{c.local_size} * c.items_per_thread * (blocks ? 1 : c.vector_width);
  const detail::LaunchFacts facts{0, code(dst_dtype), packed.offset % 4 == 0};
  return launch(q, Kernel::mxfp4, c, facts, group_dims(k, units, per_group, c),
                {KernelArg::in(packed.buffer), KernelArg::of_u64(packed.offset), KernelArg::in(scales.buffer),
                 KernelArg::of_u64(scales.offset), KernelArg::out(dst.buffer), KernelArg::of_u64(dst.offset),
                 KernelArg::of_u64(count), KernelArg::of_u32(code(dst_dtype))});
}

Result<Event> gemv(Queue& q, In w, DType w_dtype, In x, Out y, std::uint64_t rows, std::uint64_t cols,
                   const LaunchConfig& config) {
  const char* k = "gemv";
  if (w_dtype != DType::F32 && w_dtype != DType::F16 && w_dtype != DType::BF16)
    return gpu_error(Errc::gpu_unsupported, "gemv: W must be F32, F16 or BF16, not " + std::string(name(w_dtype)));
  SFT_TRY_ASSIGN(auto c, normalized(Kernel::gemv, config));
  SFT_TRY_ASSIGN(auto elems, times(k, rows, cols));
  SFT_TRY_ASSIGN(auto w_bytes, times(k, elems, element_size(w_dtype)));
  SFT_TRY_ASSIGN(auto x_bytes, times(k, cols, 4));
  SFT_TRY_ASSIGN(auto y_bytes, times(k, rows, 4));
  SFT_TRY(check_span(k, "W", w.buffer, w.offset, w_bytes));
  SFT_TRY(check_span(k, "x", x.buffer, x.offset, x_bytes));
  SFT_TRY(check_span(k, "y", y.buffer, y.offset, y_bytes));
  SFT_TRY(check_aligned(k, "y", y.offset, 4));
  if (rows == 0) return done();
  const std::uint64_t rows_per_group = std::uint64_t{c.local_size} / c.split * c.items_per_thread;
  const detail::LaunchFacts facts{code(w_dtype), 0, w.offset % element_size(w_dtype) == 0 && x.offset % 4 == 0};
  return launch(q, Kernel::gemv, c, facts, group_dims(k, rows, rows_per_group, c),
                {KernelArg::in(w.buffer), KernelArg::of_u64(w.offset), KernelArg::in(x.buffer),
                 KernelArg::of_u64(x.offset), KernelArg::out(y.buffer), KernelArg::of_u64(y.offset),
                 KernelArg::of_u64(rows), KernelArg::of_u64(cols), KernelArg::of_u32(code(w_dtype))});
}

Result<Event> checksum_blocks(Queue& q, In data, std::uint64_t n, Out hashes, std::uint64_t seed,
                              const LaunchConfig& config) {
  const char* k = "checksum";
  SFT_TRY_ASSIGN(auto c, normalized(Kernel::checksum, config));
  std::uint64_t blocks = checksum_block_count(n);
  SFT_TRY(check_span(k, "data", data.buffer, data.offset, n));
  SFT_TRY(check_span(k, "hashes", hashes.buffer, hashes.offset, blocks * 8));
  SFT_TRY(check_aligned(k, "hashes", hashes.offset, 8));
  const std::uint64_t blocks_per_group = std::uint64_t{c.local_size} / c.split * c.items_per_thread;
  return launch(q, Kernel::checksum, c, detail::LaunchFacts{0, 0, data.offset % 8 == 0},
                group_dims(k, blocks, blocks_per_group, c),
                {KernelArg::in(data.buffer), KernelArg::of_u64(data.offset), KernelArg::of_u64(n),
                 KernelArg::out(hashes.buffer), KernelArg::of_u64(hashes.offset), KernelArg::of_u64(seed)});
}

Result<std::uint64_t> device_digest(Queue& q, In data, std::uint64_t n, const LaunchConfig& config,
                                    std::vector<std::uint64_t>* level0) {
  if (!q.valid()) return gpu_error(Errc::gpu_bad_argument, "device_digest on an empty Queue");
  const Device device = q.device();
  // Level 0 into one buffer, then each level into the other, until one is left.
  std::uint64_t count = checksum_block_count(n);
  auto a = device.alloc(count * 8);
  SFT_TRY(a);
  auto b = device.alloc(checksum_block_count(count * 8) * 8);
  SFT_TRY(b);
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
