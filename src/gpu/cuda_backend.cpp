// The CUDA backend, on the runtime API (linked statically: the driver, libcuda,
// is loaded at run time, so a machine without one gets an error value). Every
// call first makes the device current on the calling thread. Each command is
// bracketed by two CUDA events so that Event::seconds() reports device time.
// Kernel variants: the set compiled in by nvcc (cuda_kernels.cu), the others
// built with NVRTC where libnvrtc is found (cuda_nvrtc.hpp), as cubins kept in
// sft's kernel cache and loaded with cudaLibraryLoadData; without NVRTC they
// run the generic kernels.
#include <cuda_runtime_api.h>

#include <array>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include "backend.hpp"
#include "cuda_nvrtc.hpp"
#include "kernel_cache.hpp"

extern "C" const void* sft_gpu_cuda_kernel(int k, unsigned long long variant);

namespace sft::gpu::detail {
namespace {

Error cuda_error(const char* what, cudaError_t e) {
  Errc code = Errc::gpu_driver;
  switch (e) {
    case cudaErrorMemoryAllocation: code = Errc::gpu_out_of_memory; break;
    case cudaErrorNoDevice:
    case cudaErrorInvalidDevice:
    case cudaErrorDevicesUnavailable: code = Errc::gpu_no_device; break;
    case cudaErrorInvalidConfiguration:
    case cudaErrorLaunchFailure:
    case cudaErrorLaunchOutOfResources:
    case cudaErrorInvalidDeviceFunction:
    case cudaErrorNoKernelImageForDevice: code = Errc::gpu_launch; break;
    default: break;
  }
  return gpu_error(code, std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

// The number of devices, or why there are none.
Result<int> device_count() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaErrorNoDevice || (e == cudaSuccess && n == 0))
    return gpu_error(Errc::gpu_no_device, "no CUDA device present");
  if (e == cudaErrorInsufficientDriver)
    return gpu_error(Errc::gpu_driver, "no NVIDIA driver, or one too old for this CUDA runtime");
  if (e != cudaSuccess) {
    Error err = cuda_error("cudaGetDeviceCount", e);
    // Without a driver library the runtime cannot even count: say so plainly.
    if (err.code == Errc::gpu_driver) err.message += " (is the NVIDIA driver installed?)";
    return err;
  }
  return n;
}

std::string version_string(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

Result<DeviceInfo> describe(int index) {
  cudaDeviceProp p{};
  if (cudaError_t e = cudaGetDeviceProperties(&p, index); e != cudaSuccess) return cuda_error("cudaGetDeviceProperties", e);
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  DeviceInfo i;
  i.backend = Backend::cuda;
  i.index = static_cast<unsigned>(index);
  i.name = p.name;
  i.vendor = "NVIDIA";
  i.driver_version = version_string(driver);
  i.platform = "CUDA runtime " + version_string(runtime) + ", compute capability " + std::to_string(p.major) + "." +
               std::to_string(p.minor);
  i.global_memory = p.totalGlobalMem;
  i.max_allocation = p.totalGlobalMem;
  i.compute_units = static_cast<unsigned>(p.multiProcessorCount);
  i.max_work_group_size = static_cast<unsigned>(p.maxThreadsPerBlock);
  i.host_unified = p.integrated != 0;
  i.local_memory = p.sharedMemPerBlock;
  return i;
}

class CudaEvent final : public EventImpl {
 public:
  CudaEvent(int device, cudaEvent_t start, cudaEvent_t end) : device_(device), start_(start), end_(end) {}
  ~CudaEvent() override {
    cudaSetDevice(device_);
    cudaEventDestroy(start_);
    cudaEventDestroy(end_);
  }
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;

  Result<void> wait() override {
    cudaSetDevice(device_);
    if (cudaError_t e = cudaEventSynchronize(end_); e != cudaSuccess) return cuda_error("cudaEventSynchronize", e);
    return {};
  }
  Result<bool> ready() override {
    cudaSetDevice(device_);
    cudaError_t e = cudaEventQuery(end_);
    if (e == cudaErrorNotReady) return false;
    if (e != cudaSuccess) return cuda_error("cudaEventQuery", e);
    return true;
  }
  Result<double> seconds() override {
    if (auto w = wait(); !w) return w.error();
    float ms = 0;
    if (cudaError_t e = cudaEventElapsedTime(&ms, start_, end_); e != cudaSuccess)
      return cuda_error("cudaEventElapsedTime", e);
    return static_cast<double>(ms) * 1e-3;
  }

 private:
  int device_;
  cudaEvent_t start_, end_;
};

class CudaDevice;

class CudaQueue final : public QueueImpl {
 public:
  CudaQueue(CudaDevice& dev, int device, cudaStream_t s) : dev_(dev), device_(device), s_(s) {}
  ~CudaQueue() override {
    cudaSetDevice(device_);
    cudaStreamSynchronize(s_);
    cudaStreamDestroy(s_);
  }
  CudaQueue(const CudaQueue&) = delete;
  CudaQueue& operator=(const CudaQueue&) = delete;

  Result<EventPtr> write(void* dst, std::uint64_t off, const void* src, std::uint64_t n) override {
    return bracket("cudaMemcpyAsync", [&] {
      return cudaMemcpyAsync(static_cast<char*>(dst) + off, src, n, cudaMemcpyHostToDevice, s_);
    });
  }
  Result<EventPtr> read(void* src, std::uint64_t off, void* dst, std::uint64_t n) override {
    return bracket("cudaMemcpyAsync", [&] {
      return cudaMemcpyAsync(dst, static_cast<const char*>(src) + off, n, cudaMemcpyDeviceToHost, s_);
    });
  }
  Result<EventPtr> copy(void* src, std::uint64_t so, void* dst, std::uint64_t doff, std::uint64_t n) override {
    return bracket("cudaMemcpyAsync", [&] {
      return cudaMemcpyAsync(static_cast<char*>(dst) + doff, static_cast<const char*>(src) + so, n,
                             cudaMemcpyDeviceToDevice, s_);
    });
  }
  Result<std::byte*> map_for_write(void*, std::uint64_t, std::uint64_t) override {
    return gpu_error(Errc::gpu_unsupported, "the cuda backend does not map device memory; write through a HostBuffer");
  }
  Result<void> unmap(void*, std::byte*) override {
    return gpu_error(Errc::gpu_unsupported, "the cuda backend does not map device memory");
  }
  Result<EventPtr> launch(Kernel k, const LaunchDims& dims, std::span<const RawArg> args,
                          std::uint64_t variant) override;
  Result<EventPtr> launch_fn(const void* fn, const LaunchDims& dims, std::span<const RawArg> args) {
    // cudaLaunchKernel wants a pointer to each argument, of the parameter's exact size.
    std::vector<void*> ptrs(args.size());
    std::vector<RawArg> vals(args.begin(), args.end());
    for (std::size_t i = 0; i < vals.size(); ++i) {
      switch (vals[i].kind) {
        case ArgKind::buffer_in:
        case ArgKind::buffer_out: ptrs[i] = &vals[i].handle; break;
        case ArgKind::u64: ptrs[i] = &vals[i].u64; break;
        case ArgKind::u32: ptrs[i] = &vals[i].u32; break;
        case ArgKind::f32: ptrs[i] = &vals[i].f32; break;
      }
    }
    dim3 grid(static_cast<unsigned>(dims.global / dims.local)), block(dims.local);
    return bracket("cudaLaunchKernel", [&] { return cudaLaunchKernel(fn, grid, block, ptrs.data(), 0, s_); });
  }
  Result<void> finish() override {
    cudaSetDevice(device_);
    if (cudaError_t e = cudaStreamSynchronize(s_); e != cudaSuccess) return cuda_error("cudaStreamSynchronize", e);
    return {};
  }

 private:
  CudaDevice& dev_;

  template <class F>
  Result<EventPtr> bracket(const char* what, F&& command) {
    cudaSetDevice(device_);
    cudaEvent_t start = nullptr, end = nullptr;
    if (cudaError_t e = cudaEventCreate(&start); e != cudaSuccess) return cuda_error("cudaEventCreate", e);
    if (cudaError_t e = cudaEventCreate(&end); e != cudaSuccess) {
      cudaEventDestroy(start);
      return cuda_error("cudaEventCreate", e);
    }
    auto event = std::make_shared<CudaEvent>(device_, start, end);
    cudaEventRecord(start, s_);
    if (cudaError_t e = command(); e != cudaSuccess) return cuda_error(what, e);
    if (cudaError_t e = cudaEventRecord(end, s_); e != cudaSuccess) return cuda_error("cudaEventRecord", e);
    return EventPtr(std::move(event));
  }
  int device_;
  cudaStream_t s_;
};

class CudaDevice final : public DeviceImpl {
 public:
  CudaDevice(int index, DeviceInfo info, int cc_major, int cc_minor)
      : index_(index), arch_("sm_" + std::to_string(cc_major) + std::to_string(cc_minor)) {
    info_ = std::move(info);
  }
  ~CudaDevice() override {
    cudaSetDevice(index_);
    for (auto& [key, b] : built_)
      if (b.library) cudaLibraryUnload(b.library);
  }

  bool builds_variants() const noexcept override { return Nvrtc::get().available(); }
  bool has_variant(Kernel k, std::uint64_t variant) const noexcept override {
    return builds_variants() || (variant != 0 && sft_gpu_cuda_kernel(static_cast<int>(k), variant) != nullptr);
  }

  // The kernel to launch for this variant: compiled in, else built with
  // NVRTC (once per device; from sft's kernel cache where it holds the
  // cubin), else, without NVRTC, the generic kernel.
  Result<const void*> kernel(Kernel k, std::uint64_t variant) {
    if (const void* fn = sft_gpu_cuda_kernel(static_cast<int>(k), variant)) return fn;
    if (variant == 0 || !builds_variants()) {
      if (const void* fn = sft_gpu_cuda_kernel(static_cast<int>(k), 0)) return fn;
      return gpu_error(Errc::gpu_launch, "no CUDA kernel for " + std::string(kernel_name(k)));
    }
    std::lock_guard lock(built_mutex_);
    auto [it, fresh] = built_.try_emplace({k, variant});
    Built& b = it->second;
    if (!fresh) {
      if (b.kernel) return reinterpret_cast<const void*>(b.kernel);
      return b.error;
    }
    cudaSetDevice(index_);
    char v[48];
    std::snprintf(v, sizeof v, "-DSFT_V=0x%016llxULL", static_cast<unsigned long long>(variant));
    const std::vector<std::string> options = {"--gpu-architecture=" + arch_, "-DSFT_ONLY=" + std::to_string(static_cast<int>(k)),
                                              v, "-w"};
    std::string key = "cuda\n" + info_.name + "\n" + arch_ + "\n" + info_.driver_version + "\nnvrtc " +
                      Nvrtc::get().version() + "\n";
    char h[20];
    std::snprintf(h, sizeof h, "%016llx", static_cast<unsigned long long>(kernel_source_hash()));
    key += h;
    for (const auto& o : options) key += "\n" + o;
    auto load = [&](std::span<const std::byte> cubin) -> std::optional<cudaLibrary_t> {
      cudaLibrary_t lib = nullptr;
      if (cudaLibraryLoadData(&lib, cubin.data(), nullptr, nullptr, 0, nullptr, nullptr, 0) != cudaSuccess) {
        cudaGetLastError();
        return std::nullopt;
      }
      return lib;
    };
    auto build = [&]() -> Result<std::pair<cudaLibrary_t, std::vector<std::byte>>> {
      SFT_TRY_ASSIGN(auto cubin, Nvrtc::get().cubin(std::string(kernel_source()), options));
      auto lib = load(cubin);
      if (!lib) return gpu_error(Errc::gpu_driver, "cudaLibraryLoadData refused NVRTC's cubin for " + arch_);
      return std::make_pair(*lib, std::move(cubin));
    };
    auto lib = cached_build<cudaLibrary_t>(*this, key, load, build);
    if (!lib) return b.error = lib.error();
    b.library = *lib;
    if (cudaError_t e = cudaLibraryGetKernel(&b.kernel, b.library, kernel_entry(k)); e != cudaSuccess) {
      b.kernel = nullptr;
      return b.error = cuda_error("cudaLibraryGetKernel", e);
    }
    return reinterpret_cast<const void*>(b.kernel);
  }

  Result<void*> alloc(std::uint64_t bytes) override {
    cudaSetDevice(index_);
    void* p = nullptr;
    if (cudaError_t e = cudaMalloc(&p, bytes); e != cudaSuccess) {
      cudaGetLastError();  // clear the sticky allocation error
      return cuda_error("cudaMalloc", e);
    }
    return p;
  }
  void free(void* h) noexcept override {
    cudaSetDevice(index_);
    cudaFree(h);
  }
  Result<HostAllocation> alloc_host(std::uint64_t bytes) override {
    cudaSetDevice(index_);
    void* p = nullptr;
    if (cudaError_t e = cudaHostAlloc(&p, bytes, cudaHostAllocDefault); e != cudaSuccess) {
      cudaGetLastError();
      return cuda_error("cudaHostAlloc", e);
    }
    return HostAllocation{static_cast<std::byte*>(p), nullptr};
  }
  void free_host(const HostAllocation& a) noexcept override { cudaFreeHost(a.data); }
  Result<std::unique_ptr<QueueImpl>> create_queue() override {
    cudaSetDevice(index_);
    cudaStream_t s = nullptr;
    if (cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking); e != cudaSuccess)
      return cuda_error("cudaStreamCreateWithFlags", e);
    return std::unique_ptr<QueueImpl>(std::make_unique<CudaQueue>(*this, index_, s));
  }

 private:
  struct Built {
    cudaLibrary_t library = nullptr;
    cudaKernel_t kernel = nullptr;
    Error error;  // why it did not build (not retried)
  };
  int index_;
  std::string arch_;
  std::mutex built_mutex_;
  std::map<std::pair<Kernel, std::uint64_t>, Built> built_;
};

Result<EventPtr> CudaQueue::launch(Kernel k, const LaunchDims& dims, std::span<const RawArg> args,
                                   std::uint64_t variant) {
  SFT_TRY_ASSIGN(const void* fn, dev_.kernel(k, variant));
  return launch_fn(fn, dims, args);
}

}  // namespace

Result<std::vector<DeviceInfo>> cuda_list() {
  auto n = device_count();
  SFT_TRY(n);
  std::vector<DeviceInfo> out;
  for (int i = 0; i < *n; ++i) {
    auto d = describe(i);
    SFT_TRY(d);
    out.push_back(std::move(*d));
  }
  return out;
}

Result<std::shared_ptr<DeviceImpl>> cuda_open(unsigned index) {
  auto n = device_count();
  SFT_TRY(n);
  if (index >= static_cast<unsigned>(*n))
    return gpu_error(Errc::gpu_no_device,
                     "CUDA has " + std::to_string(*n) + " device(s); no device " + std::to_string(index));
  auto info = describe(static_cast<int>(index));
  SFT_TRY(info);
  if (cudaError_t e = cudaSetDevice(static_cast<int>(index)); e != cudaSuccess) return cuda_error("cudaSetDevice", e);
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, static_cast<int>(index));
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, static_cast<int>(index));
  return std::shared_ptr<DeviceImpl>(
      std::make_shared<CudaDevice>(static_cast<int>(index), std::move(*info), major, minor));
}

}  // namespace sft::gpu::detail
