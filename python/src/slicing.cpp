// python/src/slicing.cpp — Python indexing of a tensor (see slicing.hpp).
#include "slicing.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace sftpy {

namespace {

std::string format_shape(std::span<const std::uint64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string format_item(nb::handle item) {
  if (item.ptr() == Py_Ellipsis) return "...";
  if (PySlice_Check(item.ptr())) {
    auto part = [](nb::handle v) { return v.is_none() ? std::string() : std::string(nb::str(v).c_str()); };
    nb::handle start = item.attr("start"), stop = item.attr("stop"), step = item.attr("step");
    std::string s = part(start) + ":" + part(stop);
    if (!step.is_none()) s += ":" + part(step);
    return s;
  }
  return nb::repr(item).c_str();
}

// "[2:, 20] with shape [10, 5]", as the reference words the context of an error.
std::string describe(std::span<const nb::handle> items, std::span<const std::uint64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + format_item(items[i]);
  return s + "] with shape " + format_shape(shape);
}

[[noreturn]] void slice_error(sft::Errc code, const std::string& message, const sft::TensorInfo& info) {
  raise_error(code, message, info.name);
}

std::int64_t as_index(nb::handle v) {
  Py_ssize_t i = PyNumber_AsSsize_t(v.ptr(), PyExc_IndexError);
  if (i == -1 && PyErr_Occurred()) throw nb::python_error();
  return static_cast<std::int64_t>(i);
}

}  // namespace

Selection parse_selection(nb::handle key, const sft::TensorInfo& info) {
  const auto shape = info.shape;
  const std::size_t rank = shape.size();
  std::vector<nb::handle> items;
  if (PyTuple_Check(key.ptr())) {
    for (nb::handle h : nb::borrow<nb::tuple>(key)) items.push_back(h);
  } else {
    items.push_back(key);
  }

  std::size_t explicit_dims = 0, ellipses = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    nb::handle it = items[i];
    if (it.ptr() == Py_Ellipsis) {
      if (++ellipses > 1) slice_error(sft::Errc::invalid_argument, "Only one ellipsis (...) is allowed in slice index", info);
      continue;
    }
    if (PyList_Check(it.ptr())) {
      if (PyList_Size(it.ptr()) != 0) slice_error(sft::Errc::invalid_argument, "Non empty lists are not implemented", info);
    } else if (!PySlice_Check(it.ptr()) && !PyIndex_Check(it.ptr())) {
      slice_error(sft::Errc::invalid_argument,
                  "Unsupported slice index at position " + std::to_string(i) + ": expected slice, int, or ellipsis",
                  info);
    }
    ++explicit_dims;
  }
  if (explicit_dims > rank)
    slice_error(sft::Errc::slice_too_many_indices,
                "Error during slicing " + describe(items, shape) + ": more slicing indexes than dimensions in tensor",
                info);

  Selection sel;
  sel.dims.resize(rank);
  std::vector<bool> dropped(rank, false);
  std::size_t d = 0;
  auto out_of_bounds = [&](std::int64_t index, std::size_t dim) {
    slice_error(sft::Errc::slice_out_of_range,
                "Error during slicing " + describe(items, shape) + ": index " + std::to_string(index) +
                    " out of bounds for tensor dimension #" + std::to_string(dim) + " of size " +
                    std::to_string(shape[dim]),
                info);
  };
  auto invalid_index = [&](std::int64_t index, std::size_t dim) {
    slice_error(sft::Errc::slice_out_of_range,
                "Invalid index " + std::to_string(index) + " for dimension " + std::to_string(dim) + " of size " +
                    std::to_string(shape[dim]),
                info);
  };
  for (nb::handle it : items) {
    if (it.ptr() == Py_Ellipsis) {
      for (std::size_t k = 0; k < rank - explicit_dims; ++k, ++d) sel.dims[d] = {0, 1, shape[d]};
      continue;
    }
    const auto n = static_cast<std::int64_t>(shape[d]);
    if (PyList_Check(it.ptr())) {
      sel.dims[d] = {0, 1, 0};
    } else if (PySlice_Check(it.ptr())) {
      nb::handle hstart = it.attr("start"), hstop = it.attr("stop"), hstep = it.attr("step");
      std::int64_t step = hstep.is_none() ? 1 : as_index(hstep);
      if (step == 0) slice_error(sft::Errc::invalid_argument, "slice step cannot be zero", info);
      // Bounds are checked before Python's clamping: out of range is an error.
      Py_ssize_t start = step > 0 ? 0 : PY_SSIZE_T_MAX, stop = step > 0 ? PY_SSIZE_T_MAX : PY_SSIZE_T_MIN;
      if (!hstart.is_none()) {
        auto v = as_index(hstart);
        if (v < -n) invalid_index(v, d);
        if (v > n) out_of_bounds(v, d);
        start = static_cast<Py_ssize_t>(v);
      }
      if (!hstop.is_none()) {
        auto v = as_index(hstop);
        if (v < -n) invalid_index(v, d);
        if (v > n) out_of_bounds(v - 1, d);
        stop = static_cast<Py_ssize_t>(v);
      }
      Py_ssize_t count = PySlice_AdjustIndices(static_cast<Py_ssize_t>(n), &start, &stop, static_cast<Py_ssize_t>(step));
      sel.dims[d] = {static_cast<std::int64_t>(start), step, static_cast<std::uint64_t>(count)};
    } else {
      auto v = as_index(it);
      if (v < 0) {
        if (v < -n) invalid_index(v, d);
        v += n;
      }
      if (v >= n) out_of_bounds(v, d);
      sel.dims[d] = {v, 1, 1};
      dropped[d] = true;
    }
    ++d;
  }
  for (; d < rank; ++d) sel.dims[d] = {0, 1, shape[d]};

