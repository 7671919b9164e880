// src/integrity/xxh3_prelude.hpp — everything an XXH3 kernel TU includes, outside any target region (internal).
//
// xxh3_avx2.cpp compiles its kernel for AVX2 by raising the target for a
// region of the file. Anything with external or inline linkage defined
// inside that region (a standard library template, an inline function of an
// sft header) would be compiled for AVX2 too and emitted as a weak symbol
// that the linker may pick for the whole program: a latent SIGILL on CPUs
// without AVX2. So every header, the standard library's, xxhash.h's own
// system headers, the intrinsics and sft's, is included here, before the
// region opens; inside it only xxhash.h's code (static under XXH_INLINE_ALL)
// and the kernel's own internal functions are defined. xxh3_impl.inc
// refuses to compile without this prelude.
#pragma once

#include <assert.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cassert>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>  // the intrinsics carry their own target attributes
#endif

#include "integrity/xxh3.hpp"
#include "sft/digest.hpp"

#define SFT_XXH3_PRELUDE_INCLUDED 1
