// python/src/support.cpp — small native helpers of the pure-Python layer.
#include <nanobind/stl/pair.h>

#include "common.hpp"
#include "sft/dtype.hpp"
#include "source.hpp"

namespace sftpy {

namespace {

// (address, length) of an object's contiguous bytes (the buffer protocol),
// for handing a bytes-like object to the writer; the caller keeps it alive.
std::pair<std::uintptr_t, std::size_t> buffer_address(nb::handle obj) {
  Py_buffer view;
  if (PyObject_GetBuffer(obj.ptr(), &view, PyBUF_SIMPLE) != 0) throw nb::python_error();
  std::pair<std::uintptr_t, std::size_t> r{reinterpret_cast<std::uintptr_t>(view.buf), static_cast<std::size_t>(view.len)};
  PyBuffer_Release(&view);
  return r;
}

}  // namespace

void init_support(nb::module_& m) {
  m.def("_buffer_address", &buffer_address, nb::arg("obj"));
  // For the tests: how many bytes of copies would get huge-page advice now
  // (HugePageBudget, source.hpp), and the huge page's size.
  m.def("_huge_page_budget", [] {
    return std::pair<std::int64_t, std::size_t>(HugePageBudget::from_system().left(), HugePageBudget::page_size());
  });
  nb::list names;
  for (int i = 0; i < sft::dtype_count; ++i) {
    auto n = sft::name(static_cast<sft::DType>(i));
    names.append(nb::str(n.data(), n.size()));
  }
  m.attr("DTYPES") = nb::tuple(names);
}

}  // namespace sftpy
