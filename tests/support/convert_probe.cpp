// convert_probe SRC DST: read raw SRC elements from stdin, write them converted
// to DST (sft::convert) on stdout. Lets tests/py/convert_ml_dtypes.py compare
// the library's conversions with ml_dtypes on every input it chooses.
#include <cstdio>
#include <string>
#include <vector>

#include "sft/convert.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: convert_probe SRC_DTYPE DST_DTYPE < in > out\n");
    return 2;
  }
  auto src = sft::parse_dtype(argv[1]);
  auto dst = sft::parse_dtype(argv[2]);
  if (!src || !dst) {
    std::fprintf(stderr, "convert_probe: unknown dtype\n");
    return 2;
  }
  std::vector<std::byte> in;
  std::byte buf[1 << 16];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, stdin)) > 0) in.insert(in.end(), buf, buf + got);
  std::vector<std::byte> out(in.size() / sft::element_size(*src) * sft::element_size(*dst));
  auto r = sft::convert(*src, in, *dst, out);
  if (!r) {
    std::fprintf(stderr, "convert_probe: %s\n", r.error().to_string().c_str());
    return 1;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
