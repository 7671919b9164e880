// tests/support/gpu_support.hpp — helpers for the GPU layer's tests.
//
// Tests run on every backend built into sft_gpu (parameterised by name) and
// skip, saying why, where a backend has no device here, unless the test
// command requires that backend (SFT_REQUIRE_BACKENDS, require.hpp).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "require.hpp"
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
