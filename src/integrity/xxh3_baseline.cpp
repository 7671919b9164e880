// src/integrity/xxh3_baseline.cpp — the XXH3 kernel for the build's own instruction set, and the dispatch.
#include "integrity/xxh3_prelude.hpp"

#define SFT_XXH3_KERNEL xxh3_baseline
#define SFT_XXH3_NAME "baseline"
#include "integrity/xxh3_impl.inc"

namespace sft::detail {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
extern const Xxh3Kernel xxh3_avx2;  // xxh3_avx2.cpp
#define SFT_XXH3_HAVE_AVX2 1
#endif

const Xxh3Kernel& xxh3_baseline_kernel() noexcept { return xxh3_baseline; }

const Xxh3Kernel& xxh3_kernel() noexcept {
  static const Xxh3Kernel* const chosen = [] {
#ifdef SFT_XXH3_HAVE_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return &xxh3_avx2;
#endif
    return &xxh3_baseline;
  }();
  return *chosen;
}

}  // namespace sft::detail
