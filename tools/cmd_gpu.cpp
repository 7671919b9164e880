// tools/cmd_gpu.cpp — `sft gpu info` and `sft gpu load` (docs/cli.md, docs/gpu.md).
//
//   sft gpu info                 the backends built in, their devices, and what
//                                automatic selection picks
//   sft gpu load [...] FILE|DIR  upload every tensor (of the checkpoint a DIR or
//                                index describes) to a device, optionally verify
//                                and convert on the device, and report the speed
// Exit status: 0 success, 1 verification failed or an invalid checkpoint, 2
// usage error, unreadable input or a device error.
#if defined(SFT_HAVE_GPU)

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint_cli.hpp"
#include "command.hpp"
#include "header_loader.hpp"
#include "remote_cli.hpp"
#include "sft/file.hpp"
#include "sft/gpu/device.hpp"
#include "sft/gpu/loader.hpp"
#include "sft/gpu/tune.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft gpu info\n"
    "sft gpu load [--backend B] [--device N] [--verify] [--convert DTYPE] [--threads N]\n"
    "             [--staging COUNTxMIB] [--staged | --direct] [--pread | --mmap] FILE|DIR...\n"
    "  --backend B        cpu, opencl, cuda or auto (default: CUDA, then OpenCL, then cpu)\n"
    "  --device N         the backend's device N (default 0)\n"
    "  --verify           compare a digest computed on the device with the file's bytes\n"
    "  --convert DTYPE    convert F32/F16/BF16/F8 tensors to DTYPE (F32, F16, BF16) on the device\n"
    "  --threads N        reader threads (default 2)\n"
    "  --staging CxM      C pinned staging buffers of M MiB (default 4x64)\n"
    "  --staged/--direct  force the staging ring / reading straight into device memory\n"
    "  --pread            read the files with pread, never through a mapping (the default): a file\n"
    "                     truncated during the upload is an io_error naming it\n"
    "  --mmap             copy from the files' mappings instead (a file truncated meanwhile: SIGBUS)\n"
    "  a DIR or INDEX uploads the checkpoint its index describes (as sft validate sees it);\n"
    "  FILE and INDEX may be http(s) URLs (docs/remote.md)\n"
    "exit status: 0 uploaded (and verified), 1 verification failed or an invalid checkpoint,\n"
    "             2 usage, input or device error";

std::string human_bytes(std::uint64_t b) {
  char buf[64];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / static_cast<double>(1ull << 30));
  else if (b >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(b) / static_cast<double>(1ull << 20));
  else
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(b));
  return buf;
}

std::string describe(const gpu::DeviceInfo& i) {
  std::string s = std::string(gpu::backend_name(i.backend)) + " device " + std::to_string(i.index) + ": " +
                  printable(i.name) + "\n";
  s += "    platform " + printable(i.platform) + ", driver " + printable(i.driver_version) + "\n";
  s += "    memory " + human_bytes(i.global_memory) + " (largest buffer " + human_bytes(i.max_allocation) + "), " +
       std::to_string(i.compute_units) + " compute units, work groups up to " + std::to_string(i.max_work_group_size) +
       (i.host_unified ? ", host-unified memory" : "") + "\n";
  return s;
}

int run_info(std::span<const std::string_view> args) {
  if (!args.empty()) return usage_error("gpu", "info takes no arguments");
  std::string s;
  for (gpu::Backend b : {gpu::Backend::cpu, gpu::Backend::opencl, gpu::Backend::cuda}) {
    std::string name(gpu::backend_name(b));
    if (!gpu::backend_built(b)) {
      s += name + ": not built into this sft\n";
      continue;
    }
    auto devices = gpu::list_devices(b);
    if (!devices) {
      s += name + ": no device: " + printable(devices.error().to_string()) + "\n";
      continue;
    }
    s += name + ": " + std::to_string(devices->size()) + " device(s)\n";
    for (const auto& d : *devices) s += "  " + describe(d);
  }
  auto chosen = gpu::open_device("auto");
  if (chosen)
    s += "auto selects: " + std::string(gpu::backend_name(chosen->backend())) + " device " +
         std::to_string(chosen->info().index) + " (" + printable(chosen->info().name) + ")\n";
  else
    s += "auto selects nothing: " + printable(chosen.error().to_string()) + "\n";
  out(s);
  return 0;
}

bool parse_uint(std::string_view s, std::uint64_t& v) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

