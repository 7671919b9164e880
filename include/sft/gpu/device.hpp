// sft/gpu/device.hpp — devices, device memory, pinned host memory, queues, events.
//
// The backend interface of sft_gpu. Three backends stand behind it:
//   cpu     plain C++ on the host; always built, always present;
//   opencl  any OpenCL device through the ICD loader (PoCL runs it on the CPU);
//   cuda    NVIDIA GPUs through the CUDA runtime.
// A backend that was not built, a missing driver or an absent device is an
// error value (gpu_no_backend, gpu_driver, gpu_no_device), never a crash. No
// header of sft includes a CUDA or OpenCL header: handles are opaque.
//
// Ownership: Device, Buffer, HostBuffer and Queue are move-only owners. Buffers,
// host buffers and queues keep their device's context alive, so they may outlive
// the Device object they came from. Events are shared handles.
//
// Threads: a Device may be used from several threads at once (allocation, queue
// creation); a Queue and its Events belong to one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sft/result.hpp"

namespace sft::gpu {

enum class Backend : std::uint8_t { cpu = 0, opencl = 1, cuda = 2 };
inline constexpr int backend_count = 3;

std::string_view backend_name(Backend b) noexcept;            // "cpu", "opencl", "cuda"
std::optional<Backend> parse_backend(std::string_view s) noexcept;
bool backend_built(Backend b) noexcept;                       // compiled into this library

struct DeviceInfo {
  Backend backend = Backend::cpu;
  unsigned index = 0;                 // position among the backend's devices
  std::string name;                   // e.g. "NVIDIA H100", "pthread-skylake-avx512-..."
  std::string vendor;
  std::string driver_version;         // the driver's own version string
  std::string platform;               // OpenCL platform / CUDA runtime version / "host"
  std::uint64_t global_memory = 0;    // bytes of device memory
  std::uint64_t max_allocation = 0;   // largest single buffer, in bytes
  unsigned compute_units = 0;
  unsigned max_work_group_size = 0;
  bool host_unified = false;          // device memory is host memory (CPU, PoCL, integrated GPUs)
};

namespace detail {
class DeviceImpl;
class QueueImpl;
class EventImpl;
struct Access;  // the library's own back door to the handles
}  // namespace detail

// Device memory. The contents are undefined until written.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&&) noexcept;
  Buffer& operator=(Buffer&&) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  std::uint64_t size() const noexcept { return size_; }
  bool valid() const noexcept { return handle_ != nullptr; }
  // The backend's own handle, for handing the memory to other libraries
  // (DLPack, a framework's tensors, foreign kernels): a host pointer to the
  // bytes on the cpu backend, the device pointer on cuda, a cl_mem on
  // opencl. Null for an empty Buffer; valid as long as the Buffer lives.
  void* native_handle() const noexcept { return handle_; }

 private:
  friend struct detail::Access;
  std::shared_ptr<detail::DeviceImpl> device_;
  void* handle_ = nullptr;  // backend's handle (host pointer, cl_mem, device pointer)
  std::uint64_t size_ = 0;
};

// Page-locked ("pinned") host memory, from which copies to the device run
// asynchronously at full speed.
class HostBuffer {
 public:
  HostBuffer() = default;
  HostBuffer(HostBuffer&&) noexcept;
  HostBuffer& operator=(HostBuffer&&) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  ~HostBuffer();

  std::byte* data() const noexcept { return data_; }
  std::uint64_t size() const noexcept { return size_; }
  std::span<std::byte> span() const noexcept { return {data_, static_cast<std::size_t>(size_)}; }

 private:
  friend struct detail::Access;
  std::shared_ptr<detail::DeviceImpl> device_;
  std::byte* data_ = nullptr;
  void* handle_ = nullptr;  // backend's own handle for the allocation
  std::uint64_t size_ = 0;
};

