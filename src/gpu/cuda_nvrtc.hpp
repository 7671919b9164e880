// src/gpu/cuda_nvrtc.hpp — NVRTC, loaded at run time (internal; CUDA builds only).
//
// The CUDA backend builds the kernel variants it has not compiled in with
// NVRTC, from the same embedded source OpenCL builds. libnvrtc is not linked:
// it is looked up with dlopen (libnvrtc.so.<major> of the toolkit sft was
// built with, then other majors, then $CUDA_HOME / $CUDA_PATH /
// /usr/local/cuda), so that a machine with only the NVIDIA driver runs sft
// with the compiled-in variants and without NVRTC's 100 MB.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sft/result.hpp"

namespace sft::gpu::detail {

class Nvrtc {
 public:
  // The process-wide instance; available() is false where no libnvrtc was found.
  static const Nvrtc& get();
  bool available() const noexcept { return compile_ != nullptr; }
  const std::string& version() const noexcept { return version_; }  // e.g. "13.0"
  const std::string& why_not() const noexcept { return why_not_; }  // where available() is false

  // Compile `source` with `options` for a real architecture (e.g.
  // "--gpu-architecture=sm_90") into a cubin; gpu_driver with NVRTC's log.
  Result<std::vector<std::byte>> cubin(const std::string& source, const std::vector<std::string>& options) const;

 private:
  Nvrtc();
  void* lib_ = nullptr;
  void* create_ = nullptr;
  void* compile_ = nullptr;
  void* log_size_ = nullptr;
  void* log_ = nullptr;
  void* cubin_size_ = nullptr;
  void* cubin_ = nullptr;
  void* destroy_ = nullptr;
  void* error_string_ = nullptr;
  std::string version_, why_not_;
};

}  // namespace sft::gpu::detail
