// python/src/integrity.cpp — validation, headers, digests: what `sft
// validate`, `sft inspect`, `sft hash` and `sft verify` do, for Python.
//
// Files are opened here with the library's own File::open (read-only; pread
// for validation, which reads only the header), never with the package's
// copy-on-write mapping: what is hashed or checked is the file's bytes.
#include <string>
#include <vector>

#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include "common.hpp"
#include "reading.hpp"
#include "sft/digest.hpp"
#include "sft/file.hpp"
#include "sft/strict.hpp"

namespace sftpy {

namespace {

sft::File open_file(const std::string& path, sft::ReadMode mode) {
  sft::OpenOptions o;
  o.mode = mode;
  auto f = without_gil([&] { return sft::File::open(path, o); });
  if (!f) raise_open_error(f.error(), path);
  return std::move(f).value();
}

// One file: ("valid" | "invalid" | "unreadable", [errors]); with strict, a
// valid file is also checked against the strict rules (sft/strict.hpp).
nb::tuple validate_file(nb::handle path_arg, bool strict) {
  std::string path = fs_path(path_arg);
  std::vector<sft::Error> errors;
  std::string status = "valid";
  {
    nb::gil_scoped_release unlocked;
    sft::OpenOptions o;
    o.mode = sft::ReadMode::pread;
    auto f = sft::File::open(path, o);
    if (!f) {
      status = f.error().code == sft::Errc::io_error ? "unreadable" : "invalid";
      errors.push_back(std::move(f).error());
    } else if (strict) {
      std::vector<std::byte> prefix(static_cast<std::size_t>(f->header().data_start()));
      auto r = f->read_bytes(0, prefix);
      if (!r) {
        status = "unreadable";
        errors.push_back(std::move(r).error());
      } else {
        errors = sft::strict_check(prefix, f->header());
        if (!errors.empty()) status = "invalid";
      }
    }
  }
  nb::list out;
  for (const auto& e : errors) out.append(make_error(e, path));
  return nb::make_tuple(nb::str(status.c_str()), out);
}

// The header as `sft inspect --json` shows it, plus the file's size.
nb::dict header_info(nb::handle path_arg) {
  std::string path = fs_path(path_arg);
  sft::File f = open_file(path, sft::ReadMode::pread);
  const auto& h = f.header();
  nb::dict d;
  d["file_bytes"] = nb::int_(f.size());
  d["header_bytes"] = nb::int_(h.header_size());
  d["data_bytes"] = nb::int_(h.data_size());
  if (h.has_metadata()) {
    nb::dict md;
    for (const auto& e : h.metadata()) md[py_name(e.key)] = py_name(e.value);
    d["metadata"] = md;
  } else {
    d["metadata"] = nb::none();
  }
  nb::list tensors;
  for (const auto& t : h.tensors()) {
    nb::dict e;
    e["name"] = py_name(t.name);
    e["dtype"] = dtype_name(t.dtype);
    e["shape"] = shape_list(t.shape);
    e["data_offsets"] = nb::make_tuple(nb::int_(t.data_offsets.begin), nb::int_(t.data_offsets.end));
    tensors.append(e);
  }
  d["tensors"] = tensors;
  return d;
}

nb::dict hash_file(nb::handle path_arg, unsigned threads) {
  std::string path = fs_path(path_arg);
  sft::File f = open_file(path, sft::ReadMode::mmap);
  auto digests = take(without_gil([&] { return sft::hash_all(f, {threads}); }), path);
  nb::dict tensors;
  for (const auto& t : digests.tensors) tensors[py_name(t.name)] = nb::str(t.digest.hex().c_str());
  nb::dict d;
  d["file"] = nb::str(digests.file.hex().c_str());
  d["tensors"] = tensors;
  return d;
}

// The embedded digests checked: every tensor, or one. Raises on a mismatch.
std::size_t verify_file(nb::handle path_arg, nb::handle tensor, unsigned threads) {
  std::string path = fs_path(path_arg);
  sft::File f = open_file(path, sft::ReadMode::mmap);
  if (!tensor.is_none()) {
    std::string name(name_bytes(tensor));
    check(without_gil([&] { return sft::verify(f, name); }), path);
    return 1;
  }
  check(without_gil([&] { return sft::verify(f, sft::HashOptions{threads}); }), path);
  return f.header().size();
}

// Every problem the embedded digests show, without raising on mismatches.
nb::dict check_digests(nb::handle path_arg, unsigned threads) {
  std::string path = fs_path(path_arg);
  sft::File f = open_file(path, sft::ReadMode::mmap);
  auto report = take(without_gil([&] { return sft::check_digests(f, {threads}); }), path);
  auto names = [](const std::vector<std::string>& v) {
    nb::list l;
    for (const auto& n : v) l.append(py_name(n));
    return l;
  };
  nb::dict d;
  d["checked"] = nb::int_(report.checked);
  d["mismatched"] = names(report.mismatched);
  d["unlisted"] = names(report.unlisted);
  d["absent"] = names(report.absent);
  d["ok"] = nb::bool_(report.ok());
  return d;
}

void embed_digests(nb::handle src_arg, nb::handle dst_arg, unsigned threads) {
  std::string src = fs_path(src_arg), dst = fs_path(dst_arg);
  sft::File f = open_file(src, sft::ReadMode::mmap);
  check(without_gil([&] { return sft::embed_digests(f, dst, {threads}); }), dst);
}

}  // namespace

void init_integrity(nb::module_& m) {
  m.def("_validate_file", &validate_file, nb::arg("path"), nb::arg("strict"));
  m.def("_header_info", &header_info, nb::arg("path"));
  m.def("hash", &hash_file, nb::arg("path"), nb::kw_only(), nb::arg("threads") = 0,
        "XXH3-128 digests (32 hex digits, as xxh128sum prints) of the whole file and of every tensor's bytes: "
        "{\"file\": hex, \"tensors\": {name: hex}} (tensors in data order).");
  m.def("verify", &verify_file, nb::arg("path"), nb::arg("tensor") = nb::none(), nb::kw_only(), nb::arg("threads") = 0,
        "Checks the digests embedded in the file's metadata (`sft hash --embed`, sft.embed_digests) against its "
        "tensors: every tensor, or only `tensor`. Returns the number of tensors checked; raises SafetensorError "
        "with code digest_mismatch (naming the tensor), no_digest or bad_digest.");
  m.def("check_digests", &check_digests, nb::arg("path"), nb::kw_only(), nb::arg("threads") = 0,
        "Every problem with the embedded digests, without raising on mismatches: {\"checked\", \"mismatched\", "
        "\"unlisted\", \"absent\", \"ok\"}.");
  m.def("embed_digests", &embed_digests, nb::arg("src"), nb::arg("dst"), nb::kw_only(), nb::arg("threads") = 0,
        "Writes a copy of `src` to `dst` (atomically) whose metadata records every tensor's digest under "
        "\"sft.xxh3_128\"; tensors and other metadata unchanged.");
}

}  // namespace sftpy
