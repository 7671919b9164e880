// src/integrity/xxh3_avx2.cpp — the XXH3 kernel compiled for AVX2 (x86-64 only).
//
// The instruction set is raised for a region of this file with a pragma
// rather than a compiler flag, so no build setting is needed; xxh3_kernel()
// only calls it on CPUs that report AVX2. Every header is included before the
// region opens (xxh3_prelude.hpp says why), the region is closed again at the
// end (push/pop on both compilers), and inside it only internal-linkage code
// is defined. ctest `xxh3_avx2_isolated` checks the object code.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include "integrity/xxh3_prelude.hpp"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif

#define XXH_VECTOR 2  // XXH_AVX2
#define SFT_XXH3_KERNEL xxh3_avx2
#define SFT_XXH3_NAME "avx2"
#include "integrity/xxh3_impl.inc"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif
