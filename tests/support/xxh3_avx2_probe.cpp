// tests/support/xxh3_avx2_probe.cpp — object code for ctest xxh3_avx2_isolated.
//
// The AVX2 kernel's translation unit as it is, followed by code that must be
// compiled for the baseline instruction set: a standard library template
// (defined by a header that unit includes) instantiated with external
// linkage, and a plain function after the unit. If the unit's AVX2 target
// region covered a header, or were not closed, these would come out
// AVX-encoded, as would any inline function the linker may pick for the
// whole program. tests/py/check_avx2_isolation.py reads the object.
#include "integrity/xxh3_avx2.cpp"

#include <algorithm>

template float* std::fill_n<float*, int, float>(float*, int, const float&);

extern "C" void sft_xxh3_probe_after(float* a, const float* b, int n) {
  for (int i = 0; i < n; ++i) a[i] = a[i] * 3.0f + b[i];
}
