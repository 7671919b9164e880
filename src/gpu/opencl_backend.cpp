// The OpenCL backend, through the ICD loader (OpenCL 1.2 API): any platform
// installed on the machine, e.g. PoCL on the CPU. Each kernel variant is its
// own program, built from the embedded kernel source with -D options on first
// use, once per device (the device keeps the most recently used programs),
// and kept as a binary in sft's kernel cache (kernel_cache.hpp) for later
// processes; PoCL keeps its own cache below that, of the code it generates per
// work-group size. Every queue makes its own cl_kernel objects
// (clSetKernelArg is not thread-safe).
#include <CL/cl.h>

#include <cstdio>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "kernel_cache.hpp"

namespace sft::gpu::detail {
namespace {

std::string cl_code_name(cl_int e) {
  switch (e) {
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "OpenCL error " + std::to_string(e);
  }
}

Error cl_error(const char* what, cl_int e) {
  Errc code = Errc::gpu_driver;
  if (e == CL_MEM_OBJECT_ALLOCATION_FAILURE || e == CL_OUT_OF_RESOURCES || e == CL_OUT_OF_HOST_MEMORY)
    code = Errc::gpu_out_of_memory;
  else if (e == CL_INVALID_WORK_GROUP_SIZE || e == CL_INVALID_KERNEL_ARGS || e == CL_INVALID_GLOBAL_WORK_SIZE)
    code = Errc::gpu_launch;
  else if (e == CL_INVALID_BUFFER_SIZE)
    code = Errc::gpu_bad_argument;
  return gpu_error(code, std::string(what) + ": " + cl_code_name(e));
}

// A string property (clGetDeviceInfo, clGetPlatformInfo): ask its size, then it.
template <class Object, class Param>
std::string info_string(cl_int (*get)(Object, Param, size_t, void*, size_t*), Object o, Param what) {
  size_t n = 0;
  if (get(o, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
  std::string s(n, '\0');
  if (get(o, what, n, s.data(), nullptr) != CL_SUCCESS) return {};
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}
std::string device_string(cl_device_id d, cl_device_info what) { return info_string(&clGetDeviceInfo, d, what); }
std::string platform_string(cl_platform_id p, cl_platform_info what) { return info_string(&clGetPlatformInfo, p, what); }

template <class T> T device_value(cl_device_id d, cl_device_info what) {
  T v{};
  if (clGetDeviceInfo(d, what, sizeof v, &v, nullptr) != CL_SUCCESS) return T{};
  return v;
}

struct Found {
  cl_platform_id platform;
  cl_device_id device;
};

// Every device of every platform, in platform order.
Result<std::vector<Found>> find_devices() {
  cl_uint np = 0;
  cl_int e = clGetPlatformIDs(0, nullptr, &np);
  if (e == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (e == CL_SUCCESS && np == 0))
    return gpu_error(Errc::gpu_no_device,
                     "no OpenCL platform found (install an ICD, e.g. the pocl-opencl-icd package)");
  if (e != CL_SUCCESS) return cl_error("clGetPlatformIDs", e);
  std::vector<cl_platform_id> platforms(np);
  if ((e = clGetPlatformIDs(np, platforms.data(), nullptr)) != CL_SUCCESS) return cl_error("clGetPlatformIDs", e);
  std::vector<Found> out;
  for (cl_platform_id p : platforms) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &nd) != CL_SUCCESS || nd == 0) continue;
    std::vector<cl_device_id> devs(nd);
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, devs.data(), nullptr) != CL_SUCCESS) continue;
    for (cl_device_id d : devs) out.push_back({p, d});
  }
  if (out.empty()) return gpu_error(Errc::gpu_no_device, "OpenCL platforms found, but no device on any of them");
  return out;
}

DeviceInfo describe(const Found& f, unsigned index) {
  DeviceInfo i;
  i.backend = Backend::opencl;
  i.index = index;
  i.name = device_string(f.device, CL_DEVICE_NAME);
  i.vendor = device_string(f.device, CL_DEVICE_VENDOR);
  i.driver_version = device_string(f.device, CL_DRIVER_VERSION);
  i.platform = platform_string(f.platform, CL_PLATFORM_NAME) + " (" + device_string(f.device, CL_DEVICE_VERSION) + ")";
  i.global_memory = device_value<cl_ulong>(f.device, CL_DEVICE_GLOBAL_MEM_SIZE);
  i.max_allocation = device_value<cl_ulong>(f.device, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  i.compute_units = device_value<cl_uint>(f.device, CL_DEVICE_MAX_COMPUTE_UNITS);
  i.max_work_group_size = static_cast<unsigned>(device_value<size_t>(f.device, CL_DEVICE_MAX_WORK_GROUP_SIZE));
  i.host_unified = device_value<cl_bool>(f.device, CL_DEVICE_HOST_UNIFIED_MEMORY) == CL_TRUE;
  i.little_endian = device_value<cl_bool>(f.device, CL_DEVICE_ENDIAN_LITTLE) == CL_TRUE;
  i.local_memory = device_value<cl_ulong>(f.device, CL_DEVICE_LOCAL_MEM_SIZE);
  return i;
}

class ClEvent final : public EventImpl {
 public:
  explicit ClEvent(cl_event e) : e_(e) {}
  ~ClEvent() override { clReleaseEvent(e_); }
  ClEvent(const ClEvent&) = delete;
  ClEvent& operator=(const ClEvent&) = delete;

  Result<void> wait() override {
    cl_int e = clWaitForEvents(1, &e_);
    cl_int status = CL_COMPLETE;
    clGetEventInfo(e_, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr);
    if (status < 0) return cl_error("command failed", status);
    if (e != CL_SUCCESS) return cl_error("clWaitForEvents", e);
    return {};
  }
  Result<bool> ready() override {
    cl_int status = CL_QUEUED;
    cl_int e = clGetEventInfo(e_, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr);
    if (e != CL_SUCCESS) return cl_error("clGetEventInfo", e);
    if (status < 0) return cl_error("command failed", status);
    return status == CL_COMPLETE;
  }
  Result<double> seconds() override {
    if (auto w = wait(); !w) return w.error();
    cl_ulong start = 0, end = 0;
    cl_int e1 = clGetEventProfilingInfo(e_, CL_PROFILING_COMMAND_START, sizeof start, &start, nullptr);
    cl_int e2 = clGetEventProfilingInfo(e_, CL_PROFILING_COMMAND_END, sizeof end, &end, nullptr);
    if (e1 != CL_SUCCESS || e2 != CL_SUCCESS || end < start)
      return gpu_error(Errc::gpu_unsupported, "no profiling information for this OpenCL command");
    return static_cast<double>(end - start) * 1e-9;
  }

 private:
  cl_event e_;
};

class ClDevice;

class ClQueue final : public QueueImpl {
 public:
  ClQueue(ClDevice& dev, cl_command_queue q) : dev_(dev), q_(q) {}
  ~ClQueue() override {
    clFinish(q_);
    for (auto& [key, k] : kernels_) clReleaseKernel(k);
    clReleaseCommandQueue(q_);
  }
  ClQueue(const ClQueue&) = delete;
  ClQueue& operator=(const ClQueue&) = delete;

  Result<EventPtr> write(void* dst, std::uint64_t off, const void* src, std::uint64_t n) override {
    cl_event ev = nullptr;
    cl_int e = clEnqueueWriteBuffer(q_, static_cast<cl_mem>(dst), CL_FALSE, off, n, src, 0, nullptr, &ev);
    return done("clEnqueueWriteBuffer", e, ev);
  }
  Result<EventPtr> read(void* src, std::uint64_t off, void* dst, std::uint64_t n) override {
    cl_event ev = nullptr;
    cl_int e = clEnqueueReadBuffer(q_, static_cast<cl_mem>(src), CL_FALSE, off, n, dst, 0, nullptr, &ev);
    return done("clEnqueueReadBuffer", e, ev);
  }
  Result<EventPtr> copy(void* src, std::uint64_t so, void* dst, std::uint64_t doff, std::uint64_t n) override {
    cl_event ev = nullptr;
    cl_int e = clEnqueueCopyBuffer(q_, static_cast<cl_mem>(src), static_cast<cl_mem>(dst), so, doff, n, 0, nullptr, &ev);
    return done("clEnqueueCopyBuffer", e, ev);
  }
  Result<std::byte*> map_for_write(void* buffer, std::uint64_t off, std::uint64_t n) override {
    cl_int e = CL_SUCCESS;
    void* p = clEnqueueMapBuffer(q_, static_cast<cl_mem>(buffer), CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, off, n, 0,
                                 nullptr, nullptr, &e);
    if (e != CL_SUCCESS || !p) return cl_error("clEnqueueMapBuffer", e);
    return static_cast<std::byte*>(p);
  }
  Result<void> unmap(void* buffer, std::byte* mapped) override {
    cl_int e = clEnqueueUnmapMemObject(q_, static_cast<cl_mem>(buffer), mapped, 0, nullptr, nullptr);
    if (e != CL_SUCCESS) return cl_error("clEnqueueUnmapMemObject", e);
    return {};
  }
  Result<EventPtr> launch(Kernel k, const LaunchDims& dims, std::span<const RawArg> args,
                          std::uint64_t variant) override;
  Result<void> finish() override {
    cl_int e = clFinish(q_);
    if (e != CL_SUCCESS) return cl_error("clFinish", e);
    return {};
  }

 private:
  Result<EventPtr> done(const char* what, cl_int e, cl_event ev) {
    if (e != CL_SUCCESS) return cl_error(what, e);
    return EventPtr(std::make_shared<ClEvent>(ev));
  }
  Result<cl_kernel> kernel(Kernel k, std::uint64_t variant);

  ClDevice& dev_;
  cl_command_queue q_;
  // The kernel objects of this queue, most recently used first (a bounded
  // number: a tuning run launches hundreds of variants).
  static constexpr std::size_t max_kernels = 64;
  std::list<std::pair<std::pair<Kernel, std::uint64_t>, cl_kernel>> kernels_;
};

class ClDevice final : public DeviceImpl {
 public:
  ClDevice(const Found& f, unsigned index, cl_context ctx, cl_command_queue host_q)
      : device_(f.device), ctx_(ctx), host_q_(host_q) {
    info_ = describe(f, index);
  }
  ~ClDevice() override {
    for (auto& [key, p] : programs_)
      if (p.program) clReleaseProgram(p.program);
    clReleaseCommandQueue(host_q_);
    clReleaseContext(ctx_);
  }
  ClDevice(const ClDevice&) = delete;
  ClDevice& operator=(const ClDevice&) = delete;

  Result<void*> alloc(std::uint64_t bytes) override {
    cl_int e = CL_SUCCESS;
    cl_mem m = clCreateBuffer(ctx_, CL_MEM_READ_WRITE, bytes, nullptr, &e);
    if (e != CL_SUCCESS || !m) return cl_error("clCreateBuffer", e);
    return static_cast<void*>(m);
  }
  void free(void* h) noexcept override { clReleaseMemObject(static_cast<cl_mem>(h)); }

  // Pinned memory, the portable way: a buffer the driver allocates in host
  // memory (CL_MEM_ALLOC_HOST_PTR), mapped for as long as it lives.
  Result<HostAllocation> alloc_host(std::uint64_t bytes) override {
    cl_int e = CL_SUCCESS;
    cl_mem m = clCreateBuffer(ctx_, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes, nullptr, &e);
    if (e != CL_SUCCESS || !m) return cl_error("clCreateBuffer(CL_MEM_ALLOC_HOST_PTR)", e);
    std::lock_guard lock(host_q_mutex_);
    void* p = clEnqueueMapBuffer(host_q_, m, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, bytes, 0, nullptr, nullptr, &e);
    if (e != CL_SUCCESS || !p) {
      clReleaseMemObject(m);
      return cl_error("clEnqueueMapBuffer", e);
    }
    return HostAllocation{static_cast<std::byte*>(p), m};
  }
  void free_host(const HostAllocation& a) noexcept override {
    std::lock_guard lock(host_q_mutex_);
    clEnqueueUnmapMemObject(host_q_, static_cast<cl_mem>(a.handle), a.data, 0, nullptr, nullptr);
    clFinish(host_q_);
    clReleaseMemObject(static_cast<cl_mem>(a.handle));
  }

  Result<std::unique_ptr<QueueImpl>> create_queue() override {
    cl_int e = CL_SUCCESS;
    cl_command_queue q = clCreateCommandQueue(ctx_, device_, CL_QUEUE_PROFILING_ENABLE, &e);
    if (e != CL_SUCCESS || !q) return cl_error("clCreateCommandQueue", e);
    return std::unique_ptr<QueueImpl>(std::make_unique<ClQueue>(*this, q));
  }

  bool builds_variants() const noexcept override { return true; }

  // The program of one variant of one kernel: built on first use (from sft's
  // kernel cache where it holds the binary, else from source), then kept.
  Result<cl_program> program(Kernel k, std::uint64_t variant) {
    std::lock_guard lock(program_mutex_);
    const auto key = std::make_pair(k, variant);
    auto it = programs_.find(key);
    if (it != programs_.end()) {
      it->second.last_use = ++tick_;
      if (!it->second.program) return it->second.error;
      return it->second.program;
    }
    evict_programs();
    Built& b = programs_[key];
    b.last_use = ++tick_;
    auto built = build(k, variant);
    if (!built) {
      b.error = built.error();
      return b.error;
    }
    b.program = *built;
    return b.program;
  }

 private:
  struct Built {
    cl_program program = nullptr;
    Error error;  // why it did not build (not retried)
    std::uint64_t last_use = 0;
  };

  static std::string options(Kernel k, std::uint64_t variant) {
    // -w: a variant's constant conditions draw warnings that some drivers print on stderr.
    std::string o = "-cl-std=CL1.2 -w -DSFT_ONLY=" + std::to_string(static_cast<int>(k));
    if (variant != 0) {
      char v[48];
      std::snprintf(v, sizeof v, " -DSFT_V=0x%016llxUL", static_cast<unsigned long long>(variant));
      o += v;
    }
    return o;
  }

  // What makes a binary what it is: the device, its driver, the source, the options.
  std::string cache_key(const std::string& opts) const {
    char h[20];
    std::snprintf(h, sizeof h, "%016llx", static_cast<unsigned long long>(kernel_source_hash()));
    return "opencl\n" + info_.platform + "\n" + info_.name + "\n" + info_.driver_version + "\n" + h + "\n" + opts;
  }

  Result<void> build_program(cl_program p, const std::string& opts) {
    cl_int e = clBuildProgram(p, 1, &device_, opts.c_str(), nullptr, nullptr);
    if (e == CL_SUCCESS) return {};
    size_t n = 0;
    clGetProgramBuildInfo(p, device_, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
    std::string log(n, '\0');
    if (n) clGetProgramBuildInfo(p, device_, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
    while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
    if (log.size() > 2000) log.resize(2000);
    return gpu_error(Errc::gpu_driver, "clBuildProgram(" + opts + "): " + cl_code_name(e) + ": " + log);
  }

  // The program's binary, for the kernel cache (empty if the driver gives none).
  std::vector<std::byte> binary_of(cl_program p) {
    size_t size = 0;
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr) != CL_SUCCESS || size == 0 ||
        size > kernel_cache_max_entry_bytes)
      return {};
    std::vector<std::byte> bin(size);
    unsigned char* ptr = reinterpret_cast<unsigned char*>(bin.data());
    if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof ptr, &ptr, nullptr) != CL_SUCCESS) return {};
    return bin;
  }

  Result<cl_program> build(Kernel k, std::uint64_t variant) {
    const std::string opts = options(k, variant);
    auto load = [&](std::span<const std::byte> bin) -> std::optional<cl_program> {
      const auto* bytes = reinterpret_cast<const unsigned char*>(bin.data());
      size_t len = bin.size();
      cl_int status = CL_SUCCESS, e = CL_SUCCESS;
      cl_program p = clCreateProgramWithBinary(ctx_, 1, &device_, &len, &bytes, &status, &e);
      if (e == CL_SUCCESS && status == CL_SUCCESS && p && build_program(p, opts)) return p;
      if (p) clReleaseProgram(p);
      return std::nullopt;
    };
    auto from_source = [&]() -> Result<std::pair<cl_program, std::vector<std::byte>>> {
      std::string_view src = kernel_source();
      const char* text = src.data();
      size_t len = src.size();
      cl_int e = CL_SUCCESS;
      cl_program p = clCreateProgramWithSource(ctx_, 1, &text, &len, &e);
      if (e != CL_SUCCESS || !p) return cl_error("clCreateProgramWithSource", e);
      if (auto r = build_program(p, opts); !r) {
        clReleaseProgram(p);
        return r.error();
      }
      return std::make_pair(p, binary_of(p));
    };
    return cached_build<cl_program>(*this, cache_key(opts), load, from_source);
  }

  // Keep at most max_programs programs, dropping the least recently used
  // (kernel objects made from one keep it alive until they go).
  void evict_programs() {
    while (programs_.size() >= max_programs) {
      auto oldest = programs_.begin();
      for (auto it = programs_.begin(); it != programs_.end(); ++it)
        if (it->second.last_use < oldest->second.last_use) oldest = it;
      if (oldest->second.program) clReleaseProgram(oldest->second.program);
      programs_.erase(oldest);
    }
  }

  static constexpr std::size_t max_programs = 256;
  cl_device_id device_;
  cl_context ctx_;
  cl_command_queue host_q_;  // maps pinned host buffers
  std::mutex host_q_mutex_;
  std::mutex program_mutex_;
  std::map<std::pair<Kernel, std::uint64_t>, Built> programs_;
  std::uint64_t tick_ = 0;
};

Result<cl_kernel> ClQueue::kernel(Kernel k, std::uint64_t variant) {
  const auto key = std::make_pair(k, variant);
  for (auto it = kernels_.begin(); it != kernels_.end(); ++it) {
    if (it->first == key) {
      kernels_.splice(kernels_.begin(), kernels_, it);
      return kernels_.front().second;
    }
  }
  auto prog = dev_.program(k, variant);
  SFT_TRY(prog);
  cl_int e = CL_SUCCESS;
  cl_kernel kern = clCreateKernel(*prog, kernel_entry(k), &e);
  if (e != CL_SUCCESS || !kern) return cl_error("clCreateKernel", e);
  if (kernels_.size() >= max_kernels) {
    clReleaseKernel(kernels_.back().second);
    kernels_.pop_back();
  }
  kernels_.emplace_front(key, kern);
  return kern;
}

Result<EventPtr> ClQueue::launch(Kernel k, const LaunchDims& dims, std::span<const RawArg> args,
                                 std::uint64_t variant) {
  SFT_TRY_ASSIGN(cl_kernel kern, kernel(k, variant));
  for (std::size_t i = 0; i < args.size(); ++i) {
    const RawArg& a = args[i];
    auto set = [&](const auto& v) { return clSetKernelArg(kern, static_cast<cl_uint>(i), sizeof v, &v); };
    cl_int e = CL_SUCCESS;
    switch (a.kind) {
      case ArgKind::buffer_in:
      case ArgKind::buffer_out: e = set(static_cast<cl_mem>(a.handle)); break;
      case ArgKind::u64: e = set(cl_ulong{a.u64}); break;
      case ArgKind::u32: e = set(cl_uint{a.u32}); break;
      case ArgKind::f32: e = set(cl_float{a.f32}); break;
    }
    if (e != CL_SUCCESS) return cl_error("clSetKernelArg", e);
  }
  size_t global = static_cast<size_t>(dims.global), local = dims.local;
  cl_event ev = nullptr;
  cl_int e = clEnqueueNDRangeKernel(q_, kern, 1, nullptr, &global, &local, 0, nullptr, &ev);
  if (e != CL_SUCCESS) {
    Error err = cl_error("clEnqueueNDRangeKernel", e);
    if (err.code == Errc::gpu_driver) err.code = Errc::gpu_launch;
    return err;
  }
  return EventPtr(std::make_shared<ClEvent>(ev));
}

}  // namespace

