// Writing .npy: how each dtype is stored, the preamble, the atomic file.
#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "sft_internal/atomic_file.hpp"
#include "sft/npy.hpp"

namespace sft {

NpyLayout npy_layout(DType dtype, std::span<const std::uint64_t> shape) {
  NpyLayout l;
  l.shape.assign(shape.begin(), shape.end());
  switch (dtype) {
    case DType::BOOL: l.descr = "|b1"; break;
    case DType::U8: l.descr = "|u1"; break;
    case DType::I8: l.descr = "|i1"; break;
    case DType::I16: l.descr = "<i2"; break;
    case DType::U16: l.descr = "<u2"; break;
    case DType::F16: l.descr = "<f2"; break;
    case DType::I32: l.descr = "<i4"; break;
    case DType::U32: l.descr = "<u4"; break;
    case DType::F32: l.descr = "<f4"; break;
    case DType::C64: l.descr = "<c8"; break;
    case DType::F64: l.descr = "<f8"; break;
    case DType::I64: l.descr = "<i8"; break;
    case DType::U64: l.descr = "<u8"; break;
    // NumPy has no such types: raw bits of the same width.
    case DType::BF16: l.descr = "<u2"; break;
    case DType::F8_E5M2: case DType::F8_E4M3: case DType::F8_E8M0: case DType::F8_E4M3FNUZ:
    case DType::F8_E5M2FNUZ: l.descr = "|u1"; break;
    case DType::F4: case DType::F6_E2M3: case DType::F6_E3M2: {
      // Packed: elements per group, bytes per group (F4: 2 in 1; F6: 4 in 3).
      const std::uint64_t per = dtype == DType::F4 ? 2 : 4, bytes = dtype == DType::F4 ? 1 : 3;
      l.descr = "|u1";
      if (!l.shape.empty() && l.shape.back() % per == 0) {
        l.shape.back() = l.shape.back() / per * bytes;
      } else {
        std::uint64_t count = 1;
        for (auto d : shape) count *= d;
        l.shape.assign(1, count * bits(dtype) / 8);
      }
      break;
    }
  }
  return l;
}

std::vector<std::byte> npy_preamble(const NpyLayout& layout) {
  std::string dict = "{'descr': '" + layout.descr + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < layout.shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(layout.shape[i]);
  }
  if (layout.shape.size() == 1) dict += ',';
  dict += "), }";
  // Pad with spaces and a final newline so that the data starts at a multiple of 64.
  std::size_t fixed = dict.size() + 1 + 10;
  bool v2 = fixed + 63 > 10 + 65535;
  if (v2) fixed += 2;
  dict.append((64 - fixed % 64) % 64, ' ');
  dict += '\n';
  std::vector<std::byte> out;
  const unsigned char magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(v2 ? 2 : 1), 0};
  for (auto c : magic) out.push_back(std::byte{c});
  const std::uint64_t len = dict.size();
  for (int i = 0; i < (v2 ? 4 : 2); ++i) out.push_back(static_cast<std::byte>((len >> (8 * i)) & 0xff));
  for (char c : dict) out.push_back(static_cast<std::byte>(c));
  return out;
}

namespace {

// The tensor's byte count must be what dtype x shape implies.
Result<void> check_data_size(DType dtype, std::span<const std::uint64_t> shape, std::uint64_t data_bytes) {
  std::uint64_t count = 1;
  for (auto d : shape) {
    if (d != 0 && count > ~std::uint64_t{0} / d / 8)
      return Error(Errc::size_overflow, "the element count of the shape overflows");
    count *= d;
  }
  if (count * bits(dtype) % 8 != 0 || count * bits(dtype) / 8 != data_bytes)
    return Error(Errc::data_size_mismatch, std::to_string(data_bytes) + " bytes do not hold " +
                                               std::to_string(count) + " elements of " + std::string(name(dtype)));
  return {};
}

}  // namespace

Result<void> write_npy(const std::filesystem::path& path, DType dtype, std::span<const std::uint64_t> shape,
                       std::span<const std::byte> data) {
  SFT_TRY(check_data_size(dtype, shape, data.size()));
  auto pre = npy_preamble(npy_layout(dtype, shape));
  SFT_TRY_ASSIGN(auto f, detail::AtomicFile::create(path));
  const std::span<const std::byte> parts[] = {pre, data};
  SFT_TRY(f.write_gather(0, parts));
  return f.commit(true);
}

Result<void> write_npy(const std::filesystem::path& path, DType dtype, std::span<const std::uint64_t> shape,
                       std::uint64_t data_bytes, const NpyFill& fill, std::size_t chunk_bytes) {
  if (chunk_bytes == 0) return Error(Errc::invalid_argument, "write_npy: chunk_bytes must be at least 1");
  SFT_TRY(check_data_size(dtype, shape, data_bytes));
  const auto pre = npy_preamble(npy_layout(dtype, shape));
  std::vector<std::byte> buf;
  try {
    buf.resize(static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, data_bytes)));
  } catch (const std::bad_alloc&) {
    return Error(Errc::out_of_memory, "write_npy: no memory for a buffer of " + std::to_string(chunk_bytes) + " bytes");
  }
  SFT_TRY_ASSIGN(auto f, detail::AtomicFile::create(path));
  SFT_TRY(f.write_at(0, pre));
  for (std::uint64_t done = 0; done < data_bytes;) {
    const std::span<std::byte> piece(buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), data_bytes - done)));
    SFT_TRY(fill(done, piece));  // the temporary goes with `f`
    SFT_TRY(f.write_at(pre.size() + done, piece));
    done += piece.size();
  }
  return f.commit(true);
}

}  // namespace sft
