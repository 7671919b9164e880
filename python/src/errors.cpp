// python/src/errors.cpp — sft.Errc, sft.SafetensorError and raising them.
#include <filesystem>
#include <string>
#include <vector>

#include "common.hpp"

namespace sftpy {

namespace {

// Set once while the module initialises, read-only afterwards (so safe to
// read from any thread, with or without a GIL).
PyObject* g_error = nullptr;          // sft.SafetensorError
PyObject* g_file_not_found = nullptr; // sft.SafetensorFileNotFoundError(SafetensorError, FileNotFoundError)

constexpr const char* kErrorDoc =
    "An error of the sft library (or of how it was called).\n\n"
    "Attributes:\n"
    "    code (sft.Errc | None): the library's error code, an IntEnum: `e.code.name` is\n"
    "        its stable name (\"header_length\"), `int(e.code)` its stable number.\n"
    "    offset (int | None): byte offset in the file where the problem is (header errors).\n"
    "    tensor (str | None): the tensor concerned.\n"
    "    path (str | None): the file concerned.\n"
    "    message (str | None): the library's description, without code, path, offset or tensor.\n";

void set_attr(PyObject* obj, const char* name, PyObject* value) {
  // value is a new reference (or null after a failed conversion: leave the
  // attribute at its class default rather than masking the real error).
  if (!value) {
    PyErr_Clear();
    return;
  }
  PyObject_SetAttrString(obj, name, value);
  Py_DECREF(value);
}

nb::object make_with(PyObject* type, const std::string& message, sft::Errc code, std::uint64_t offset,
                     std::string_view tensor, std::string_view path, std::string_view detail = {}) {
  nb::object msg = nb::steal(PyUnicode_DecodeUTF8(message.data(), static_cast<Py_ssize_t>(message.size()), "replace"));
  PyObject* exc = PyObject_CallOneArg(type, msg.ptr());
  if (!exc) throw nb::python_error();
  if (detail.empty()) detail = message;
  set_attr(exc, "message", PyUnicode_DecodeUTF8(detail.data(), static_cast<Py_ssize_t>(detail.size()), "replace"));
  set_attr(exc, "code", nb::cast(code).release().ptr());
  set_attr(exc, "offset", offset == sft::Error::no_offset ? Py_NewRef(Py_None) : PyLong_FromUnsignedLongLong(offset));
  set_attr(exc, "tensor", tensor.empty() ? Py_NewRef(Py_None) : py_name(tensor).release().ptr());
  set_attr(exc, "path", path.empty() ? Py_NewRef(Py_None)
                                     : PyUnicode_DecodeFSDefaultAndSize(path.data(), static_cast<Py_ssize_t>(path.size())));
  return nb::steal(exc);
}

[[noreturn]] void raise_object(PyObject* type, nb::object exc) {
  PyErr_SetObject(type, exc.ptr());
  throw nb::python_error();
}

std::string describe(const sft::Error& e, std::string_view path) {
  std::string message(sft::errc_name(e.code));
  message += ": ";
  // The library's messages name the file for I/O errors already.
  if (!path.empty() && e.message.find(path) == std::string::npos) {
    message += path;
    message += ": ";
  }
  message += e.message;
  if (e.offset != sft::Error::no_offset) message += " (offset " + std::to_string(e.offset) + ")";
  if (!e.tensor.empty()) {
    message += " [tensor ";
    message += e.tensor;
    message += "]";
  }
  return message;
}

}  // namespace

void init_errors(nb::module_& m) {
  auto errc = nb::enum_<sft::Errc>(m, "Errc", nb::is_arithmetic(),
                                   "sft's stable error codes (docs/format.md, docs/api.md): the name is stable, "
                                   "and so is the number (codes are only ever appended).");
  // Every code the library names; errc_name() says "unknown" for the gaps
  // between the reserved ranges.
  for (int v = 0; v < 256; ++v) {
    auto name = sft::errc_name(static_cast<sft::Errc>(v));
    if (name == "unknown") continue;
    std::string n(name);
    errc.value(n.c_str(), static_cast<sft::Errc>(v));
  }

  nb::dict attrs;
  attrs["code"] = nb::none();
  attrs["offset"] = nb::none();
  attrs["tensor"] = nb::none();
  attrs["path"] = nb::none();
  attrs["message"] = nb::none();
  g_error = PyErr_NewExceptionWithDoc("sft.SafetensorError", kErrorDoc, PyExc_Exception, attrs.ptr());
  if (!g_error) throw nb::python_error();
  m.attr("SafetensorError") = nb::borrow(g_error);

  nb::tuple bases = nb::make_tuple(nb::borrow(g_error), nb::borrow(PyExc_FileNotFoundError));
  g_file_not_found = PyErr_NewExceptionWithDoc(
      "sft.SafetensorFileNotFoundError",
      "The file does not exist: both a FileNotFoundError (as the reference raises) and a SafetensorError.",
      bases.ptr(), nullptr);
  if (!g_file_not_found) throw nb::python_error();
  m.attr("SafetensorFileNotFoundError") = nb::borrow(g_file_not_found);
}

nb::object make_error(const sft::Error& e, std::string_view path) {
  return make_with(g_error, describe(e, path), e.code, e.offset, e.tensor, path, e.message);
}

void raise_error(const sft::Error& e, std::string_view path) { raise_object(g_error, make_error(e, path)); }

void raise_error(sft::Errc code, std::string message, std::string_view tensor) {
  raise_object(g_error, make_with(g_error, message, code, sft::Error::no_offset, tensor, {}));
}

void raise_not_found(std::string_view path) {
  raise_object(g_file_not_found, make_with(g_file_not_found, "No such file or directory: " + std::string(path),
                                           sft::Errc::io_error, sft::Error::no_offset, {}, path));
}

void raise_open_error(const sft::Error& e, const std::string& path) {
  std::error_code ec;
  if (e.code == sft::Errc::io_error && !std::filesystem::exists(path, ec)) raise_not_found(path);
  raise_error(e, path);
}

nb::str py_name(std::string_view name) {
  PyObject* s = PyUnicode_DecodeUTF8(name.data(), static_cast<Py_ssize_t>(name.size()), "surrogatepass");
  if (!s) throw nb::python_error();
  return nb::steal<nb::str>(s);
}

std::string_view name_bytes(nb::handle name) {
  if (!PyUnicode_Check(name.ptr())) {
    PyErr_Format(PyExc_TypeError, "a tensor name must be a str, not %s", Py_TYPE(name.ptr())->tp_name);
    throw nb::python_error();
  }
  Py_ssize_t n = 0;
  const char* s = PyUnicode_AsUTF8AndSize(name.ptr(), &n);
  if (!s) throw nb::python_error();
  return {s, static_cast<std::size_t>(n)};
}

std::string fs_path(nb::handle path) {
  PyObject* bytes = nullptr;
  if (!PyUnicode_FSConverter(path.ptr(), &bytes)) throw nb::python_error();
  nb::object b = nb::steal(bytes);
  return std::string(PyBytes_AsString(b.ptr()), static_cast<std::size_t>(PyBytes_Size(b.ptr())));
}

}  // namespace sftpy