  std::uint64_t elements = 1;
  for (std::size_t k = 0; k < rank; ++k) {
    elements *= sel.dims[k].count;
    if (!dropped[k]) sel.shape.push_back(sel.dims[k].count);
  }
  const std::uint64_t bits = elements * sft::bits(info.dtype);
  if (bits % 8 != 0)
    slice_error(sft::Errc::slice_subbyte,
                "the slice of this " + std::string(sft::name(info.dtype)) + " tensor is not a whole number of bytes",
                info);
  sel.byte_size = bits / 8;
  return sel;
}

sft::Result<void> copy_selection(const Source& src, const sft::TensorInfo& info, const Selection& sel, std::byte* out) {
  if (sel.byte_size == 0) return {};
  const std::size_t rank = sel.dims.size();
  const std::uint64_t bits = sft::bits(info.dtype);
  std::vector<std::uint64_t> stride(rank, 1);  // in elements
  for (std::size_t k = rank; k-- > 1;) stride[k - 1] = stride[k] * info.shape[k];

  // The contiguous run: trailing dimensions taken whole, then one more with step 1.
  std::size_t outer = rank;
  std::uint64_t run_elements = 1;
  std::int64_t base = 0;  // element offset common to every run
  while (outer > 0) {
    const auto& dm = sel.dims[outer - 1];
    if (dm.start != 0 || dm.step != 1 || dm.count != info.shape[outer - 1]) break;
    run_elements *= dm.count;
    --outer;
  }
  if (outer > 0 && sel.dims[outer - 1].step == 1) {
    run_elements *= sel.dims[outer - 1].count;
    base = sel.dims[outer - 1].start * static_cast<std::int64_t>(stride[outer - 1]);
    --outer;
  }
  if ((run_elements * bits) % 8 != 0)
    return sft::Error(sft::Errc::slice_subbyte, "the slice's contiguous runs do not fall on byte boundaries",
                      sft::Error::no_offset, std::string(info.name));
  const std::uint64_t run_bytes = run_elements * bits / 8;

  // Byte offsets (within the tensor) of every run, in row-major order.
  std::uint64_t runs = 1;
  std::int64_t lo = base, hi = base;
  for (std::size_t k = 0; k < outer; ++k) {
    runs *= sel.dims[k].count;
    auto first = sel.dims[k].start * static_cast<std::int64_t>(stride[k]);
    auto last = (sel.dims[k].start + static_cast<std::int64_t>(sel.dims[k].count - 1) * sel.dims[k].step) *
                static_cast<std::int64_t>(stride[k]);
    lo += std::min(first, last);
    hi += std::max(first, last);
  }
  auto for_each_run = [&](auto&& fn) -> sft::Result<void> {
    std::vector<std::uint64_t> idx(outer, 0);
    for (std::uint64_t r = 0; r < runs; ++r) {
      std::int64_t at = base;
      for (std::size_t k = 0; k < outer; ++k)
        at += (sel.dims[k].start + static_cast<std::int64_t>(idx[k]) * sel.dims[k].step) *
              static_cast<std::int64_t>(stride[k]);
      const auto at_bits = static_cast<std::uint64_t>(at) * bits;
      if (at_bits % 8 != 0)
        return sft::Error(sft::Errc::slice_subbyte, "the slice's contiguous runs do not fall on byte boundaries",
                          sft::Error::no_offset, std::string(info.name));
      SFT_TRY(fn(at_bits / 8, r * run_bytes));
      for (std::size_t k = outer; k-- > 0;) {
        if (++idx[k] < sel.dims[k].count) break;
        idx[k] = 0;
      }
    }
    return {};
  };

  if (src.mapped()) {
    const std::byte* data = src.tensor_data(info);
    return for_each_run([&](std::uint64_t from, std::uint64_t to) -> sft::Result<void> {
      std::memcpy(out + to, data + from, static_cast<std::size_t>(run_bytes));
      return {};
    });
  }
  // pread / compressed: one read of the span that covers the selection when
  // that wastes little, else one read per run (adjacent runs merged).
  const std::uint64_t span_lo = static_cast<std::uint64_t>(lo) * bits / 8;
  const std::uint64_t span_bytes = (static_cast<std::uint64_t>(hi) * bits / 8) + run_bytes - span_lo;
  if (span_bytes <= 2 * sel.byte_size || span_bytes <= (std::uint64_t{16} << 20)) {
    SFT_TRY_ASSIGN(auto tmp, OwnedBuffer::allocate(static_cast<std::size_t>(span_bytes)));
    SFT_TRY(src.file().read_range(info, span_lo, tmp.span()));
    return for_each_run([&](std::uint64_t from, std::uint64_t to) -> sft::Result<void> {
      std::memcpy(out + to, tmp.data() + (from - span_lo), static_cast<std::size_t>(run_bytes));
      return {};
    });
  }
  std::uint64_t pending_from = 0, pending_to = 0, pending_len = 0;
  auto flush = [&]() -> sft::Result<void> {
    if (pending_len == 0) return {};
    SFT_TRY(src.file().read_range(info, pending_from, {out + pending_to, static_cast<std::size_t>(pending_len)}));
    pending_len = 0;
    return {};
  };
  auto merge = [&](std::uint64_t from, std::uint64_t to) -> sft::Result<void> {
    if (pending_len && from == pending_from + pending_len && to == pending_to + pending_len) {
      pending_len += run_bytes;
      return {};
    }
    SFT_TRY(flush());
    pending_from = from;
    pending_to = to;
    pending_len = run_bytes;
    return {};
  };
  SFT_TRY(for_each_run(merge));
  return flush();
}

}  // namespace sftpy
