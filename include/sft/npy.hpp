// sft/npy.hpp — reading and writing NumPy .npy arrays, safely.
//
// The .npy header is a Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// NumPy itself evaluates it with ast.literal_eval; sft parses only that exact
// shape of literal, bounded in size (1 MiB) and rank (64), and never anything
// resembling pickle: object arrays ('O'), strings, datetimes and structured
// dtypes are npy_unsupported, anything malformed is npy_bad_header.
//
// Dtypes (the descr's kind and width; '<' little-endian, '>' big-endian, '|'
// and '=' taken as little-endian, the only byte order sft runs on):
//   f2 F16, f4 F32, f8 F64, i1 I8, u1 U8, i2 I16, u2 U16, i4 I32, u4 U32,
//   i8 I64, u8 U64, b1 BOOL, c8 C64; 'V<n>' and 'f1' are raw bytes with no
//   dtype of their own (what ml_dtypes' bfloat16 and float8 arrays save as).
// Big-endian data is byte-swapped (each half of a complex separately) and
// fortran_order arrays are transposed into C order by npy_to_c_order().
//
// Writing (npy_layout / npy_preamble / write_npy): dtypes NumPy has are written
// as themselves; the ones it lacks are written as raw bits of the same width:
//   BF16 -> '<u2' (same shape), F8_* -> '|u1' (same shape),
//   F4 / F6 -> '|u1' bytes: the last dimension becomes its byte count when it
//   packs into whole bytes (F4: even; F6: a multiple of 4), else the array is
//   flattened to one dimension of byte_size bytes.
// `arr.view(ml_dtypes.bfloat16)` (etc.) recovers the values in Python.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sft/dtype.hpp"
#include "sft/result.hpp"

namespace sft {

inline constexpr std::uint64_t npy_max_header_bytes = 1u << 20;
inline constexpr std::size_t npy_max_rank = 64;

struct NpyHeader {
  unsigned major_version = 1;        // 1, 2 or 3
  std::string descr;                 // as written, e.g. "<f4"
  std::optional<DType> dtype;        // nullopt for raw 'V<n>' / 'f1' data
  unsigned item_size = 0;            // bytes per element
  bool big_endian = false;           // '>' with an item wider than one byte
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;  // () is a scalar
  std::uint64_t data_offset = 0;     // bytes before the data: magic, version, length, dict
  std::uint64_t data_size = 0;       // item_size x element count

  std::uint64_t element_count() const noexcept {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  // True when the data must be converted (byte-swapped or transposed) before
  // it is C-order little-endian.
  bool needs_conversion() const noexcept;
};

// Parse the preamble of a .npy file. `bytes` holds at least the preamble (the
// whole file is fine); `file_size` is the size of the whole file, which must be
// exactly data_offset + data_size. Errors: npy_bad_header (bad magic, version,
// length, literal, keys, shape, size, truncated or trailing data) and
// npy_unsupported (a dtype sft has no equivalent for), with the byte offset.
Result<NpyHeader> parse_npy_header(std::span<const std::byte> bytes, std::uint64_t file_size);

// Copy the array's data (`data`: the data_size bytes after the preamble) to
// `out` (data_size bytes) as C-order, little-endian elements.
Result<void> npy_to_c_order(const NpyHeader& header, std::span<const std::byte> data, std::span<std::byte> out);

// How a tensor of `dtype` and `shape` is stored in a .npy (see above).
struct NpyLayout {
  std::string descr;
  std::vector<std::uint64_t> shape;
};
NpyLayout npy_layout(DType dtype, std::span<const std::uint64_t> shape);

// The magic, version, length and padded dict of a C-order .npy with `layout`:
// version 1.0, or 2.0 if the dict needs more than 65535 bytes. Its size is a
// multiple of 64, as NumPy writes.
std::vector<std::byte> npy_preamble(const NpyLayout& layout);

// Write a .npy atomically (temporary file, fsync, rename), like Writer does.
// `data` must be the tensor's bytes (its byte size for dtype x shape).
Result<void> write_npy(const std::filesystem::path& path, DType dtype, std::span<const std::uint64_t> shape,
                       std::span<const std::byte> data);

// The streaming form, for tensors that need not fit in memory: the
// `data_bytes` bytes of the tensor come from `fill`, called in order with
// (offset within the data, a buffer of at most `chunk_bytes` to fill). Memory
// stays at one chunk whatever the tensor's size, so a file that claims a
// huge tensor cannot make the caller allocate it. An error from `fill` stops
// the write, removes the temporary and is returned unchanged (so the caller
// can tell its input's failure from a failed write: write_failed);
// out_of_memory if even the chunk cannot be allocated.
using NpyFill = std::function<Result<void>(std::uint64_t offset, std::span<std::byte> out)>;
inline constexpr std::size_t npy_default_chunk_bytes = std::size_t{8} << 20;
Result<void> write_npy(const std::filesystem::path& path, DType dtype, std::span<const std::uint64_t> shape,
                       std::uint64_t data_bytes, const NpyFill& fill,
                       std::size_t chunk_bytes = npy_default_chunk_bytes);

}  // namespace sft