// A point in a queue: the completion of one command.
class Event {
 public:
  Event() = default;
  bool valid() const noexcept { return impl_ != nullptr; }
  // Block until the command has completed; its error if it failed.
  Result<void> wait() const;
  // True once completed (and not failed); never blocks.
  Result<bool> ready() const;
  // Seconds the device spent executing the command, from the backend's own
  // timers (gpu_unsupported where it has none). Waits for completion.
  Result<double> seconds() const;

 private:
  friend struct detail::Access;
  std::shared_ptr<detail::EventImpl> impl_;
};

enum class Kernel : std::uint8_t;
struct KernelArg;
struct LaunchDims;
class Device;

// An in-order command queue (an OpenCL command queue, a CUDA stream; the CPU
// backend runs each command as it is enqueued). Commands complete in the order
// they were enqueued.
class Queue {
 public:
  Queue() = default;
  Queue(Queue&&) noexcept;
  Queue& operator=(Queue&&) noexcept;
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  ~Queue();  // waits for the queue to drain

  // Copy n host bytes to dst[offset, offset + n). Asynchronous: `src` must stay
  // valid and unchanged until the event completes; from a HostBuffer the copy
  // overlaps with the host's work, from other memory it may not.
  Result<Event> write(Buffer& dst, std::uint64_t offset, const void* src, std::uint64_t n);
  // Copy src[offset, offset + n) to host memory; asynchronous likewise.
  Result<Event> read(const Buffer& src, std::uint64_t offset, void* dst, std::uint64_t n);
  // Copy between two buffers of this queue's device.
  Result<Event> copy(const Buffer& src, std::uint64_t src_offset, Buffer& dst, std::uint64_t dst_offset,
                     std::uint64_t n);

  // Map dst[offset, offset + n) for writing from the host, on devices with
  // host-unified memory (gpu_unsupported elsewhere). The previous contents of
  // the range are undefined; the pointer is valid until unmap(), which must
  // come before the buffer is used by any command.
  Result<std::byte*> map_for_write(Buffer& dst, std::uint64_t offset, std::uint64_t n);
  Result<void> unmap(Buffer& dst, std::byte* mapped);

  // Launch a kernel; the arguments are checked against the kernel's signature
  // (gpu_bad_argument). sft/gpu/kernels.hpp has typed wrappers for every kernel.
  Result<Event> launch(Kernel kernel, const LaunchDims& dims, std::span<const KernelArg> args);

  // Wait for every command enqueued so far.
  Result<void> finish();

  bool valid() const noexcept { return impl_ != nullptr; }
  // The device this queue runs on.
  Device device() const;

 private:
  friend struct detail::Access;
  std::shared_ptr<detail::DeviceImpl> device_;
  std::unique_ptr<detail::QueueImpl> impl_;
};

class Device {
 public:
  Device() = default;

  const DeviceInfo& info() const noexcept;
  Backend backend() const noexcept { return info().backend; }
  bool valid() const noexcept { return impl_ != nullptr; }

  // Device memory (gpu_out_of_memory; gpu_bad_argument for 0 bytes or more
  // than info().max_allocation).
  Result<Buffer> alloc(std::uint64_t bytes) const;
  // Pinned host memory.
  Result<HostBuffer> alloc_host(std::uint64_t bytes) const;
  Result<Queue> queue() const;

  // Why automatic selection passed over other backends (empty when the
  // backend was chosen by name), e.g. "cuda: gpu_no_device: ...".
  const std::vector<std::string>& notes() const noexcept { return notes_; }

 private:
  friend struct detail::Access;
  std::shared_ptr<detail::DeviceImpl> impl_;
  std::vector<std::string> notes_;
};

// The devices of one backend: gpu_no_backend if it was not built, gpu_driver /
// gpu_no_device when its runtime or devices are missing.
Result<std::vector<DeviceInfo>> list_devices(Backend backend);

// Open device `index` of a backend.
Result<Device> open_device(Backend backend, unsigned index = 0);
// By name: "cpu", "opencl", "cuda", or "auto" (or empty): the first device of
// CUDA, then OpenCL, then the CPU backend (which is always there).
Result<Device> open_device(std::string_view backend = "auto", unsigned index = 0);

}  // namespace sft::gpu
