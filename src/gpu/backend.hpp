// src/gpu/backend.hpp — the interface each backend implements (internal).
//
// The public classes of sft/gpu/device.hpp check every argument (bounds,
// ownership, kernel signatures) and then call these virtual functions, so a
// backend sees only requests that are in range. A backend reports failures of
// its runtime as Result errors and never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sft/gpu/device.hpp"
#include "sft/gpu/kernels.hpp"

namespace sft::gpu::detail {

inline Error gpu_error(Errc code, std::string message) { return Error(code, std::move(message)); }

// A kernel argument as a backend sees it: buffers already turned into handles.
struct RawArg {
  ArgKind kind = ArgKind::u64;
  void* handle = nullptr;
  std::uint64_t u64 = 0;
  std::uint32_t u32 = 0;
  float f32 = 0.0f;
};

class EventImpl {
 public:
  virtual ~EventImpl() = default;
  virtual Result<void> wait() = 0;
  virtual Result<bool> ready() = 0;
  virtual Result<double> seconds() = 0;
};
using EventPtr = std::shared_ptr<EventImpl>;

// An event that completed when it was made (the CPU backend, empty copies).
class DoneEvent final : public EventImpl {
 public:
  explicit DoneEvent(double seconds = 0.0, Result<void> status = {}) : seconds_(seconds), status_(std::move(status)) {}
  Result<void> wait() override { return status_; }
  Result<bool> ready() override {
    if (!status_) return status_.error();
    return true;
  }
  Result<double> seconds() override {
    if (!status_) return status_.error();
    return seconds_;
  }

 private:
  double seconds_;
  Result<void> status_;
};

class QueueImpl {
 public:
  virtual ~QueueImpl() = default;
  virtual Result<EventPtr> write(void* dst, std::uint64_t offset, const void* src, std::uint64_t n) = 0;
  virtual Result<EventPtr> read(void* src, std::uint64_t offset, void* dst, std::uint64_t n) = 0;
  virtual Result<EventPtr> copy(void* src, std::uint64_t src_offset, void* dst, std::uint64_t dst_offset,
                                std::uint64_t n) = 0;
  virtual Result<std::byte*> map_for_write(void* buffer, std::uint64_t offset, std::uint64_t n) = 0;
  virtual Result<void> unmap(void* buffer, std::byte* mapped) = 0;
  // Run `variant` of kernel k (SFT_V, src/gpu/variant.hpp): the compiled
  // variant where the backend has or can build one, else the generic kernel
  // (variant 0), which takes the same parameters at run time.
  virtual Result<EventPtr> launch(Kernel k, const LaunchDims& dims, std::span<const RawArg> args,
                                  std::uint64_t variant) = 0;
  virtual Result<void> finish() = 0;
};

struct HostAllocation {
  std::byte* data = nullptr;
  void* handle = nullptr;
};

class DeviceImpl {
 public:
  virtual ~DeviceImpl() = default;
  const DeviceInfo& info() const noexcept { return info_; }

  virtual Result<void*> alloc(std::uint64_t bytes) = 0;
  virtual void free(void* handle) noexcept = 0;
  virtual Result<HostAllocation> alloc_host(std::uint64_t bytes) = 0;
  virtual void free_host(const HostAllocation& a) noexcept = 0;
  virtual Result<std::unique_ptr<QueueImpl>> create_queue() = 0;

  // Any variant can be built at run time (OpenCL; CUDA with NVRTC).
  virtual bool builds_variants() const noexcept { return false; }
  // This variant of kernel k runs as compiled code of its own (not the
  // generic kernel): true for every variant where builds_variants().
  virtual bool has_variant(Kernel k, std::uint64_t variant) const noexcept {
    (void)k;
    (void)variant;
    return builds_variants();
  }
  KernelBuildStats build_stats() const noexcept {
    std::lock_guard lock(stats_mutex_);
    return stats_;
  }
  template <class F> void update_stats(F&& f) noexcept {
    std::lock_guard lock(stats_mutex_);
    f(stats_);
  }

 protected:
  DeviceInfo info_;

 private:
  mutable std::mutex stats_mutex_;
  KernelBuildStats stats_;
};

// The library's access to the private parts of the public classes.
struct Access {
  static Buffer make_buffer(std::shared_ptr<DeviceImpl> d, void* handle, std::uint64_t size) {
    Buffer b;
    b.device_ = std::move(d);
    b.handle_ = handle;
    b.size_ = size;
    return b;
  }
  static HostBuffer make_host(std::shared_ptr<DeviceImpl> d, HostAllocation a, std::uint64_t size) {
    HostBuffer h;
    h.device_ = std::move(d);
    h.data_ = a.data;
    h.handle_ = a.handle;
    h.size_ = size;
    return h;
  }
  static Event make_event(EventPtr e) {
    Event ev;
    ev.impl_ = std::move(e);
    return ev;
  }
  static Queue make_queue(std::shared_ptr<DeviceImpl> d, std::unique_ptr<QueueImpl> q) {
    Queue out;
    out.device_ = std::move(d);
    out.impl_ = std::move(q);
    return out;
  }
  static Device make_device(std::shared_ptr<DeviceImpl> d, std::vector<std::string> notes) {
    Device out;
    out.impl_ = std::move(d);
    out.notes_ = std::move(notes);
    return out;
  }
  static Result<Event> launch(Queue& q, Kernel k, const LaunchDims& dims, std::span<const KernelArg> args,
                              std::uint64_t variant) {
    return q.launch_variant(k, dims, args, variant);
  }
  static DeviceImpl* impl(const Device& d) noexcept { return d.impl_.get(); }
  static void* handle(const Buffer& b) noexcept { return b.handle_; }
  static const DeviceImpl* device_of(const Buffer& b) noexcept { return b.device_.get(); }
  static const DeviceImpl* device_of(const Queue& q) noexcept { return q.device_.get(); }
};

// Backends. Each lists its devices and opens one; backends not built are
// absent (device.cpp answers gpu_no_backend for them).
Result<std::vector<DeviceInfo>> cpu_list();
Result<std::shared_ptr<DeviceImpl>> cpu_open(unsigned index);
#if defined(SFT_GPU_HAVE_OPENCL)
Result<std::vector<DeviceInfo>> opencl_list();
Result<std::shared_ptr<DeviceImpl>> opencl_open(unsigned index);
#endif
#if defined(SFT_GPU_HAVE_CUDA)
Result<std::vector<DeviceInfo>> cuda_list();
Result<std::shared_ptr<DeviceImpl>> cuda_open(unsigned index);
#endif

// The kernels compiled as C++: run work items [0, dims.global) of `variant`
// of kernel k (its compiled instantiation, else the generic one).
void cpu_run_kernel(Kernel k, const LaunchDims& dims, std::span<const RawArg> args, std::uint64_t variant);
// The CPU backend has a C++ instantiation of this variant.
bool cpu_has_variant(Kernel k, std::uint64_t variant) noexcept;
// The entry point's name in the kernel source, e.g. "sft_convert".
const char* kernel_entry(Kernel k) noexcept;

// The kernel source text (portable.h + kernels.inc) embedded at build time.
std::string_view kernel_source() noexcept;
// A 64-bit digest of kernel_source(): keys the tuning cache.
std::uint64_t kernel_source_hash() noexcept;

}  // namespace sft::gpu::detail
