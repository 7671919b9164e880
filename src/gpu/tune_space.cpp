// The variant spaces of the kernels (sft/gpu/tune.hpp, docs/gpu.md "Variants").
#include <algorithm>
#include <set>
#include <string>

#include "backend.hpp"
#include "sft/gpu/checksum.hpp"
#include "sft/gpu/tune.hpp"
#include "variant.hpp"

namespace sft::gpu {
namespace {

constexpr std::uint32_t kLocal[] = {32, 64, 128, 256, 512, 1024};
constexpr bool kBool[] = {false, true};

// Append c, normalized for kernel k, unless it is refused or already there.
void add(Kernel k, const LaunchConfig& c, std::vector<LaunchConfig>& out, std::set<std::string>& seen) {
  auto n = normalize_config(k, c);
  if (!n) return;
  if (seen.insert(config_string(*n)).second) out.push_back(*n);
}

std::vector<LaunchConfig> build(Kernel k) {
  std::vector<LaunchConfig> out;
  std::set<std::string> seen;
  switch (k) {
    case Kernel::convert:
      // work-group size x elements per item x contiguous run x mapping x dtypes fixed x typed loads
      for (auto l : kLocal)
        for (std::uint32_t e : {1u, 2u, 4u, 8u, 16u, 32u})
          for (std::uint32_t v : {1u, 2u, 4u, 8u})
            for (std::uint32_t m : {0u, 1u})
              for (bool s : kBool)
                for (bool w : kBool) add(k, LaunchConfig{l, e, v, m, 1, 1, 0, s, w}, out, seen);
      break;
    case Kernel::mxfp4:
      // element modes (0, 1: elements per item x run) and block modes (2, 3: blocks per item)
      for (auto l : kLocal)
        for (std::uint32_t m : {0u, 1u, 2u, 3u})
          for (std::uint32_t e : {1u, 2u, 4u, 8u, 16u, 32u})
            for (std::uint32_t v : {1u, 2u, 4u, 8u})
              for (bool s : kBool)
                for (bool w : kBool) add(k, LaunchConfig{l, e, v, m, 1, 1, 0, s, w}, out, seen);
      break;
    case Kernel::gemv:
      // work-group size x rows per item x partial sums x unroll x split-K (with its column
      // mapping and reduction) x W's dtype fixed x typed loads
      for (auto l : kLocal)
        for (std::uint32_t e : {1u, 2u, 4u})
          for (std::uint32_t v : {1u, 2u, 4u, 8u})
            for (std::uint32_t u : {1u, 4u})
              for (std::uint32_t sk : {1u, 4u, 16u, 64u})
                for (std::uint32_t m : {0u, 1u})
                  for (std::uint32_t r : {0u, 1u})
                    for (bool s : kBool)
                      for (bool w : kBool) add(k, LaunchConfig{l, e, v, m, u, sk, r, s, w}, out, seen);
      break;
    case Kernel::checksum:
      // work-group size x blocks per item x mapping x unroll x items per block x typed loads
      for (auto l : kLocal)
        for (std::uint32_t e : {1u, 2u, 4u, 8u})
          for (std::uint32_t m : {0u, 1u})
            for (std::uint32_t u : {1u, 2u, 4u, 8u})
              for (std::uint32_t sk : {1u, 2u, 4u})
                for (bool w : kBool) add(k, LaunchConfig{l, e, 1, m, u, sk, 0, false, w}, out, seen);
      break;
  }
  return out;
}

// Local memory a variant needs (its compiled-in arrays).
std::uint64_t local_bytes(Kernel k, const LaunchConfig& c) {
  if (c.split <= 1) return 0;
  if (k == Kernel::gemv) return std::uint64_t{c.local_size} * c.items_per_thread * 4;
  if (k == Kernel::checksum) return std::uint64_t{c.local_size} / c.split * 4 * 8;
  return 0;
}

bool source_is_wide(const TuneKey& key) {
  return key.kernel == Kernel::mxfp4 || key.kernel == Kernel::checksum || element_size(key.in) >= 2;
}

}  // namespace

const std::vector<LaunchConfig>& candidates(Kernel k) {
  static const std::vector<LaunchConfig> spaces[kernel_count] = {build(Kernel::convert), build(Kernel::mxfp4),
                                                                  build(Kernel::gemv), build(Kernel::checksum)};
  static const std::vector<LaunchConfig> none;
  auto i = static_cast<std::size_t>(k);
  return i < std::size(spaces) ? spaces[i] : none;
}

std::vector<LaunchConfig> config_space(const Device& device, const TuneKey& key, const TuneOptions& options) {
  std::vector<LaunchConfig> out;
  if (!device.valid()) return out;
  const DeviceInfo& info = device.info();
  const detail::DeviceImpl* impl = detail::Access::impl(device);
  const bool builds = impl->builds_variants();
  const bool wide_ok = source_is_wide(key) && info.little_endian;
  const detail::LaunchFacts facts{static_cast<std::uint32_t>(key.in), static_cast<std::uint32_t>(key.out), true};
  for (const LaunchConfig& c : candidates(key.kernel)) {
    if (c.local_size > info.max_work_group_size) continue;
    if (local_bytes(key.kernel, c) > info.local_memory) continue;
    if (c.wide_loads && !wide_ok) continue;
    if (!builds) {
      // The CPU backend runs an item kernel's items in a loop: its work-group
      // size only rounds the index space, so one size (the default's) is enough.
      if (info.backend == Backend::cpu && !detail::is_group_kernel(key.kernel) &&
          c.local_size != default_config(key.kernel).local_size)
        continue;
      if (!impl->has_variant(key.kernel, detail::variant_of(key.kernel, c, facts))) continue;
    }
    if (options.restrict_space && !options.restrict_space(c)) continue;
    out.push_back(c);
  }
  for (const LaunchConfig& c : options.extra_candidates)
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  return out;
}

std::uint64_t config_space_hash(std::span<const LaunchConfig> space) {
  std::string s = "sft-config-space-1";
  for (const LaunchConfig& c : space) {
    s += '|';
    s += config_string(c);
  }
  return digest(std::as_bytes(std::span(s.data(), s.size())));
}

}  // namespace sft::gpu
