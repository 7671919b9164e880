// src/integrity/xxh3_avx2.cpp — the XXH3 kernel compiled for AVX2 (x86-64 only).
//
// The instruction set is raised for this file alone with a pragma rather than
// a compiler flag, so no build setting is needed; xxh3_kernel() only calls it
// on CPUs that report AVX2. xxhash.h includes <immintrin.h> only when the
// compiler's own flags enable AVX2, hence the explicit include.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC target("avx2")
#endif

#include <immintrin.h>
#define XXH_VECTOR 2  // XXH_AVX2
#define SFT_XXH3_KERNEL xxh3_avx2
#define SFT_XXH3_NAME "avx2"
#include "integrity/xxh3_impl.inc"

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif
