/* src/gpu/kernels/portable.h — the portable kernel subset.
 *
 * The kernels in kernels.inc are written once against the macros below and
 * compiled three ways:
 *   - as OpenCL C: the text of this file and kernels.inc is embedded into the
 *     library at build time (embed_kernels.cmake) and built with clBuildProgram;
 *   - as CUDA: cuda_kernels.cu includes both files;
 *   - as C++: cpu_kernels.cpp includes both files inside a namespace and runs
 *     each kernel in a loop over the index space.
 *
 * The subset, so that one text means the same thing everywhere:
 *   - types u8 u16 u32 u64 i32 f32 only (u64 is 64 bits in all three);
 *   - no local/shared memory and no barriers: a work item never waits for another,
 *     so the CPU backend may run items in any order;
 *   - device memory is addressed as bytes (GLOBAL const u8* plus a byte offset),
 *     because safetensors does not align its tensors; inputs are read with the
 *     byte-assembling loads below, outputs are stored through typed pointers at
 *     offsets the host wrappers have checked for alignment;
 *   - floating-point formats are converted with integer operations only, so the
 *     results do not depend on a device flushing subnormals to zero;
 *   - SFT_KERNEL functions take SFT_ITEM as their first (invisible) parameter
 *     and read their position with SFT_GID / SFT_GSIZE.
 * Written as C (OpenCL C 1.2 is C99): no references, templates or overloads.
 */
#ifndef SFT_GPU_PORTABLE_H
#define SFT_GPU_PORTABLE_H

#if defined(__OPENCL_VERSION__)
/* ---------------------------------------------------------------- OpenCL C */
typedef uchar u8;
typedef ushort u16;
typedef uint u32;
typedef ulong u64;
typedef int i32;
typedef float f32;
#define SFT_KERNEL __kernel void
#define SFT_FN static inline
#define GLOBAL __global
#define SFT_ITEM
#define SFT_GID ((u64)get_global_id(0))
#define SFT_GSIZE ((u64)get_global_size(0))
#define SFT_AS_F32(u) as_float(u)
#define SFT_AS_U32(f) as_uint(f)

#elif defined(__CUDACC__)
/* -------------------------------------------------------------------- CUDA */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef int i32;
typedef float f32;
#define SFT_KERNEL extern "C" __global__ void
#define SFT_FN static __device__ __forceinline__
#define GLOBAL
#define SFT_ITEM
#define SFT_GID ((u64)blockIdx.x * (u64)blockDim.x + (u64)threadIdx.x)
#define SFT_GSIZE ((u64)gridDim.x * (u64)blockDim.x)
#define SFT_AS_F32(u) __uint_as_float(u)
#define SFT_AS_U32(f) __float_as_uint(f)

#else
/* -------------------------------------------------------- C++ (CPU backend) */
typedef std::uint8_t u8;
typedef std::uint16_t u16;
typedef std::uint32_t u32;
typedef std::uint64_t u64;
typedef std::int32_t i32;
typedef float f32;
/* The position of one work item; the CPU backend passes it explicitly. */
struct sft_item {
  u64 gid;
  u64 gsize;
};
#define SFT_KERNEL inline void
#define SFT_FN inline
#define GLOBAL
#define SFT_ITEM const sft_item sft_item_,
#define SFT_GID (sft_item_.gid)
#define SFT_GSIZE (sft_item_.gsize)
#define SFT_AS_F32(u) std::bit_cast<f32>(static_cast<u32>(u))
#define SFT_AS_U32(f) std::bit_cast<u32>(static_cast<f32>(f))
#endif

/* Little-endian loads from byte addresses of any alignment. */
SFT_FN u32 sft_load_u16(GLOBAL const u8* p) { return (u32)p[0] | ((u32)p[1] << 8); }
SFT_FN u32 sft_load_u32(GLOBAL const u8* p) {
  return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24);
}
SFT_FN u64 sft_load_u64(GLOBAL const u8* p) {
  return (u64)sft_load_u32(p) | ((u64)sft_load_u32(p + 4) << 32);
}

#endif /* SFT_GPU_PORTABLE_H */
