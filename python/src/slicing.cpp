// python/src/slicing.cpp — Python indexing of a tensor (see slicing.hpp).
#include "slicing.hpp"

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

std::vector<sft::SliceSpec> parse_selection(nb::handle key, const sft::TensorInfo& info) {
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

  std::vector<sft::SliceSpec> spec;
  spec.reserve(rank);
  for (nb::handle it : items) {
    const std::size_t d = spec.size();
    if (it.ptr() == Py_Ellipsis) {
      spec.insert(spec.end(), rank - explicit_dims, sft::SliceSpec::all_of());
      continue;
    }
    const auto n = static_cast<std::int64_t>(shape[d]);
    if (PyList_Check(it.ptr())) {
      spec.push_back(sft::SliceSpec::range(0, 0));
    } else if (PySlice_Check(it.ptr())) {
      nb::handle start = it.attr("start"), stop = it.attr("stop"), step = it.attr("step");
      std::int64_t b = sft::SliceSpec::none, e = sft::SliceSpec::none;
      if (!start.is_none()) {
        b = as_index(start);
        if (b < -n) invalid_index(b, d);
        if (b > n) out_of_bounds(b, d);
      }
      if (!stop.is_none()) {
        e = as_index(stop);
        if (e < -n) invalid_index(e, d);
        if (e > n) out_of_bounds(e - 1, d);
      }
      spec.push_back(sft::SliceSpec::range(b, e, step.is_none() ? 1 : as_index(step)));
    } else {
      auto v = as_index(it);
      if (v < -n) invalid_index(v, d);
      if (v >= n) out_of_bounds(v, d);
      spec.push_back(sft::SliceSpec::index(v));
    }
  }
  return spec;
}

}  // namespace sftpy
