// python/src/reading.cpp — tensors as framework objects (see reading.hpp).
#include "reading.hpp"

#include <cerrno>
#include <cstring>

#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include "slicing.hpp"

namespace sftpy {

OpenSource::OpenSource(std::shared_ptr<const Source> s, Framework fw) : src(std::move(s)) {
  if (fw == Framework::numpy && src->mapped())
    numpy_base = region_object(src->data(), static_cast<std::size_t>(src->header().data_size()), src, src->writable());
}

Backend parse_backend(std::string_view name) {
  if (name == "mmap") return Backend::mmap;
  if (name == "pread") return Backend::pread;
  raise_error(sft::Errc::invalid_argument,
              "backend \"" + std::string(name) + "\" is invalid (expected one of: \"mmap\", \"pread\")");
}

std::shared_ptr<const Source> open_source(const std::string& path, Backend backend) {
  int sys_errno = 0;
  auto r = without_gil([&] { return Source::open(path, backend, &sys_errno); });
  if (!r) {
    if (sys_errno == ENOENT) raise_not_found(path);
    raise_error(r.error(), path);
  }
  return std::move(r).value();
}

namespace {

HostTensor host_tensor(const sft::TensorInfo& info, std::byte* data) {
  return HostTensor{data, static_cast<std::size_t>(info.byte_size()), info.dtype, info.shape};
}

}  // namespace

nb::object read_tensor(const Emitter& emitter, const OpenSource& s, const sft::TensorInfo& info, bool copy) {
  const Source& src = *s.src;
  if (src.mapped() && !copy)
    return emitter.view(host_tensor(info, src.tensor_data(info)), s.src, s.numpy_base, src.data(), src.writable());
  const sft::TensorInfo* one = &info;
  auto copies = without_gil([&] { return copy_tensors(src, {&one, 1}); });
  if (!copies) raise_error(copies.error(), src.path());
  auto buffer = std::make_shared<OwnedBuffer>(std::move(copies->front()));
  HostTensor t = host_tensor(info, buffer->data());
  return emitter.owned(t, std::move(buffer));
}

void read_tensors(const Emitter& emitter, const OpenSource& s, std::span<const sft::TensorInfo* const> infos,
                  bool copy, bool prefetch, nb::dict& out, bool sole_reader) {
  const Source& src = *s.src;
  if (src.mapped() && !copy) {
    if (prefetch) {
      nb::gil_scoped_release unlocked;
      src.prefetch(sole_reader);
    }
    for (const sft::TensorInfo* info : infos)
      out[py_name(info->name)] = emitter.view(host_tensor(*info, src.tensor_data(*info)), s.src, s.numpy_base,
                                              src.data(), src.writable());
    return;
  }
  // Copies: allocate every buffer and read them all in parallel without the
  // GIL, then build the objects.
  auto copies = without_gil([&] { return copy_tensors(src, infos); });
  if (!copies) raise_error(copies.error(), src.path());
  for (std::size_t i = 0; i < infos.size(); ++i) {
    auto buffer = std::make_shared<OwnedBuffer>(std::move((*copies)[i]));
    HostTensor t = host_tensor(*infos[i], buffer->data());
    out[py_name(infos[i]->name)] = emitter.owned(t, std::move(buffer));
  }
}

nb::object read_slice(const Emitter& emitter, const OpenSource& s, const sft::TensorInfo& info, nb::handle key) {
  auto spec = parse_selection(key, info);
  const sft::File& file = s.src->file();
  std::shared_ptr<OwnedBuffer> buffer;
  sft::SlicePlan plan;
  sft::Error failure;
  {
    nb::gil_scoped_release unlocked;
    [&] {
      auto p = sft::plan_slice(info, spec);
      if (!p) return void(failure = std::move(p).error());
      auto b = OwnedBuffer::allocate(static_cast<std::size_t>(p->byte_size));
      if (!b) return void(failure = std::move(b).error());
      buffer = std::make_shared<OwnedBuffer>(std::move(*b));
      auto r = file.read_slice(info, spec, buffer->span());
      if (!r) return void(failure = std::move(r).error());
      plan = std::move(*r);
    }();
  }
  if (failure.code != sft::Errc::ok) raise_error(failure, s.src->path());
  HostTensor t{buffer->data(), static_cast<std::size_t>(plan.byte_size), info.dtype, plan.shape};
  return emitter.owned(t, std::move(buffer));
}

nb::str dtype_name(sft::DType dtype) {
  auto n = sft::name(dtype);
  return nb::str(n.data(), n.size());
}

nb::list shape_list(std::span<const std::uint64_t> shape) {
  nb::list l;
  for (auto d : shape) l.append(nb::int_(d));
  return l;
}

// Checks `device` for the framework: numpy and dlpack take only the CPU;
// torch takes anything torch.device takes. Returns the torch.device to move
// tensors to, or None for the CPU.
nb::object resolve_device(Framework fw, nb::handle device) {
  if (device.is_none()) return nb::none();
  if (fw != Framework::torch) {
    if (PyUnicode_Check(device.ptr()) && nb::cast<std::string_view>(device) == "cpu") return nb::none();
    std::string shown = PyLong_Check(device.ptr()) ? "cuda:" + std::string(nb::str(device).c_str())
                                                   : std::string(nb::str(device).c_str());
    raise_error(sft::Errc::invalid_argument,
                "Device " + shown + " is not supported for framework " + std::string(framework_name(fw)));
  }
  nb::object torch = nb::module_::import_("torch");
  nb::object dev = torch.attr("device")(device);
  if (nb::cast<std::string>(dev.attr("type")) == "cpu") return nb::none();
  return dev;
}


nb::object to_device(nb::object tensor, nb::handle device) {
  if (device.is_none()) return tensor;
  return tensor.attr("to")(device);
}

}  // namespace sftpy
