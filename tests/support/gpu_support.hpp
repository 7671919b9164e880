// tests/support/gpu_support.hpp — helpers for the GPU layer's tests.
//
// Tests run on every backend built into sft_gpu (parameterised by name) and
// skip, saying why, where a backend has no device here.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "sft/gpu/device.hpp"
#include "test_support.hpp"

namespace sft::test {

// sft's kernel cache (compiled variants) goes to a fresh directory of this
// test process unless the test command chose one: a test never reads or
// fills the user's ~/.cache, and never passes because an earlier run left a
// warm cache behind.
struct GpuKernelCacheForTests {
  std::filesystem::path dir;
  GpuKernelCacheForTests() {
    const char* set = std::getenv("SFT_KERNEL_CACHE");
    if (set && *set) return;
    dir = temp_dir("kernel-cache");
    ::setenv("SFT_KERNEL_CACHE", dir.c_str(), 1);
  }
  ~GpuKernelCacheForTests() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
};
inline GpuKernelCacheForTests gpu_kernel_cache_for_tests;

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
