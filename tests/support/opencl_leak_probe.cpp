// opencl_leak_probe MODE — the leak check of tests/sanitizers/lsan.supp.
//
// Stands in for sft's OpenCL backend: creates a context, a queue, a program
// built from source, a kernel and a buffer, runs the kernel once (with an
// empty PoCL kernel cache this makes PoCL compile the kernel, on its own
// device thread), then releases everything, except what MODE leaks:
//   clean         nothing: under the suppressions LeakSanitizer must stay quiet
//   leak-program  the cl_program (and so its kernel's program reference)
//   leak-buffer   the cl_mem
// tests/sanitizers/lsan_opencl.cmake runs it under ASan and checks that the
// suppressions hide the runtime's own compile-time leaks but never these.
// Exit 0 when every OpenCL call succeeded, 77 when no OpenCL device exists,
// 1 on an OpenCL error; LeakSanitizer turns a reported leak into exit 23.
#include <CL/cl.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace {

const char* kSource = "__kernel void twice(__global int* v) { size_t i = get_global_id(0); v[i] = 2 * v[i]; }";

int check(cl_int e, const char* what) {
  if (e == CL_SUCCESS) return 0;
  std::fprintf(stderr, "opencl_leak_probe: %s failed: %d\n", what, e);
  return 1;
}

// Named functions, so that a leak report names the frame that made the object.
__attribute__((noinline)) cl_program probe_create_program(cl_context ctx, cl_device_id dev, cl_int* e) {
  cl_program p = clCreateProgramWithSource(ctx, 1, &kSource, nullptr, e);
  if (*e == CL_SUCCESS) *e = clBuildProgram(p, 1, &dev, "-cl-std=CL1.2", nullptr, nullptr);
  return p;
}

__attribute__((noinline)) cl_mem probe_create_buffer(cl_context ctx, std::size_t bytes, cl_int* e) {
  cl_mem m = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, nullptr, e);
  asm volatile("" ::: "memory");  // not a tail call: this frame stays on the allocation's stack
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || (std::strcmp(argv[1], "clean") != 0 && std::strcmp(argv[1], "leak-program") != 0 &&
                    std::strcmp(argv[1], "leak-buffer") != 0)) {
    std::fprintf(stderr, "usage: opencl_leak_probe clean|leak-program|leak-buffer\n");
    return 2;
  }
  const bool leak_program = std::strcmp(argv[1], "leak-program") == 0;
  const bool leak_buffer = std::strcmp(argv[1], "leak-buffer") == 0;

  cl_uint np = 0;
  if (clGetPlatformIDs(0, nullptr, &np) != CL_SUCCESS || np == 0) {
    std::fprintf(stderr, "skip: no OpenCL platform\n");
    return 77;
  }
  std::vector<cl_platform_id> platforms(np);
  if (check(clGetPlatformIDs(np, platforms.data(), nullptr), "clGetPlatformIDs")) return 1;
  cl_device_id dev = nullptr;
  for (cl_platform_id p : platforms)
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 1, &dev, nullptr) == CL_SUCCESS && dev) break;
  if (!dev) {
    std::fprintf(stderr, "skip: no OpenCL device\n");
    return 77;
  }

  cl_int e = CL_SUCCESS;
  cl_context ctx = clCreateContext(nullptr, 1, &dev, nullptr, nullptr, &e);
  if (check(e, "clCreateContext")) return 1;
  cl_command_queue q = clCreateCommandQueue(ctx, dev, 0, &e);
  if (check(e, "clCreateCommandQueue")) return 1;
  cl_program prog = probe_create_program(ctx, dev, &e);
  if (check(e, "building the program")) return 1;
  cl_kernel k = clCreateKernel(prog, "twice", &e);
  if (check(e, "clCreateKernel")) return 1;
  constexpr std::size_t n = 64;
  cl_mem buf = probe_create_buffer(ctx, n * sizeof(cl_int), &e);
  if (check(e, "clCreateBuffer")) return 1;

  std::vector<cl_int> host(n, 21);
  if (check(clEnqueueWriteBuffer(q, buf, CL_TRUE, 0, n * sizeof(cl_int), host.data(), 0, nullptr, nullptr),
            "clEnqueueWriteBuffer") ||
      check(clSetKernelArg(k, 0, sizeof buf, &buf), "clSetKernelArg"))
    return 1;
  const std::size_t global = n;
  if (check(clEnqueueNDRangeKernel(q, k, 1, nullptr, &global, nullptr, 0, nullptr, nullptr), "clEnqueueNDRangeKernel") ||
      check(clEnqueueReadBuffer(q, buf, CL_TRUE, 0, n * sizeof(cl_int), host.data(), 0, nullptr, nullptr),
            "clEnqueueReadBuffer") ||
      check(clFinish(q), "clFinish"))
    return 1;
  if (host[0] != 42 || host[n - 1] != 42) {
    std::fprintf(stderr, "opencl_leak_probe: the kernel computed %d, not 42\n", host[0]);
    return 1;
  }

  clReleaseKernel(k);
  if (!leak_buffer) clReleaseMemObject(buf);
  if (!leak_program) clReleaseProgram(prog);
  clReleaseCommandQueue(q);
  clReleaseContext(ctx);
  std::printf("opencl_leak_probe %s: done\n", argv[1]);
  return 0;
}
