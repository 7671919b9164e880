// python/src/common.hpp — what every part of the native module shares: turning
// sft's error values into Python exceptions, and names between C++ and Python.
//
// The binding layer stays thin: it converts arguments, releases the GIL around
// the library's I/O and parsing, and builds Python objects from the results.
// Every sft::Error becomes an sft.SafetensorError whose attributes carry the
// library's error: .code (an sft.Errc, an IntEnum: name and number), .offset
// (byte offset in the file, or None), .tensor (the tensor's name, or None) and
// .path (the file, or None).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <nanobind/nanobind.h>

#include "sft/error.hpp"
#include "sft/result.hpp"

namespace sftpy {

namespace nb = nanobind;

// Registers Errc, SafetensorError and its FileNotFoundError flavour on `m`.
void init_errors(nb::module_& m);

// Raise the Python exception for `e` (with the GIL held). `path` names the
// file when the message does not already.
[[noreturn]] void raise_error(const sft::Error& e, std::string_view path = {});
[[noreturn]] void raise_error(sft::Errc code, std::string message, std::string_view tensor = {});
// The exception object for `e`, not raised (for lists of findings).
nb::object make_error(const sft::Error& e, std::string_view path = {});
// FileNotFoundError (also a SafetensorError, code io_error), worded as the reference.
[[noreturn]] void raise_not_found(std::string_view path);

// The value of a Result, or its error raised.
template <class T>
T take(sft::Result<T>&& r, std::string_view path = {}) {
  if (!r) raise_error(r.error(), path);
  return std::move(r).value();
}
inline void check(sft::Result<void>&& r, std::string_view path = {}) {
  if (!r) raise_error(r.error(), path);
}

// The error of opening `path`: FileNotFoundError when the path does not
// exist (as the reference raises), SafetensorError otherwise.
[[noreturn]] void raise_open_error(const sft::Error& e, const std::string& path);

// fn() run with the GIL released (library calls that do I/O or parse); its
// result must not hold Python objects.
template <class F>
auto without_gil(F&& fn) {
  nb::gil_scoped_release unlocked;
  return fn();
}

// A tensor name as Python sees it: UTF-8, with any byte sequence Python's
// codec refuses (lone surrogates from \uD800 escapes) passed through.
nb::str py_name(std::string_view name);
// The UTF-8 bytes of a str argument (TypeError for anything else).
std::string_view name_bytes(nb::handle name);

// A filesystem path from a str or os.PathLike argument.
std::string fs_path(nb::handle path);

}  // namespace sftpy