Result<std::vector<DeviceInfo>> opencl_list() {
  auto found = find_devices();
  SFT_TRY(found);
  std::vector<DeviceInfo> out;
  for (std::size_t i = 0; i < found->size(); ++i) out.push_back(describe((*found)[i], static_cast<unsigned>(i)));
  return out;
}

Result<std::shared_ptr<DeviceImpl>> opencl_open(unsigned index) {
  auto found = find_devices();
  SFT_TRY(found);
  if (index >= found->size())
    return gpu_error(Errc::gpu_no_device, "OpenCL has " + std::to_string(found->size()) + " device(s); no device " +
                                              std::to_string(index));
  const Found& f = (*found)[index];
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(f.platform), 0};
  cl_int e = CL_SUCCESS;
  cl_context ctx = clCreateContext(props, 1, &f.device, nullptr, nullptr, &e);
  if (e != CL_SUCCESS || !ctx) return cl_error("clCreateContext", e);
  cl_command_queue q = clCreateCommandQueue(ctx, f.device, 0, &e);
  if (e != CL_SUCCESS || !q) {
    clReleaseContext(ctx);
    return cl_error("clCreateCommandQueue", e);
  }
  return std::shared_ptr<DeviceImpl>(std::make_shared<ClDevice>(f, index, ctx, q));
}

}  // namespace sft::gpu::detail
