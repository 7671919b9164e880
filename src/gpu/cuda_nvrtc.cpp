// NVRTC through dlopen (cuda_nvrtc.hpp). Only nvrtc.h's types are used at
// compile time; every function is found with dlsym and called through a
// pointer of the declared type.
#include "cuda_nvrtc.hpp"

#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nvrtc.h>

#include <cstdlib>

#include "backend.hpp"

namespace sft::gpu::detail {
namespace {

template <class F> F as(void* p) { return reinterpret_cast<F>(p); }

}  // namespace

const Nvrtc& Nvrtc::get() {
  static const Nvrtc instance;
  return instance;
}

Nvrtc::Nvrtc() {
  std::vector<std::string> names;
  // The toolkit's own major first (its NVRTC speaks to this runtime's driver), then others.
  names.push_back("libnvrtc.so." + std::to_string(CUDART_VERSION / 1000));
  for (int major : {13, 12, 14, 11}) names.push_back("libnvrtc.so." + std::to_string(major));
  names.push_back("libnvrtc.so");
  for (const char* env : {"CUDA_HOME", "CUDA_PATH"})
    if (const char* home = std::getenv(env); home && *home) names.push_back(std::string(home) + "/lib64/libnvrtc.so");
  names.push_back("/usr/local/cuda/lib64/libnvrtc.so");
  for (const auto& n : names) {
    lib_ = ::dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib_) break;
  }
  if (!lib_) {
    why_not_ = "libnvrtc not found (tried " + names.front() + ", ..., /usr/local/cuda/lib64/libnvrtc.so)";
    return;
  }
  create_ = ::dlsym(lib_, "nvrtcCreateProgram");
  log_size_ = ::dlsym(lib_, "nvrtcGetProgramLogSize");
  log_ = ::dlsym(lib_, "nvrtcGetProgramLog");
  cubin_size_ = ::dlsym(lib_, "nvrtcGetCUBINSize");
  cubin_ = ::dlsym(lib_, "nvrtcGetCUBIN");
  destroy_ = ::dlsym(lib_, "nvrtcDestroyProgram");
  error_string_ = ::dlsym(lib_, "nvrtcGetErrorString");
  void* version = ::dlsym(lib_, "nvrtcVersion");
  void* compile = ::dlsym(lib_, "nvrtcCompileProgram");
  if (!create_ || !log_size_ || !log_ || !cubin_size_ || !cubin_ || !destroy_ || !error_string_ || !version || !compile) {
    why_not_ = "libnvrtc lacks a function sft needs (too old?)";
    return;
  }
  int major = 0, minor = 0;
  if (as<decltype(&nvrtcVersion)>(version)(&major, &minor) == NVRTC_SUCCESS)
    version_ = std::to_string(major) + "." + std::to_string(minor);
  compile_ = compile;  // available() from here on
}

Result<std::vector<std::byte>> Nvrtc::cubin(const std::string& source, const std::vector<std::string>& options) const {
  if (!available()) return gpu_error(Errc::gpu_driver, "NVRTC: " + why_not_);
  auto err = [&](const char* what, nvrtcResult r) {
    return gpu_error(Errc::gpu_driver,
                     std::string("NVRTC ") + what + ": " + as<decltype(&nvrtcGetErrorString)>(error_string_)(r));
  };
  nvrtcProgram prog = nullptr;
  if (auto r = as<decltype(&nvrtcCreateProgram)>(create_)(&prog, source.c_str(), "sft_kernels.cu", 0, nullptr, nullptr);
      r != NVRTC_SUCCESS)
    return err("nvrtcCreateProgram", r);
  auto destroy = as<decltype(&nvrtcDestroyProgram)>(destroy_);
  std::vector<const char*> opts;
  for (const auto& o : options) opts.push_back(o.c_str());
  nvrtcResult r = as<decltype(&nvrtcCompileProgram)>(compile_)(prog, static_cast<int>(opts.size()), opts.data());
  if (r != NVRTC_SUCCESS) {
    size_t n = 0;
    std::string log;
    if (as<decltype(&nvrtcGetProgramLogSize)>(log_size_)(prog, &n) == NVRTC_SUCCESS && n > 1) {
      log.resize(n);
      as<decltype(&nvrtcGetProgramLog)>(log_)(prog, log.data());
      while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
      if (log.size() > 2000) log.resize(2000);
    }
    Error e = err("nvrtcCompileProgram", r);
    e.message += ": " + log;
    destroy(&prog);
    return e;
  }
  size_t size = 0;
  if (auto s = as<decltype(&nvrtcGetCUBINSize)>(cubin_size_)(prog, &size); s != NVRTC_SUCCESS || size == 0) {
    destroy(&prog);
    return err("nvrtcGetCUBINSize", s);
  }
  std::vector<std::byte> bin(size);
  if (auto s = as<decltype(&nvrtcGetCUBIN)>(cubin_)(prog, reinterpret_cast<char*>(bin.data())); s != NVRTC_SUCCESS) {
    destroy(&prog);
    return err("nvrtcGetCUBIN", s);
  }
  destroy(&prog);
  return bin;
}

}  // namespace sft::gpu::detail
