// gpu_convert_dump BACKEND DIR — run the conversion kernels over inputs that
// tests/py/gpu_convert_vs_ml_dtypes.py wrote, for that script to compare with
// ml_dtypes. Reads DIR/in_<DTYPE>.bin (raw little-endian elements) and writes
// DIR/out_<SRC>_<DST>.bin for every supported pair; reads DIR/mxfp4_packed.bin
// and DIR/mxfp4_scales.bin and writes DIR/out_MXFP4_F32.bin and _BF16.bin.
// Exit 0: done; 77: the backend has no device here (the test skips), unless
// SFT_REQUIRE_BACKENDS lists it (then 1); 1: error.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "require.hpp"
#include "sft/gpu/device.hpp"
#include "sft/gpu/kernels.hpp"

using namespace sft;
using namespace sft::gpu;

namespace {

bool read_file(const std::string& path, std::vector<char>& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

bool write_file(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f);
}

int fail(const std::string& what, const Error& e) {
  std::cerr << what << ": " << e.to_string() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: gpu_convert_dump BACKEND DIR\n";
    return 2;
  }
  std::string dir = argv[2];
  auto dev = open_device(argv[1]);
  if (!dev) {
    if (sft::test::backend_required(argv[1])) {
      std::cerr << argv[1] << " is required (SFT_REQUIRE_BACKENDS) but does not open: " << dev.error().to_string() << "\n";
      return 1;
    }
    std::cerr << "skip: " << argv[1] << ": " << dev.error().to_string() << "\n";
    return 77;
  }
  auto q = dev->queue();
  if (!q) return fail("queue", q.error());

  auto to_device = [&](const std::vector<char>& bytes) -> Result<Buffer> {
    auto b = dev->alloc(bytes.size() + 1);
    if (!b) return b;
    if (auto w = q->write(*b, 0, bytes.data(), bytes.size()); !w) return w.error();
    return b;
  };
  auto from_device = [&](const Buffer& b, std::size_t n, std::vector<char>& out) -> Result<void> {
    out.resize(n);
    if (auto r = q->read(b, 0, out.data(), n); !r) return r.error();
    return q->finish();
  };

  for (DType src : {DType::F32, DType::F16, DType::BF16, DType::F8_E4M3, DType::F8_E5M2, DType::F8_E8M0}) {
    std::vector<char> in;
    if (!read_file(dir + "/in_" + std::string(name(src)) + ".bin", in)) continue;
    std::size_t count = in.size() / element_size(src);
    auto sb = to_device(in);
    if (!sb) return fail("upload", sb.error());
    for (DType dst : {DType::F32, DType::F16, DType::BF16}) {
      auto db = dev->alloc(count * element_size(dst) + 8);
      if (!db) return fail("alloc", db.error());
      if (auto e = convert(*q, In{*sb}, src, Out{*db}, dst, count); !e) return fail("convert", e.error());
      std::vector<char> out;
      if (auto r = from_device(*db, count * element_size(dst), out); !r) return fail("read", r.error());
      if (!write_file(dir + "/out_" + std::string(name(src)) + "_" + std::string(name(dst)) + ".bin", out)) return 1;
    }
  }

  std::vector<char> packed, scales;
  if (read_file(dir + "/mxfp4_packed.bin", packed) && read_file(dir + "/mxfp4_scales.bin", scales)) {
    std::size_t count = packed.size() * 2;
    auto pb = to_device(packed), sb = to_device(scales);
    if (!pb) return fail("upload", pb.error());
    if (!sb) return fail("upload", sb.error());
    for (DType dst : {DType::F32, DType::BF16}) {
      auto db = dev->alloc(count * element_size(dst));
      if (!db) return fail("alloc", db.error());
      if (auto e = dequantize_mxfp4(*q, In{*pb}, In{*sb}, Out{*db}, dst, count); !e) return fail("mxfp4", e.error());
      std::vector<char> out;
      if (auto r = from_device(*db, count * element_size(dst), out); !r) return fail("read", r.error());
      if (!write_file(dir + "/out_MXFP4_" + std::string(name(dst)) + ".bin", out)) return 1;
    }
  }
  std::cout << "converted on " << dev->info().name << " (" << backend_name(dev->backend()) << ")\n";
  return 0;
}
