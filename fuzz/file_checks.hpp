// fuzz/file_checks.hpp — touch everything a File hands out.
//
// Shared by fuzz_file and fuzz_structured: open the input as a file from
// memory, then walk every tensor view, its typed access, copies and a handful of
// slices (valid and invalid), checking each result against the bytes it must
// come from. Every byte a view exposes is read, so ASan would notice a view
// that strays outside the input.
#pragma once

#include <algorithm>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "sft/file.hpp"
#include "sft/slice.hpp"
#include "sft/tensor_view.hpp"

namespace sft::fuzz {

// Sum every byte so the reads cannot be optimised away.
inline std::uint64_t touch(std::span<const std::byte> s) {
  std::uint64_t acc = 0;
  for (std::byte b : s) acc = acc * 31 + static_cast<std::uint8_t>(b);
  return acc;
}

// as<T>() for the T matching the dtype: ok (the elements cover the bytes) or
// misaligned_data; and a wrong T is dtype_mismatch.
template <class T>
void check_typed(const TensorView& v) {
  auto r = v.as<T>();
  if (r) {
    FUZZ_CHECK(r->size() * sizeof(T) == v.size_bytes());
    FUZZ_CHECK(static_cast<const void*>(r->data()) == static_cast<const void*>(v.data()) || r->empty());
    if (!r->empty()) {
      T first, last;
      std::memcpy(&first, &(*r)[0], sizeof(T));
      std::memcpy(&last, &(*r)[r->size() - 1], sizeof(T));
      FUZZ_CHECK(std::memcmp(&first, v.data(), sizeof(T)) == 0);
      FUZZ_CHECK(std::memcmp(&last, v.data() + v.size_bytes() - sizeof(T), sizeof(T)) == 0);
    }
  } else {
    FUZZ_CHECK(r.error().code == Errc::misaligned_data);
  }
  if (v.dtype() != DType::U8 && v.dtype() != DType::BOOL) {
    auto wrong = v.as<std::uint8_t>();
    FUZZ_CHECK(!wrong && wrong.error().code == Errc::dtype_mismatch);
  } else {
    auto wrong = v.as<std::int8_t>();
    FUZZ_CHECK(!wrong && wrong.error().code == Errc::dtype_mismatch);
  }
}

inline void check_typed_any(const TensorView& v) {
  switch (v.dtype()) {
    case DType::BOOL: check_typed<std::uint8_t>(v); break;
    case DType::U8: check_typed<std::uint8_t>(v); break;
    case DType::I8: check_typed<std::int8_t>(v); break;
    case DType::I16: check_typed<std::int16_t>(v); break;
    case DType::U16: check_typed<std::uint16_t>(v); break;
    case DType::F16: check_typed<float16>(v); break;
    case DType::BF16: check_typed<bfloat16>(v); break;
    case DType::I32: check_typed<std::int32_t>(v); break;
    case DType::U32: check_typed<std::uint32_t>(v); break;
    case DType::F32: check_typed<float>(v); break;
    case DType::C64: check_typed<std::complex<float>>(v); break;
    case DType::F64: check_typed<double>(v); break;
    case DType::I64: check_typed<std::int64_t>(v); break;
    case DType::U64: check_typed<std::uint64_t>(v); break;
    case DType::F8_E5M2: check_typed<float8_e5m2>(v); break;
    case DType::F8_E4M3: check_typed<float8_e4m3>(v); break;
    case DType::F8_E8M0: check_typed<float8_e8m0>(v); break;
    case DType::F8_E4M3FNUZ: check_typed<float8_e4m3fnuz>(v); break;
    case DType::F8_E5M2FNUZ: check_typed<float8_e5m2fnuz>(v); break;
    case DType::F4: check_typed<float4_e2m1x2>(v); break;
    case DType::F6_E2M3: check_typed<float6_e2m3_packed>(v); break;
    case DType::F6_E3M2: check_typed<float6_e3m2_packed>(v); break;
  }
}

// plan_slice and read_slice agree with each other and with the view's bytes.
inline void check_slice(const File& f, const TensorView& v, std::span<const SliceSpec> spec) {
  const TensorInfo& info = v.info();
  auto plan = plan_slice(info, spec);
  if (!plan) {
    Errc c = plan.error().code;
    FUZZ_CHECK(c == Errc::slice_out_of_range || c == Errc::slice_bad_range ||
               c == Errc::slice_too_many_indices || c == Errc::slice_subbyte);
    std::vector<std::byte> none;
    auto r = f.read_slice(info, spec, none);
    FUZZ_CHECK(!r);
    return;
  }
  // Runs: non-empty, in order, inside the tensor, adding up to byte_size.
  FUZZ_CHECK(plan->byte_size <= info.byte_size());
  FUZZ_CHECK(plan->run_count == 0 || plan->run_bytes > 0);
  FUZZ_CHECK(plan->run_bytes * plan->run_count == plan->byte_size);
  std::uint64_t total = 0, prev_end = 0, runs = 0;
  plan->for_each_run([&](ByteRange br) {
    FUZZ_CHECK(br.begin < br.end);
    FUZZ_CHECK(br.begin >= prev_end);
    FUZZ_CHECK(br.end <= info.byte_size());
    total += br.end - br.begin;
    prev_end = br.end;
    ++runs;
  });
  FUZZ_CHECK(total == plan->byte_size);
  FUZZ_CHECK(runs == plan->run_count);
  // The result shape holds as many elements as the bytes selected.
  std::uint64_t elems = 1;
  for (auto d : plan->shape) elems *= d;
  if (plan->byte_size > 0) FUZZ_CHECK(elems * bits(info.dtype) == plan->byte_size * 8);

  std::vector<std::byte> out(plan->byte_size);
  auto r = f.read_slice(info, spec, out);
  FUZZ_CHECK(r.ok());
  FUZZ_CHECK(r->byte_size == plan->byte_size);
  std::size_t at = 0;
  plan->for_each_run([&](ByteRange br) {
    std::size_t n = br.end - br.begin;
    FUZZ_CHECK(std::memcmp(out.data() + at, v.data() + br.begin, n) == 0);
    at += n;
  });
  auto sliced = f.slice(info, spec);
  FUZZ_CHECK(sliced.ok());
  FUZZ_CHECK(sliced->size_bytes() == out.size());
  FUZZ_CHECK(out.empty() || std::memcmp(sliced->data(), out.data(), out.size()) == 0);
  FUZZ_CHECK(std::equal(sliced->shape().begin(), sliced->shape().end(), plan->shape.begin(), plan->shape.end()));
  FUZZ_CHECK(sliced->owned() == !plan->contiguous());
  if (plan->byte_size > 0) {
    std::vector<std::byte> small(plan->byte_size - 1);
    auto s = f.read_slice(info, spec, small);
    FUZZ_CHECK(!s && s.error().code == Errc::buffer_too_small);
  }
}

inline void check_slices(const File& f, const TensorView& v) {
  auto shape = v.shape();
  std::vector<SliceSpec> spec;
  check_slice(f, v, spec);  // the whole tensor
  if (shape.empty()) {
    SliceSpec one = SliceSpec::index(0);
    check_slice(f, v, std::span<const SliceSpec>(&one, 1));  // too many indices
    return;
  }
  const std::uint64_t d0 = shape[0];
  spec = {SliceSpec::index(0)};
  check_slice(f, v, spec);
  spec = {SliceSpec::index(static_cast<std::int64_t>(d0 & 0x3fffffffffffffff))};  // one past the end
  check_slice(f, v, spec);
  const auto half = static_cast<std::int64_t>((d0 / 2) & 0x3fffffffffffffff);
  const auto end = static_cast<std::int64_t>(d0 & 0x3fffffffffffffff);
  spec = {SliceSpec::range(half, end)};
  check_slice(f, v, spec);
  spec = {SliceSpec::range(end, half)};  // start > stop unless d0 / 2 == d0: empty
  check_slice(f, v, spec);
  spec = {SliceSpec::range(0, std::int64_t{1} << 62)};  // clamped to the dimension
  check_slice(f, v, spec);
  spec = {SliceSpec::range(SliceSpec::none, SliceSpec::none, 2)};
  check_slice(f, v, spec);
  spec = {SliceSpec::index(-1)};
  check_slice(f, v, spec);
  if (shape.size() >= 2) {
    const auto d1 = static_cast<std::int64_t>(shape[1] & 0x3fffffffffffffff);
    spec = {SliceSpec::all_of(), SliceSpec::range(d1 / 3, d1 - d1 / 3)};
    check_slice(f, v, spec);
    spec = {SliceSpec::range(-1, SliceSpec::none), SliceSpec::index(-1)};
    check_slice(f, v, spec);
  }
  spec.assign(shape.size() + 1, SliceSpec::all_of());  // too many
  check_slice(f, v, spec);
}

// The input as a whole file: open it and touch every tensor.
inline void check_file_bytes(const std::uint8_t* data, std::size_t size) {
  auto f = File::from_memory(as_bytes(data, size));
  if (!f) {
    check_parse_error(f.error(), size);
    return;
  }
  check_header(f->header(), size);
  FUZZ_CHECK(f->size() == size);
  std::size_t n = 0;
  auto views = f->views();
  FUZZ_CHECK(views.ok());
  for (TensorView v : *views) {
    const TensorInfo& info = v.info();
    FUZZ_CHECK(v.size_bytes() == info.byte_size());
    if (v.size_bytes() > 0)
      FUZZ_CHECK(v.data() == reinterpret_cast<const std::byte*>(data) + f->header().data_start() + info.data_offsets.begin);
    touch(v.bytes());
    auto by_name = f->tensor(info.name);
    FUZZ_CHECK(by_name && by_name->data() == v.data() && by_name->size_bytes() == v.size_bytes());
    check_typed_any(v);
    auto loaded = f->load(info);  // from memory: the same bytes, not a copy
    FUZZ_CHECK(loaded && !loaded->owned() && loaded->data() == v.data() && loaded->size_bytes() == v.size_bytes());

    std::vector<std::byte> copy(v.size_bytes());
    auto rd = f->read(info, copy);
    FUZZ_CHECK(rd.ok());
    FUZZ_CHECK(copy.empty() || std::memcmp(copy.data(), v.data(), copy.size()) == 0);
    if (!copy.empty()) {
      std::vector<std::byte> small(copy.size() - 1);
      auto s = f->read(info, small);
      FUZZ_CHECK(!s && s.error().code == Errc::buffer_too_small);
      // The last byte by range; a range past the end is refused.
      std::byte last{};
      FUZZ_CHECK(f->read_range(info, copy.size() - 1, std::span<std::byte>(&last, 1)).ok());
      FUZZ_CHECK(last == copy.back());
      FUZZ_CHECK(!f->read_range(info, copy.size(), std::span<std::byte>(&last, 1)).ok());
    }
    // Slicing is the costly part; a few tensors are enough per input.
    if (n++ < 16) check_slices(*f, v);
  }
  FUZZ_CHECK(n == f->header().size());
  auto missing = f->tensor("\xff not a tensor name");
  FUZZ_CHECK(!missing && missing.error().code == Errc::not_found);
}

}  // namespace sft::fuzz
