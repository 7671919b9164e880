// python/src/safe_open.cpp — sft.safe_open and the slice object of get_slice.
//
// The same names, arguments and behaviour as the reference's safe_open, plus
// zero-copy numpy arrays, copy=True, framework="dlpack" and prefetching in
// get_tensors. Closing (leaving the `with` block) drops the file; arrays
// already handed out keep their bytes alive.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include "common.hpp"
#include "reading.hpp"

namespace sftpy {

class SafeSlice {
 public:
  SafeSlice(std::shared_ptr<const Emitter> emitter, OpenSource src, const sft::TensorInfo* info, nb::object device)
      : emitter_(std::move(emitter)), src_(std::move(src)), info_(info), device_(std::move(device)) {}

  nb::list get_shape() const { return shape_list(info_->shape); }
  nb::str get_dtype() const { return dtype_name(info_->dtype); }
  nb::object getitem(nb::handle key) const { return to_device(read_slice(*emitter_, src_, *info_, key), device_); }
  std::size_t len() const {
    if (info_->shape.empty()) raise_error(sft::Errc::invalid_argument, "len() of a scalar tensor", info_->name);
    return static_cast<std::size_t>(info_->shape[0]);
  }
  nb::str repr() const {
    std::string s = "SafeSlice(" + std::string(nb::repr(py_name(info_->name)).c_str()) + ", dtype=" +
                    std::string(sft::name(info_->dtype)) + ", shape=" + std::string(nb::str(get_shape()).c_str()) + ")";
    return nb::str(s.c_str());
  }

 private:
  std::shared_ptr<const Emitter> emitter_;
  OpenSource src_;
  const sft::TensorInfo* info_;  // owned by src_'s header
  nb::object device_;
};

class SafeOpen {
 public:
  SafeOpen(nb::handle filename, std::string_view framework, nb::handle device, std::string_view backend) {
    fw_ = parse_framework(framework);
    backend_ = parse_backend(backend);
    device_ = resolve_device(fw_, device);
    emitter_ = std::make_shared<const Emitter>(fw_);
    path_ = fs_path(filename);
    open_ = OpenSource(open_source(path_, backend_), fw_);
  }

  nb::list keys() const {
    auto s = current();
    std::vector<std::string_view> names;
    names.reserve(s.src->header().size());
    for (const auto& t : s.src->header().tensors()) names.push_back(t.name);
    std::sort(names.begin(), names.end());
    nb::list out;
    for (auto n : names) out.append(py_name(n));
    return out;
  }

  nb::list offset_keys() const {
    auto s = current();
    nb::list out;
    for (const auto& t : s.src->header().tensors()) out.append(py_name(t.name));
    return out;
  }

  nb::object metadata() const {
    auto s = current();
    const auto& h = s.src->header();
    if (!h.has_metadata()) return nb::none();
    nb::dict d;
    for (const auto& e : h.metadata()) d[py_name(e.key)] = py_name(e.value);
    return d;
  }

  nb::object get_tensor(nb::handle name, bool copy) {
    auto s = current();
    const sft::TensorInfo& info = find(s, name);
    viewed_ = true;
    return to_device(read_tensor(*emitter_, s, info, copy), device_);
  }

  nb::dict get_tensors(bool copy, std::optional<bool> prefetch) { return all_tensors(copy, prefetch.value_or(true), false); }

  // load_file's get_tensors: the caller holds this object alone (it opened
  // it and closes it), so if no view was handed out yet none can appear
  // while a cold mapping is filled with direct I/O.
  nb::dict load_all(bool copy) { return all_tensors(copy, true, !viewed_); }

  nb::dict all_tensors(bool copy, bool prefetch, bool sole_reader) {
    auto s = current();
    std::vector<const sft::TensorInfo*> infos;
    infos.reserve(s.src->header().size());
    for (const auto& t : s.src->header().tensors()) infos.push_back(&t);
    nb::dict out;
    viewed_ = true;
    read_tensors(*emitter_, s, infos, copy, prefetch, out, sole_reader);
    if (!device_.is_none())
      for (auto item : out) out[item.first] = to_device(nb::borrow(item.second), device_);
    return out;
  }

  SafeSlice get_slice(nb::handle name) const {
    auto s = current();
    const sft::TensorInfo& info = find(s, name);
    return SafeSlice(emitter_, s, &info, device_);
  }

  void close() {
    OpenSource dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::swap(dropped, open_);
    }
  }

  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return !open_.src;
  }

  nb::str repr() const {
    std::string s = "safe_open(" + std::string(nb::repr(nb::str(path_.c_str())).c_str()) + ", framework=\"" +
                    std::string(framework_name(fw_)) + "\", backend=\"" +
                    (backend_ == Backend::mmap ? "mmap" : "pread") + "\"" + (closed() ? ", closed" : "") + ")";
    return nb::str(s.c_str());
  }

 private:
  std::atomic<bool> viewed_{false};  // a tensor was handed out (which may view the mapping)

  OpenSource current() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_.src) raise_error(sft::Errc::invalid_argument, "File is closed");
    return open_;
  }

  static const sft::TensorInfo& find(const OpenSource& s, nb::handle name) {
    std::string_view n = name_bytes(name);
    const sft::TensorInfo* info = s.src->header().find(n);
    if (!info) raise_error(sft::Errc::not_found, "File does not contain tensor " + std::string(n), n);
    return *info;
  }

  Framework fw_ = Framework::numpy;
  Backend backend_ = Backend::mmap;
  nb::object device_;
  std::shared_ptr<const Emitter> emitter_;
  std::string path_;
  mutable std::mutex mu_;  // guards open_ (close() may race with readers on free-threaded Python)
  OpenSource open_;
};

