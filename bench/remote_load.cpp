// bench/remote_load.cpp — sft_remote_load, the sft side of bench/remote_bench.py.
//
//   sft_remote_load URL [--options KEY=VALUE,...] [--reps N] [--tensors]
//
// Opens URL (File::open: the header's one or two range requests) and reads
// the whole data region into one buffer with File::read_bytes — one batch,
// split into parts fetched in parallel — or, with --tensors, tensor by tensor
// with File::read (one batch each). Prints one JSON object per repetition:
// seconds to open, seconds to read, bytes read, GB/s of the read, and the
// remote counters (requests, bytes received, retries). The buffer is touched
// once before the first repetition so that page faults are not timed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "sft/file.hpp"
#include "sft/remote.hpp"

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sft_remote_load URL [--options K=V,...] [--reps N] [--tensors]\n");
    return 2;
  }
  const std::string url = argv[1];
  sft::OpenOptions options;
  int reps = 1;
  bool per_tensor = false;
  if (const char* env = std::getenv("SFT_REMOTE_OPTIONS"))
    if (auto r = sft::set_remote_options(options.remote, env); !r) {
      std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
      return 2;
    }
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--options" && i + 1 < argc) {
      if (auto r = sft::set_remote_options(options.remote, argv[++i]); !r) {
        std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
        return 2;
      }
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (a == "--tensors") {
      per_tensor = true;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  std::unique_ptr<std::byte[]> buf;
  for (int rep = 0; rep < reps; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    auto f = sft::File::open(url, options);
    if (!f) {
      std::fprintf(stderr, "%s\n", f.error().to_string().c_str());
      return 1;
    }
    const double open_s = since(t0);
    const auto& h = f->header();
    const std::uint64_t n = h.data_size();
    if (!buf) {
      buf.reset(new std::byte[n]);
      std::memset(buf.get(), 0, n);  // fault the pages in before timing
    }
    t0 = std::chrono::steady_clock::now();
    if (per_tensor) {
      for (const auto& t : h.tensors()) {
        auto r = f->read(t, {buf.get() + t.data_offsets.begin, static_cast<std::size_t>(t.byte_size())});
        if (!r) {
          std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
          return 1;
        }
      }
    } else if (auto r = f->read_bytes(h.data_start(), {buf.get(), static_cast<std::size_t>(n)}); !r) {
      std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
      return 1;
    }
    const double read_s = since(t0);
    auto info = sft::remote_info(*f);
    std::printf("{\"open_s\":%.6f,\"read_s\":%.6f,\"bytes\":%llu,\"gbps\":%.4f,\"requests\":%llu,\"received\":%llu,"
                "\"retries\":%llu}\n",
                open_s, read_s, static_cast<unsigned long long>(n), read_s > 0 ? static_cast<double>(n) / read_s / 1e9 : 0.0,
                info ? static_cast<unsigned long long>(info->stats.requests) : 0ull,
                info ? static_cast<unsigned long long>(info->stats.bytes) : 0ull,
                info ? static_cast<unsigned long long>(info->stats.retries) : 0ull);
    std::fflush(stdout);
  }
  return 0;
}
