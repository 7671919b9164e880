// tests/support/gpu_support.hpp — helpers for the GPU layer's tests.
//
// Tests run on every backend built into sft_gpu (parameterised by name) and
// skip, saying why, where a backend has no device here, unless the test
// command requires that backend (SFT_REQUIRE_BACKENDS, require.hpp).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "require.hpp"
#include "sft/gpu/device.hpp"

namespace sft::test {

// Every backend name, built or not: the ones not built or without a device skip.
inline std::vector<std::string> gpu_backend_names() { return {"cpu", "opencl", "cuda"}; }

// Open the backend's first device, or the reason it cannot be opened.
inline sft::Result<sft::gpu::Device> open_gpu(const std::string& backend) { return sft::gpu::open_device(backend); }

}  // namespace sft::test

// In a TEST_P over gpu_backend_names(): open the device, or skip with the
// reason; a backend listed in SFT_REQUIRE_BACKENDS (require.hpp) fails instead.
#define SFT_OPEN_GPU_OR_SKIP(var, backend)                                                        \
  auto var##_result = ::sft::test::open_gpu(backend);                                             \
  if (!var##_result) {                                                                            \
    if (::sft::test::backend_required(backend))                                                   \
      GTEST_FAIL() << backend << " is required (SFT_REQUIRE_BACKENDS) but does not open: "        \
                   << var##_result.error().to_string();                                           \
    GTEST_SKIP() << backend << ": " << var##_result.error().to_string();                          \
  }                                                                                               \
  ::sft::gpu::Device var = std::move(*var##_result)