struct LoadArgs {
  std::string backend = "auto";
  unsigned device = 0;
  gpu::UploadOptions options = pread_by_default();
  std::vector<std::string> inputs;

  static gpu::UploadOptions pread_by_default() {
    gpu::UploadOptions o;
    o.read = gpu::ReadMethod::pread;
    return o;
  }
};

// Returns 0 when parsed, else the exit status of a usage error.
int parse_load(std::span<const std::string_view> args, LoadArgs& a) {
  auto value = [&](std::size_t& i) -> std::string_view { return ++i < args.size() ? args[i] : std::string_view(); };
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view s = args[i];
    if (options_done || s.empty() || s[0] != '-') {
      a.inputs.emplace_back(s);
      continue;
    }
    std::uint64_t n = 0;
    if (s == "--") {
      options_done = true;
    } else if (s == "--backend") {
      a.backend = std::string(value(i));
      if (a.backend.empty()) return usage_error("gpu", "--backend needs a value");
    } else if (s == "--device") {
      if (!parse_uint(value(i), n) || n > 1024) return usage_error("gpu", "--device needs a device number");
      a.device = static_cast<unsigned>(n);
    } else if (s == "--verify") {
      a.options.verify = true;
    } else if (s == "--convert") {
      auto d = parse_dtype(value(i));
      if (!d || !gpu::convert_target_ok(*d)) return usage_error("gpu", "--convert needs F32, F16 or BF16");
      a.options.convert_to = *d;
    } else if (s == "--threads") {
      if (!parse_uint(value(i), n) || n < 1 || n > 64) return usage_error("gpu", "--threads needs 1..64");
      a.options.reader_threads = static_cast<unsigned>(n);
    } else if (s == "--staging") {
      std::string_view v = value(i);
      auto x = v.find('x');
      std::uint64_t count = 0, mib = 0;
      if (x == std::string_view::npos || !parse_uint(v.substr(0, x), count) || !parse_uint(v.substr(x + 1), mib) ||
          count < 2 || count > 64 || mib < 1 || mib > 4096)
        return usage_error("gpu", "--staging needs COUNTxMIB, COUNT 2..64, MIB 1..4096 (e.g. 4x64)");
      a.options.staging_buffers = static_cast<std::size_t>(count);
      a.options.staging_bytes = mib << 20;
    } else if (s == "--staged") {
      a.options.staging = gpu::Staging::staged;
    } else if (s == "--direct") {
      a.options.staging = gpu::Staging::direct;
    } else if (s == "--pread") {
      a.options.read = gpu::ReadMethod::pread;
    } else if (s == "--mmap") {
      a.options.read = gpu::ReadMethod::mapping;
    } else {
      return usage_error("gpu", "unknown option '" + printable(s) + "'");
    }
  }
  if (a.inputs.empty()) return usage_error("gpu", "load needs a FILE or DIR");
  return 0;
}

// The files to upload for one input. A FILE is itself. A DIR or an index is
// the checkpoint Checkpoint::open describes, checked as `sft validate` checks
// it: its listed shards and nothing else in the directory (an unlisted file,
// or a symlink to one outside it, is never read), so that every command sees
// the same model.
struct Input {
  std::optional<Checkpoint> checkpoint;  // owns the shards' Files (they stay put when it moves)
  std::optional<File> file;
  std::vector<const File*> shards;       // into checkpoint
  std::vector<const File*> files() const { return file ? std::vector<const File*>{&*file} : shards; }
};

// Files are opened in the mode the read method needs: for pread (the
// default) in pread mode, so that no byte is ever read through a mapping and
// a file truncated during the upload is an io_error, not SIGBUS.
std::optional<Input> open_input(const std::string& path, gpu::ReadMethod method, int* status) {
  Input in;
  const ReadMode mode = method == gpu::ReadMethod::mapping ? ReadMode::mmap : ReadMode::pread;
  if (is_checkpoint_path(path)) {
    CheckpointOptions options;
    options.open.hint = AccessHint::sequential;
    options.open.mode = mode;
    in.checkpoint = open_checked_checkpoint(path, status, options);
    if (!in.checkpoint) return std::nullopt;
    for (std::size_t i = 0; i < in.checkpoint->shards().size(); ++i) {
      auto f = in.checkpoint->shard(i);  // opened by the check already
      if (!f) {
        err(error_line(path, f.error()));
        *status = error_status(f.error());
        return std::nullopt;
      }
      in.shards.push_back(*f);
    }
    return in;
  }
  auto f = File::open(path, with_remote({.mode = mode, .hint = AccessHint::sequential}));
  if (!f) {
    err("sft gpu: " + shown_path(path) + ": " + printable(f.error().to_string()) + "\n");
    *status = 2;
    return std::nullopt;
  }
  in.file.emplace(std::move(*f));
  return in;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}

