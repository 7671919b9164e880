// The kernels of kernels.inc compiled by nvcc. The host side (cuda_backend.cpp)
// looks them up by number and launches them with cudaLaunchKernel, whose
// argument array is built from the same checked argument list as the other
// backends use, so this file holds nothing but the kernels and their table.
#include "kernels/kernels.inc"

// The order of sft::gpu::Kernel.
extern "C" const void* sft_gpu_cuda_kernel(int k) {
  switch (k) {
    case 0: return reinterpret_cast<const void*>(&sft_convert);
    case 1: return reinterpret_cast<const void*>(&sft_mxfp4);
    case 2: return reinterpret_cast<const void*>(&sft_gemv);
    case 3: return reinterpret_cast<const void*>(&sft_checksum);
    default: return nullptr;
  }
}
