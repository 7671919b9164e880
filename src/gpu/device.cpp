// The public classes of sft/gpu/device.hpp: argument checks, then the backend.
#include <string>
#include <utility>

#include "backend.hpp"
#include "variant.hpp"

namespace sft::gpu {

using detail::Access;
using detail::gpu_error;

std::string_view backend_name(Backend b) noexcept {
  switch (b) {
    case Backend::cpu: return "cpu";
    case Backend::opencl: return "opencl";
    case Backend::cuda: return "cuda";
  }
  return "?";
}

std::optional<Backend> parse_backend(std::string_view s) noexcept {
  for (int i = 0; i < backend_count; ++i)
    if (backend_name(static_cast<Backend>(i)) == s) return static_cast<Backend>(i);
  return std::nullopt;
}

bool backend_built(Backend b) noexcept {
  switch (b) {
    case Backend::cpu: return true;
#if defined(SFT_GPU_HAVE_OPENCL)
    case Backend::opencl: return true;
#endif
#if defined(SFT_GPU_HAVE_CUDA)
    case Backend::cuda: return true;
#endif
    default: return false;
  }
}

namespace {

Error not_built(Backend b) {
  return gpu_error(Errc::gpu_no_backend,
                   "the " + std::string(backend_name(b)) + " backend was not built into this sft_gpu");
}

// offset + n <= size, written so that it cannot overflow.
Result<void> check_range(const char* what, std::uint64_t size, std::uint64_t offset, std::uint64_t n) {
  if (offset > size || n > size - offset)
    return gpu_error(Errc::gpu_bad_argument, std::string(what) + ": range [" + std::to_string(offset) + ", +" +
                                                 std::to_string(n) + ") exceeds the buffer's " +
                                                 std::to_string(size) + " bytes");
  return {};
}

Result<Event> wrap(Result<detail::EventPtr> r) {
  SFT_TRY(r);
  return Access::make_event(std::move(*r));
}

}  // namespace

// ---------------------------------------------------------------- Buffer
Buffer::Buffer(Buffer&& o) noexcept
    : device_(std::move(o.device_)), handle_(std::exchange(o.handle_, nullptr)), size_(std::exchange(o.size_, 0)) {}
Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    Buffer dead(std::move(*this));
    device_ = std::move(o.device_);
    handle_ = std::exchange(o.handle_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}
Buffer::~Buffer() {
  if (handle_ && device_) device_->free(handle_);
}

// ------------------------------------------------------------ HostBuffer
HostBuffer::HostBuffer(HostBuffer&& o) noexcept
    : device_(std::move(o.device_)),
      data_(std::exchange(o.data_, nullptr)),
      handle_(std::exchange(o.handle_, nullptr)),
      size_(std::exchange(o.size_, 0)) {}
HostBuffer& HostBuffer::operator=(HostBuffer&& o) noexcept {
  if (this != &o) {
    HostBuffer dead(std::move(*this));
    device_ = std::move(o.device_);
    data_ = std::exchange(o.data_, nullptr);
    handle_ = std::exchange(o.handle_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}
HostBuffer::~HostBuffer() {
  if (data_ && device_) device_->free_host({data_, handle_});
}

// ----------------------------------------------------------------- Event
Result<void> Event::wait() const {
  if (!impl_) return gpu_error(Errc::gpu_bad_argument, "wait on an empty Event");
  return impl_->wait();
}
Result<bool> Event::ready() const {
  if (!impl_) return gpu_error(Errc::gpu_bad_argument, "ready on an empty Event");
  return impl_->ready();
}
Result<double> Event::seconds() const {
  if (!impl_) return gpu_error(Errc::gpu_bad_argument, "seconds on an empty Event");
  return impl_->seconds();
}

// ----------------------------------------------------------------- Queue
Queue::Queue(Queue&&) noexcept = default;
Queue& Queue::operator=(Queue&& o) noexcept {
  if (this != &o) {
    if (impl_) (void)impl_->finish();
    impl_ = std::move(o.impl_);
    device_ = std::move(o.device_);
  }
  return *this;
}
Queue::~Queue() {
  if (impl_) (void)impl_->finish();
}

namespace {
Result<void> check_queue_buffer(const Queue& q, const Buffer& b, const char* what) {
  if (!q.valid()) return gpu_error(Errc::gpu_bad_argument, std::string(what) + " on an empty Queue");
  if (!b.valid()) return gpu_error(Errc::gpu_bad_argument, std::string(what) + ": the buffer is empty");
  if (Access::device_of(b) != Access::device_of(q))
    return gpu_error(Errc::gpu_bad_argument, std::string(what) + ": the buffer belongs to another device");
  return {};
}
Result<Event> done_event() { return Access::make_event(std::make_shared<detail::DoneEvent>()); }
}  // namespace

Result<Event> Queue::write(Buffer& dst, std::uint64_t offset, const void* src, std::uint64_t n) {
  if (auto r = check_queue_buffer(*this, dst, "write"); !r) return r.error();
  if (auto r = check_range("write", dst.size(), offset, n); !r) return r.error();
  if (n == 0) return done_event();
  if (!src) return gpu_error(Errc::gpu_bad_argument, "write: null source");
  return wrap(impl_->write(Access::handle(dst), offset, src, n));
}

Result<Event> Queue::read(const Buffer& src, std::uint64_t offset, void* dst, std::uint64_t n) {
  if (auto r = check_queue_buffer(*this, src, "read"); !r) return r.error();
  if (auto r = check_range("read", src.size(), offset, n); !r) return r.error();
  if (n == 0) return done_event();
  if (!dst) return gpu_error(Errc::gpu_bad_argument, "read: null destination");
  return wrap(impl_->read(Access::handle(src), offset, dst, n));
}

Result<Event> Queue::copy(const Buffer& src, std::uint64_t src_offset, Buffer& dst, std::uint64_t dst_offset,
                          std::uint64_t n) {
  if (auto r = check_queue_buffer(*this, src, "copy"); !r) return r.error();
  if (auto r = check_queue_buffer(*this, dst, "copy"); !r) return r.error();
  if (auto r = check_range("copy source", src.size(), src_offset, n); !r) return r.error();
  if (auto r = check_range("copy destination", dst.size(), dst_offset, n); !r) return r.error();
  if (n == 0) return done_event();
  return wrap(impl_->copy(Access::handle(src), src_offset, Access::handle(dst), dst_offset, n));
}

Result<std::byte*> Queue::map_for_write(Buffer& dst, std::uint64_t offset, std::uint64_t n) {
  if (auto r = check_queue_buffer(*this, dst, "map_for_write"); !r) return r.error();
  if (auto r = check_range("map_for_write", dst.size(), offset, n); !r) return r.error();
  if (n == 0) return gpu_error(Errc::gpu_bad_argument, "map_for_write: empty range");
  return impl_->map_for_write(Access::handle(dst), offset, n);
}

Result<void> Queue::unmap(Buffer& dst, std::byte* mapped) {
  if (auto r = check_queue_buffer(*this, dst, "unmap"); !r) return r.error();
  if (!mapped) return gpu_error(Errc::gpu_bad_argument, "unmap: null pointer");
  return impl_->unmap(Access::handle(dst), mapped);
}

Result<Event> Queue::launch(Kernel kernel, const LaunchDims& dims, std::span<const KernelArg> args) {
  return launch_variant(kernel, dims, args, 0);
}

Result<Event> Queue::launch_variant(Kernel kernel, const LaunchDims& dims, std::span<const KernelArg> args,
                                    std::uint64_t variant) {
  if (!valid()) return gpu_error(Errc::gpu_bad_argument, "launch on an empty Queue");
  if (static_cast<int>(kernel) >= kernel_count) return gpu_error(Errc::gpu_bad_argument, "launch: unknown kernel");
  std::string k(kernel_name(kernel));
  auto sig = kernel_signature(kernel);
  if (args.size() != sig.size())
    return gpu_error(Errc::gpu_bad_argument, k + " takes " + std::to_string(sig.size()) + " arguments, not " +
                                                 std::to_string(args.size()));
  if (dims.local == 0 || dims.global == 0 || dims.global % dims.local != 0)
    return gpu_error(Errc::gpu_bad_argument, k + ": the global size " + std::to_string(dims.global) +
                                                 " is not a positive multiple of the local size " +
                                                 std::to_string(dims.local));
  if (dims.local > device_->info().max_work_group_size)
    return gpu_error(Errc::gpu_bad_argument, k + ": local size " + std::to_string(dims.local) +
                                                 " exceeds the device's maximum work-group size");
  std::vector<detail::RawArg> raw(args.size());
  for (std::size_t i = 0; i < args.size(); ++i) {
    const KernelArg& a = args[i];
    if (a.kind != sig[i])
      return gpu_error(Errc::gpu_bad_argument, k + ": argument " + std::to_string(i) + " must be " +
                                                   std::string(arg_kind_name(sig[i])) + ", not " +
                                                   std::string(arg_kind_name(a.kind)));
    raw[i].kind = a.kind;
    raw[i].u64 = a.u64;
    raw[i].u32 = a.u32;
    raw[i].f32 = a.f32;
    if (a.kind == ArgKind::buffer_in || a.kind == ArgKind::buffer_out) {
      if (!a.buffer) return gpu_error(Errc::gpu_bad_argument, k + ": argument " + std::to_string(i) + " has no buffer");
      if (auto r = check_queue_buffer(*this, *a.buffer, "launch"); !r) return r.error();
      raw[i].handle = Access::handle(*a.buffer);
    }
  }
  if (variant != 0) {
    // A group kernel's variant is compiled for one work-group size.
    if (detail::is_group_kernel(kernel) && detail::variant_local_size(variant) != dims.local)
      return gpu_error(Errc::gpu_bad_argument, k + ": a variant compiled for work groups of " +
                                                   std::to_string(detail::variant_local_size(variant)) +
                                                   " launched with " + std::to_string(dims.local));
    // The test fault "does not compile" where nothing is compiled at run time.
    if (detail::variant_fault(variant) == 3 && !device_->builds_variants())
      return gpu_error(Errc::gpu_driver, k + ": test fault: this variant deliberately does not build");
  }
  return wrap(impl_->launch(kernel, dims, raw, variant));
}

Device Queue::device() const { return Access::make_device(device_, {}); }

Result<void> Queue::finish() {
  if (!impl_) return gpu_error(Errc::gpu_bad_argument, "finish on an empty Queue");
  return impl_->finish();
}

// ---------------------------------------------------------------- Device
bool Device::builds_variants() const noexcept { return impl_ && impl_->builds_variants(); }
KernelBuildStats Device::kernel_builds() const noexcept { return impl_ ? impl_->build_stats() : KernelBuildStats{}; }

const DeviceInfo& Device::info() const noexcept {
  static const DeviceInfo none{};
  return impl_ ? impl_->info() : none;
}

Result<Buffer> Device::alloc(std::uint64_t bytes) const {
  if (!impl_) return gpu_error(Errc::gpu_bad_argument, "alloc on an empty Device");
  if (bytes == 0) return gpu_error(Errc::gpu_bad_argument, "alloc of 0 bytes");
  if (bytes > info().max_allocation)
    return gpu_error(Errc::gpu_bad_argument, "alloc of " + std::to_string(bytes) +
                                                 " bytes exceeds the device's largest allocation (" +
                                                 std::to_string(info().max_allocation) + " bytes)");
  auto h = impl_->alloc(bytes);
  SFT_TRY(h);
  return Access::make_buffer(impl_, *h, bytes);
}

Result<HostBuffer> Device::alloc_host(std::uint64_t bytes) const {
  if (!impl_) return gpu_error(Errc::gpu_bad_argument, "alloc_host on an empty Device");
  if (bytes == 0) return gpu_error(Errc::gpu_bad_argument, "alloc_host of 0 bytes");
  auto h = impl_->alloc_host(bytes);
  SFT_TRY(h);
  return Access::make_host(impl_, *h, bytes);
}

Result<Queue> Device::queue() const {
  if (!impl_) return gpu_error(Errc::gpu_bad_argument, "queue on an empty Device");
  auto q = impl_->create_queue();
  SFT_TRY(q);
  return Access::make_queue(impl_, std::move(*q));
}

// ------------------------------------------------------------- selection
Result<std::vector<DeviceInfo>> list_devices(Backend backend) {
  switch (backend) {
    case Backend::cpu: return detail::cpu_list();
#if defined(SFT_GPU_HAVE_OPENCL)
    case Backend::opencl: return detail::opencl_list();
#endif
#if defined(SFT_GPU_HAVE_CUDA)
    case Backend::cuda: return detail::cuda_list();
#endif
    default: return not_built(backend);
  }
}

namespace {
Result<std::shared_ptr<detail::DeviceImpl>> open_impl(Backend backend, unsigned index) {
  switch (backend) {
    case Backend::cpu: return detail::cpu_open(index);
#if defined(SFT_GPU_HAVE_OPENCL)
    case Backend::opencl: return detail::opencl_open(index);
#endif
#if defined(SFT_GPU_HAVE_CUDA)
    case Backend::cuda: return detail::cuda_open(index);
#endif
    default: return not_built(backend);
  }
}
}  // namespace

Result<Device> open_device(Backend backend, unsigned index) {
  auto d = open_impl(backend, index);
  SFT_TRY(d);
  return Access::make_device(std::move(*d), {});
}

Result<Device> open_device(std::string_view backend, unsigned index) {
  if (!backend.empty() && backend != "auto") {
    auto b = parse_backend(backend);
    if (!b)
      return gpu_error(Errc::gpu_no_backend,
                       "unknown backend '" + std::string(backend) + "' (expected cpu, opencl, cuda or auto)");
    return open_device(*b, index);
  }
  // CUDA, then OpenCL, then the CPU backend; say why each one passed over failed.
  std::vector<std::string> notes;
  for (Backend b : {Backend::cuda, Backend::opencl, Backend::cpu}) {
    auto d = open_impl(b, index);
    if (d) return Access::make_device(std::move(*d), std::move(notes));
    notes.push_back(std::string(backend_name(b)) + ": " + d.error().to_string());
  }
  return gpu_error(Errc::gpu_no_device, "no backend has a device " + std::to_string(index));
}

}  // namespace sft::gpu
