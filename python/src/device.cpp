// python/src/device.cpp — load_to_device: files through sft_gpu's upload
// pipeline (sft/gpu/loader.hpp) into framework tensors on the device.
//
// The device memory comes from sft_gpu and is handed to the framework through
// DLPack without a copy; the regions of one upload stay alive as long as any
// tensor made from them (the DLPack owner holds the whole upload result).
// Device kinds: the cpu backend (host memory: numpy, torch, dlpack), cuda
// (torch or dlpack; DLPack device kDLCUDA), opencl (no framework takes
// OpenCL memory through DLPack: refused).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include "common.hpp"
#include "frameworks.hpp"
#include "reading.hpp"
#include "sft/gpu/device.hpp"
#include "sft/gpu/loader.hpp"

namespace sftpy {

std::vector<std::string> checkpoint_paths(nb::handle checkpoint);  // checkpoint.cpp

namespace {

struct Upload {
  std::vector<sft::File> files;  // kept until the upload is done; tensors do not need them
  sft::gpu::DeviceTensors tensors;
};

// "cpu", "cuda", "cuda:1", "opencl:0", "auto" -> backend name and index.
std::pair<std::string, unsigned> parse_device(std::string_view device) {
  auto colon = device.find(':');
  std::string kind(device.substr(0, colon));
  unsigned index = 0;
  if (colon != std::string_view::npos) {
    auto digits = device.substr(colon + 1);
    if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string_view::npos)
      raise_error(sft::Errc::invalid_argument, "device \"" + std::string(device) + "\": the index is not a number");
    index = static_cast<unsigned>(std::stoul(std::string(digits)));
  }
  return {kind, index};
}

nb::object load_to_device(std::vector<std::string> paths, std::string_view device, std::string_view framework,
                          std::optional<std::vector<std::string>> names, bool verify,
                          std::optional<std::string> convert_to) {
  Framework fw = parse_framework(framework);
  auto [kind, index] = parse_device(device);
  std::optional<sft::DType> target;
  if (convert_to) {
    target = sft::parse_dtype(*convert_to);
    if (!target) raise_error(sft::Errc::invalid_argument, "convert_to: unknown dtype \"" + *convert_to + "\"");
  }
  Emitter emitter(fw);

  auto upload = std::make_shared<Upload>();
  sft::Error failure;
  sft::gpu::Backend backend = sft::gpu::Backend::cpu;
  {
    nb::gil_scoped_release unlocked;
    [&] {
      for (const auto& p : paths) {
        auto f = sft::File::open(p);
        if (!f) {
          failure = std::move(f).error().with_context(p);
          return;
        }
        upload->files.push_back(std::move(*f));
      }
      auto parsed = sft::gpu::parse_backend(kind);
      auto dev = kind == "auto" || !parsed ? sft::gpu::open_device(std::string_view(kind), index)
                                           : sft::gpu::open_device(*parsed, index);
      if (!dev) {
        failure = std::move(dev).error();
        return;
      }
      backend = dev->backend();
      std::vector<const sft::File*> files;
      for (const auto& f : upload->files) files.push_back(&f);
      sft::gpu::Selection sel;
      if (names) sel.names = *names;
      sft::gpu::UploadOptions o;
      o.verify = verify;
      o.convert_to = target;
      auto r = sft::gpu::upload(*dev, files, sel, o);
      if (!r) {
        failure = std::move(r).error();
        return;
      }
      upload->tensors = std::move(*r);
      upload->files.clear();
    }();
  }
  if (failure.code != sft::Errc::ok) raise_error(failure);

  int dl_device = 1;  // kDLCPU
  if (backend == sft::gpu::Backend::cuda) dl_device = 2;  // kDLCUDA
  if (backend == sft::gpu::Backend::opencl)
    raise_error(sft::Errc::gpu_unsupported,
                "OpenCL device memory cannot be handed to numpy or torch (DLPack has no importer for it); use device "
                "\"cpu\" or \"cuda\"");
  if (dl_device != 1 && fw == Framework::numpy)
    raise_error(sft::Errc::invalid_argument, "numpy arrays live in host memory: use framework \"pt\" or \"dlpack\"");

  nb::dict out;
  Keep keep = upload;
  for (const auto& t : upload->tensors.tensors) {
    const auto& buffer = upload->tensors.buffer(t);
    auto* base = static_cast<std::byte*>(buffer.native_handle());
    HostTensor h{base ? base + t.offset : nullptr, static_cast<std::size_t>(t.bytes), t.dtype, t.shape};
    if (dl_device == 1) {
      out[py_name(t.name)] = emitter.owned(h, keep);
    } else {
      out[py_name(t.name)] = device_tensor(fw, h, keep, dl_device, static_cast<int>(index));
    }
  }
  return out;
}

}  // namespace

void init_device(nb::module_& m) {
  m.def("_load_to_device", &load_to_device, nb::arg("paths"), nb::arg("device"), nb::arg("framework"),
        nb::arg("names").none(), nb::arg("verify"), nb::arg("convert_to").none());
  m.def("_checkpoint_paths", &checkpoint_paths, nb::arg("checkpoint"));
}

}  // namespace sftpy