void init_safe_open(nb::module_& m) {
  nb::class_<SafeSlice>(m, "SafeSlice",
                        "A tensor of an open file, to be indexed: `f.get_slice(name)[key]` reads only the selected "
                        "elements (a copy). Keys as in Python: ints, slices with steps, negative indices, one `...`.")
      .def("get_shape", &SafeSlice::get_shape, nb::sig("def get_shape(self) -> list[int]"), "The tensor's shape (the header's, logical, for F4/F6 too).")
      .def("get_dtype", &SafeSlice::get_dtype, "The tensor's dtype as the header spells it (\"BF16\", \"F32\", ...).")
      .def("__getitem__", &SafeSlice::getitem, nb::arg("key"), nb::sig("def __getitem__(self, key: typing.Any, /) -> typing.Any"), "The selected elements as a new array or tensor.")
      .def("__len__", &SafeSlice::len)
      .def("__repr__", &SafeSlice::repr);

  nb::class_<SafeOpen>(m, "safe_open",
                       "Opens a safetensors file and gives its tensors on demand (a context manager).\n\n"
                       "Args:\n"
                       "    filename (str | os.PathLike): the file.\n"
                       "    framework (str): \"np\"/\"numpy\", \"pt\"/\"torch\", or \"dlpack\" (objects with "
                       "__dlpack__).\n"
                       "    device (str | int, default \"cpu\"): torch moves tensors there (anything torch.device "
                       "takes); numpy and dlpack take only \"cpu\".\n"
                       "    backend (str, keyword-only, default \"mmap\"): \"mmap\" maps the file (private, "
                       "copy-on-write: tensors are zero-copy views, writes to them never reach the file); \"pread\" "
                       "reads each tensor into memory of its own.")
      .def(nb::init<nb::handle, std::string_view, nb::handle, std::string_view>(), nb::arg("filename"),
           nb::arg("framework"), nb::arg("device") = "cpu", nb::kw_only(), nb::arg("backend") = "mmap",
           nb::sig("def __init__(self, filename: str | os.PathLike[str], framework: str, device: str | int = 'cpu', "
                   "*, backend: str = 'mmap') -> None"))
      .def("keys", &SafeOpen::keys, nb::sig("def keys(self) -> list[str]"), "The tensors' names, sorted.")
      .def("offset_keys", &SafeOpen::offset_keys, nb::sig("def offset_keys(self) -> list[str]"), "The tensors' names in the order of their data in the file.")
      .def("metadata", &SafeOpen::metadata, nb::sig("def metadata(self) -> dict[str, str] | None"), "The header's __metadata__ (a dict of str), or None.")
      .def("get_tensor", &SafeOpen::get_tensor, nb::arg("name"), nb::kw_only(), nb::arg("copy") = false,
           nb::sig("def get_tensor(self, name: str, *, copy: bool = False) -> typing.Any"),
           "One tensor: a zero-copy view of the mapping (mmap backend), or a copy of its own (pread backend, or "
           "copy=True). A view stays valid after the file is closed.")
      .def("get_tensors", &SafeOpen::get_tensors, nb::kw_only(), nb::arg("copy") = false,
           nb::arg("prefetch") = nb::none(),
           nb::sig("def get_tensors(self, *, copy: bool = False, prefetch: bool | None = None) -> dict[str, typing.Any]"),
           "Every tensor, as a dict in the order of their data, built in one native call. With the mmap backend "
           "the file's pages are first faulted in on several threads (prefetch=False skips that).")
      .def("_load_all", &SafeOpen::load_all, nb::arg("copy"),
           "load_file's get_tensors (private): only for a safe_open that no other code holds.")
      .def("get_slice", &SafeOpen::get_slice, nb::arg("name"), nb::sig("def get_slice(self, name: str) -> SafeSlice"),
           "A tensor to index: `f.get_slice(name)[0:2, ::4]` reads only the selected elements.")
      .def("close", &SafeOpen::close, "Closes the file; tensors handed out stay valid.")
      .def_prop_ro("closed", &SafeOpen::closed)
      .def("__enter__", [](nb::handle self) { return nb::borrow(self); }, nb::sig("def __enter__(self) -> safe_open"))
      .def("__exit__", [](SafeOpen& self, nb::handle, nb::handle, nb::handle) { self.close(); }, nb::arg("exc_type").none(),
           nb::arg("exc_value").none(), nb::arg("traceback").none())
      .def("__repr__", &SafeOpen::repr);
}

}  // namespace sftpy