int run_load(std::span<const std::string_view> args) {
  LoadArgs a;
  if (int rc = parse_load(args, a); rc != 0) return rc;
  auto dev = gpu::open_device(a.backend, a.device);
  if (!dev) {
    err("sft gpu: " + printable(dev.error().to_string()) + "\n");
    return 2;
  }
  std::string head = "device: " + std::string(gpu::backend_name(dev->backend())) + " device " +
                     std::to_string(dev->info().index) + " (" + printable(dev->info().name) + ")\n";
  for (const auto& note : dev->notes()) head += "  passed over " + printable(note) + "\n";
  out(head);
  gpu::Tuner tuner = gpu::Tuner::open();
  for (const auto& w : tuner.warnings()) err("sft gpu: warning: " + printable(w) + "\n");

  int status = 0;
  for (const auto& input : a.inputs) {
    int input_status = 2;
    auto in = open_input(input, a.options.read, &input_status);
    if (!in) {
      status = std::max(status, input_status);
      continue;
    }
    test_stall_point("inputs-open");
    const std::vector<const File*> ptrs = in->files();
    std::uint64_t total = 0;
    for (const File* f : ptrs) total += f->header().data_size();
    // Launch shapes from the tuning cache (`sft tune`), where it has them.
    gpu::UploadOptions options = a.options;
    options.checksum_config = *tuner.config(*dev, gpu::checksum_key(total));
    options.convert_config = *tuner.config(*dev, gpu::convert_key(DType::BF16, options.convert_to.value_or(DType::F32), total / 2));
    auto up = gpu::upload(*dev, ptrs, {}, options);
    if (!up) {
      const Error& e = up.error();
      // The error names the file offset; say which file when there are several.
      std::string where = shown_path(input);
      err("sft gpu: " + where + ": " + printable(e.to_string()) + "\n");
      status = std::max(status, e.code == Errc::gpu_verify_failed ? 1 : 2);
      continue;
    }
    const gpu::UploadStats& st = up->stats;
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.3f GB/s", st.gb_per_second());
    std::string s = shown_path(input) + ": " + std::to_string(ptrs.size()) + " file(s), " +
                    std::to_string(st.tensors) + " tensors in " + std::to_string(st.regions) + " region(s), " +
                    human_bytes(st.bytes) + " in " + seconds(st.seconds) + " = " + rate + "\n";
    s += "  " + std::string(st.direct ? "direct into device memory" : "staged through pinned buffers") + ", " +
         std::to_string(st.chunks) + " chunks, " + std::to_string(st.reader_threads) + " reader thread(s)\n";
    char pipe[64];
    const double ps = st.pipeline_seconds();
    std::snprintf(pipe, sizeof pipe, "%.3f GB/s", ps > 0 ? static_cast<double>(st.bytes) / ps / 1e9 : 0.0);
    s += "  allocate " + seconds(st.alloc_seconds) + ", read " + seconds(st.read_seconds) +
         " (summed over threads), copy " + seconds(st.copy_seconds) + ", kernels " + seconds(st.kernel_seconds) +
         "; pipeline alone " + pipe + "\n";
    if (st.verified) s += "  verified: the device's digest of every region matches the file's bytes\n";
    if (a.options.convert_to) {
      std::size_t converted = 0;
      for (const auto& t : up->tensors) converted += t.dtype != t.file_dtype;
      s += "  converted " + std::to_string(converted) + " tensor(s) to " + std::string(name(*a.options.convert_to)) +
           " on the device\n";
    }
    out(s);
  }
  return status;
}

int run_gpu(std::span<const std::string_view> args) {
  if (args.empty()) return usage_error("gpu", "expected 'info' or 'load'");
  if (args[0] == "info") return run_info(args.subspan(1));
  if (args[0] == "load") return run_load(args.subspan(1));
  return usage_error("gpu", "unknown subcommand '" + printable(args[0]) + "' (expected 'info' or 'load')");
}

}  // namespace

SFT_COMMAND("gpu", "list GPU backends and devices; upload files to a device", kUsage, run_gpu);

}  // namespace sft::cli

#endif  // SFT_HAVE_GPU
