/* src/gpu/kernels/portable.h — the portable kernel subset.
 *
 * The kernels in kernels.inc are written once against the macros below and
 * compiled three ways:
 *   - as OpenCL C: the text of this file and kernels.inc is embedded into the
 *     library at build time (embed_kernels.cmake) and built with clBuildProgram,
 *     once per variant (see "Variants");
 *   - as CUDA: cuda_kernels.cu includes both files and instantiates a fixed set
 *     of variants; NVRTC compiles the embedded text at run time for the others;
 *   - as C++: cpu_kernels.cpp includes both files inside a namespace,
 *     instantiates a fixed set of variants, and runs each kernel in a loop over
 *     the index space.
 *
 * The subset, so that one text means the same thing everywhere:
 *   - types u8 u16 u32 u64 i32 f32 only (u64 is 64 bits in all three);
 *   - device memory is addressed as bytes (GLOBAL const u8* plus a byte offset),
 *     because safetensors does not align its tensors; inputs are read with the
 *     byte-assembling loads below (or typed loads in variants compiled for
 *     aligned offsets), outputs are stored through typed pointers at offsets
 *     the host wrappers have checked for alignment;
 *   - floating-point formats are converted with integer operations only, so the
 *     results do not depend on a device flushing subnormals to zero;
 *   - two kinds of kernel:
 *       item kernels (SFT_KERNEL, first parameter SFT_ITEM): work items never
 *         wait for one another, read their position with SFT_GID / SFT_GSIZE,
 *         and may run in any order (the CPU backend runs them one by one);
 *       group kernels (SFT_GROUP_KERNEL, first parameter SFT_GROUP): the body
 *         is a sequence of phases, SFT_ITEMS_BEGIN ... SFT_ITEMS_END, separated
 *         by SFT_BARRIER, in uniform control flow. Inside a phase each work
 *         item runs (SFT_LID, SFT_GROUP_ID); on a GPU a phase is the items'
 *         code between two barriers, on the CPU a loop over the group's items.
 *         Values that cross a barrier live in SFT_LOCAL_ARRAY (work-group local
 *         memory), declared at the top of the kernel; a variable declared in a
 *         phase dies at its end; no `return` inside a phase;
 *   - Variants: every kernel takes its tuning parameters at run time (a packed
 *     u32 `cfg` argument) and reads them through SFT_V, the same parameters
 *     fixed at compile time: 0 in the generic build (everything from `cfg`),
 *     nonzero in a compiled variant, where every parameter is a constant and
 *     the compiler specialises the code. SFT_V is a preprocessor macro in
 *     OpenCL C and NVRTC builds (-DSFT_V=...) and a template parameter of each
 *     kernel in the C++ and nvcc builds.
 * Written as C (OpenCL C 1.2 is C99): no references, templates or overloads
 * in kernels.inc itself.
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
/* Every helper inlined: a variant's constants must reach inside them. */
#define SFT_FN static inline __attribute__((always_inline))
#define GLOBAL __global
#define SFT_ITEM
#define SFT_GID ((u64)get_global_id(0))
#define SFT_GSIZE ((u64)get_global_size(0))
#define SFT_AS_F32(u) as_float(u)
#define SFT_AS_U32(f) as_uint(f)
#define SFT_V_IS_MACRO 1
#define SFT_GROUP_KERNEL __kernel void
#define SFT_GROUP
#define SFT_LID ((u32)get_local_id(0))
#define SFT_LSIZE_RT ((u32)get_local_size(0))
#define SFT_GROUP_ID ((u64)get_group_id(0))
#define SFT_NGROUPS ((u64)get_num_groups(0))
#define SFT_LOCAL_ARRAY(type, name, n) __local type name[n]
#define SFT_ITEMS_BEGIN {
#define SFT_ITEMS_END }
#define SFT_BARRIER barrier(CLK_LOCAL_MEM_FENCE)

#elif defined(__CUDACC__)
/* -------------------------------------------------------------------- CUDA */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef int i32;
typedef float f32;
#if defined(__CUDACC_RTC__)
/* NVRTC: one variant per compilation, its parameters in -DSFT_V=...; the
 * entry points keep their C names so that the backend finds them by name. */
#define SFT_V_IS_MACRO 1
#define SFT_KERNEL extern "C" __global__ void
#else
/* nvcc: each kernel a template on SFT_V; cuda_kernels.cu instantiates a set. */
#define SFT_KERNEL template <u64 SFT_V> __global__ void
#endif
#define SFT_GROUP_KERNEL SFT_KERNEL
#define SFT_FN static __device__ __forceinline__
#define GLOBAL
#define SFT_ITEM
#define SFT_GROUP
#define SFT_GID ((u64)blockIdx.x * (u64)blockDim.x + (u64)threadIdx.x)
#define SFT_GSIZE ((u64)gridDim.x * (u64)blockDim.x)
#define SFT_LID ((u32)threadIdx.x)
#define SFT_LSIZE_RT ((u32)blockDim.x)
#define SFT_GROUP_ID ((u64)blockIdx.x)
#define SFT_NGROUPS ((u64)gridDim.x)
#define SFT_LOCAL_ARRAY(type, name, n) __shared__ type name[n]
#define SFT_ITEMS_BEGIN {
#define SFT_ITEMS_END }
#define SFT_BARRIER __syncthreads()
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
/* The position of one work item, or of one work group; the CPU backend
 * passes it explicitly and runs a group's items one after the other. */
struct sft_item {
  u64 gid;
  u64 gsize;
};
struct sft_group {
  u64 group;
  u64 ngroups;
  u32 lsize;
};
#define SFT_KERNEL template <u64 SFT_V> inline void
#define SFT_GROUP_KERNEL SFT_KERNEL
/* Every helper inlined: a variant's constants must reach inside them. */
#define SFT_FN [[gnu::always_inline]] inline
#define GLOBAL
#define SFT_ITEM const sft_item sft_item_,
#define SFT_GROUP const sft_group sft_group_,
#define SFT_GID (sft_item_.gid)
#define SFT_GSIZE (sft_item_.gsize)
#define SFT_LID sft_lid_
#define SFT_LSIZE_RT (sft_group_.lsize)
#define SFT_GROUP_ID (sft_group_.group)
#define SFT_NGROUPS (sft_group_.ngroups)
#define SFT_LOCAL_ARRAY(type, name, n) type name[n]
#define SFT_ITEMS_BEGIN for (u32 sft_lid_ = 0; sft_lid_ < sft_group_.lsize; ++sft_lid_) {
#define SFT_ITEMS_END }
#define SFT_BARRIER ((void)0)
#define SFT_AS_F32(u) std::bit_cast<f32>(static_cast<u32>(u))
#define SFT_AS_U32(f) std::bit_cast<u32>(static_cast<f32>(f))
#endif

/* In the builds where SFT_V is a macro, a build without -DSFT_V is the generic one. */
#if defined(SFT_V_IS_MACRO) && !defined(SFT_V)
#define SFT_V 0UL
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
