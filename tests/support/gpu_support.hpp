// tests/support/gpu_support.hpp — helpers for the GPU layer's tests.
//
// Tests run on every backend built into sft_gpu (parameterised by name) and
// skip, saying why, where a backend has no device here.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sft/gpu/device.hpp"

namespace sft::test {

// Every backend name, built or not: the ones not built or without a device skip.
inline std::vector<std::string> gpu_backend_names() { return {"cpu", "opencl", "cuda"}; }

// Open the backend's first device, or the reason it cannot be opened.
inline sft::Result<sft::gpu::Device> open_gpu(const std::string& backend) { return sft::gpu::open_device(backend); }

}  // namespace sft::test

// In a TEST_P over gpu_backend_names(): open the device or skip with the reason.
#define SFT_OPEN_GPU_OR_SKIP(var, backend)                                                        \
  auto var##_result = ::sft::test::open_gpu(backend);                                             \
  if (!var##_result) GTEST_SKIP() << backend << ": " << var##_result.error().to_string();         \
  ::sft::gpu::Device var = std::move(*var##_result)
