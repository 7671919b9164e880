// python/src/writing.cpp — TensorSpec, serialize, serialize_file, deserialize,
// load_bytes and the streaming Writer.
//
// Everything goes through sft::Writer, whose output is byte-identical to the
// reference's for the same tensors (and at most one metadata key; with more,
// sft sorts the keys where the reference's order is random). Tensor bytes are
// borrowed from the caller through raw pointers, as the reference's
// TensorSpec does: the Python layer keeps the arrays alive during the call.
#include <atomic>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include "common.hpp"
#include "reading.hpp"
#include "sft/writer.hpp"

namespace sftpy {

namespace {

// The dtype spellings TensorSpec takes: the reference's (torch / numpy names)
// and, beyond it, the header's own spellings (the only way to name F6).
struct DTypeSpelling {
  const char* name;
  sft::DType dtype;
};
constexpr DTypeSpelling kSpellings[] = {
    {"bool", sft::DType::BOOL},          {"int8", sft::DType::I8},
    {"uint8", sft::DType::U8},           {"int16", sft::DType::I16},
    {"uint16", sft::DType::U16},         {"int32", sft::DType::I32},
    {"uint32", sft::DType::U32},         {"int64", sft::DType::I64},
    {"uint64", sft::DType::U64},         {"float16", sft::DType::F16},
    {"float32", sft::DType::F32},        {"float64", sft::DType::F64},
    {"bfloat16", sft::DType::BF16},      {"float8_e4m3fn", sft::DType::F8_E4M3},
    {"float8_e4m3fnuz", sft::DType::F8_E4M3FNUZ}, {"float8_e5m2", sft::DType::F8_E5M2},
    {"float8_e5m2fnuz", sft::DType::F8_E5M2FNUZ}, {"float8_e8m0fnu", sft::DType::F8_E8M0},
    {"float4_e2m1fn_x2", sft::DType::F4}, {"complex64", sft::DType::C64},
};

std::span<const std::byte> bytes_at(std::uintptr_t ptr, std::uint64_t len) {
  return {reinterpret_cast<const std::byte*>(ptr), static_cast<std::size_t>(len)};
}

sft::DType parse_spec_dtype(std::string_view s) {
  for (const auto& sp : kSpellings)
    if (s == sp.name) return sp.dtype;
  if (auto d = sft::parse_dtype(s)) return *d;
  std::string list;
  for (const auto& sp : kSpellings) list += std::string(list.empty() ? "" : ", ") + sp.name;
  raise_error(sft::Errc::invalid_argument, "Unknown dtype \"" + std::string(s) + "\". Supported dtypes: " + list +
                                               " (or the header's spellings: F32, BF16, F6_E2M3, ...)");
}

}  // namespace

// One tensor handed to serialize(): a description and a raw pointer.
struct TensorSpec {
  sft::DType dtype;
  std::vector<std::uint64_t> shape;  // logical (header) shape
  std::uintptr_t data_ptr;
  std::uint64_t data_len;

  TensorSpec(std::string_view dtype_name, nb::handle shape_seq, std::uintptr_t ptr, std::uint64_t len)
      : dtype(parse_spec_dtype(dtype_name)), data_ptr(ptr), data_len(len) {
    for (nb::handle d : nb::iter(shape_seq)) {
      long long v = PyLong_AsLongLong(d.ptr());
      if (v == -1 && PyErr_Occurred()) throw nb::python_error();
      if (v < 0) raise_error(sft::Errc::invalid_argument, "a shape has no negative dimensions: " + std::to_string(v));
      shape.push_back(static_cast<std::uint64_t>(v));
    }
    // torch.float4_e2m1fn_x2 holds two values per element: the header counts values.
    if (dtype_name == "float4_e2m1fn_x2") {
      if (shape.empty()) raise_error(sft::Errc::invalid_argument, "a float4_e2m1fn_x2 tensor needs at least one dimension");
      shape.back() *= 2;
    }
  }
  std::span<const std::byte> bytes() const { return bytes_at(data_ptr, data_len); }
};

namespace {

sft::Writer build_writer(nb::dict tensors, const std::optional<std::map<std::string, std::string>>& metadata,
                         std::uint64_t alignment) {
  sft::WriterOptions o;
  o.alignment = alignment;
  sft::Writer w(o);
  for (auto [k, v] : tensors) {
    if (!nb::isinstance<TensorSpec>(v)) {
      PyErr_Format(PyExc_TypeError, "serialize takes a dict of str to TensorSpec; the value for %R is a %s",
                   k.ptr(), Py_TYPE(v.ptr())->tp_name);
      throw nb::python_error();
    }
    const auto& spec = nb::cast<const TensorSpec&>(v);
    check(w.add(name_bytes(k), spec.dtype, spec.shape, spec.bytes()));
  }
  if (metadata) {
    w.enable_metadata();
    for (const auto& [key, value] : *metadata) check(w.set_metadata(key, value));
  }
  return w;
}

nb::bytes serialize(nb::dict tensors, const std::optional<std::map<std::string, std::string>>& metadata,
                    std::uint64_t alignment) {
  sft::Writer w = build_writer(tensors, metadata, alignment);
  auto plan = take(w.plan());
  // Fill the bytes object in place: no second copy of the whole file.
  PyObject* out = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(plan.file_size()));
  if (!out) throw nb::python_error();
  nb::bytes result = nb::steal<nb::bytes>(out);
  std::vector<const std::byte*> sources(plan.tensors().size());
  for (auto [k, v] : tensors) {
    auto i = plan.index_of(name_bytes(k));
    sources[i] = nb::cast<const TensorSpec&>(v).bytes().data();
  }
  {
    nb::gil_scoped_release unlocked;
    char* dst = PyBytes_AsString(out);
    std::memcpy(dst, plan.preamble().data(), plan.preamble().size());
    dst += plan.data_start();
    for (std::size_t i = 0; i < plan.tensors().size(); ++i) {
      const auto& t = plan.tensors()[i];
      if (t.byte_size()) std::memcpy(dst + t.data_offsets.begin, sources[i], static_cast<std::size_t>(t.byte_size()));
    }
  }
  return result;
}

void serialize_file(nb::dict tensors, nb::handle filename, const std::optional<std::map<std::string, std::string>>& metadata,
                    std::uint64_t alignment) {
  sft::Writer w = build_writer(tensors, metadata, alignment);
  std::string path = fs_path(filename);
  check(without_gil([&] { return w.write_file(path); }), path);
}

// The reference's deserialize: [(name, {"shape", "dtype", "data": bytearray})] in data order.
nb::list deserialize(nb::bytes data) {
  // The bytes object is immutable and referenced by the caller: parse it
  // without the GIL.
  auto bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data.c_str()), data.size());
  auto f = take(without_gil([&] { return sft::File::from_memory(bytes); }));
  nb::list out;
  for (const auto& t : f.header().tensors()) {
    nb::dict d;
    d["shape"] = shape_list(t.shape);
    d["dtype"] = dtype_name(t.dtype);
    auto v = take(f.view(t));
    d["data"] = nb::steal(PyByteArray_FromStringAndSize(reinterpret_cast<const char*>(v.data()),
                                                        static_cast<Py_ssize_t>(v.size_bytes())));
    out.append(nb::make_tuple(py_name(t.name), d));
  }
  return out;
}

// Every tensor of an in-memory file as `framework` arrays (copies), in data order.
nb::dict load_bytes(nb::bytes data, std::string_view framework) {
  Emitter emitter(parse_framework(framework));
  auto bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data.c_str()), data.size());
  auto f = take(without_gil([&] { return sft::File::from_memory(bytes); }));
  // Copy every tensor out without the GIL, then build the arrays.
  const auto tensors = f.header().tensors();
  std::vector<std::shared_ptr<OwnedBuffer>> buffers(tensors.size());
  check(without_gil([&]() -> sft::Result<void> {
    std::uint64_t total = 0;
    for (const auto& t : tensors) total += t.byte_size();
    HugePageBudget huge = HugePageBudget::for_copies(total);
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      SFT_TRY_ASSIGN(auto b, OwnedBuffer::allocate(static_cast<std::size_t>(tensors[i].byte_size()), 0, &huge));
      SFT_TRY_ASSIGN(auto v, f.view(tensors[i]));
      if (v.size_bytes()) std::memcpy(b.data(), v.data(), v.size_bytes());
      buffers[i] = std::make_shared<OwnedBuffer>(std::move(b));
    }
    return {};
  }));
  nb::dict out;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    HostTensor h{buffers[i]->data(), static_cast<std::size_t>(t.byte_size()), t.dtype, t.shape};
    out[py_name(t.name)] = emitter.owned(h, std::move(buffers[i]));
  }
  return out;
}

// The streaming writer: tensors added with their bytes are written with the
// header; declared ones are written later, in pieces, in any order. The file
// appears (atomically) at commit(); abort() or an error leaves the target
// untouched and no temporary behind.
//
// One thread at a time: the GIL is released during writes, so a second
// thread calling in meanwhile (or any thread, on free-threaded Python) is
// refused with writer_state instead of racing with the write in progress.
class StreamWriter {
  struct Busy {
    explicit Busy(std::atomic<bool>& flag) : flag_(flag) {
      if (flag_.exchange(true))
        raise_error(sft::Errc::writer_state, "the Writer is in use by another thread: use one Writer per thread");
    }
    ~Busy() { flag_.store(false); }
    std::atomic<bool>& flag_;
  };

 public:
  StreamWriter(nb::handle path, const std::optional<std::map<std::string, std::string>>& metadata,
               std::uint64_t alignment, bool durable)
      : path_(fs_path(path)) {
    sft::WriterOptions o;
    o.alignment = alignment;
    o.durable = durable;
    writer_ = sft::Writer(o);
    if (metadata) {
      writer_.enable_metadata();
      for (const auto& [k, v] : *metadata) check(writer_.set_metadata(k, v));
    }
  }

  void add(nb::handle name, const TensorSpec& spec, nb::handle keep) {
    Busy busy(busy_);
    if (stream_ || done_) state_error("add() after the first write(): add every tensor before writing declared ones");
    check(writer_.add(name_bytes(name), spec.dtype, spec.shape, spec.bytes()));
    kept_.append(keep);  // the bytes are borrowed until the header is written
  }

  void declare(nb::handle name, std::string_view dtype, std::vector<std::uint64_t> shape) {
    Busy busy(busy_);
    if (stream_ || done_) state_error("declare() after the first write(): declare every tensor first");
    check(writer_.declare(name_bytes(name), parse_spec_dtype(dtype), shape));
  }

  void write(nb::handle name, std::uintptr_t ptr, std::uint64_t len) {
    Busy busy(busy_);
    start();
    std::string_view n = name_bytes(name);
    check(without_gil([&] { return stream_->write(n, bytes_at(ptr, len)); }), path_);
  }

  void write_at(nb::handle name, std::uint64_t offset, std::uintptr_t ptr, std::uint64_t len) {
    Busy busy(busy_);
    start();
    std::string_view n = name_bytes(name);
    check(without_gil([&] { return stream_->write_at(n, offset, bytes_at(ptr, len)); }), path_);
  }

  std::uint64_t remaining() const { return stream_ ? stream_->remaining() : 0; }

  void commit() {
    Busy busy(busy_);
    if (done_) state_error("the writer is already closed");
    auto r = without_gil([&] { return stream_ ? stream_->commit() : writer_.write_file(path_); });
    done_ = true;
    stream_.reset();
    kept_.clear();
    check(std::move(r), path_);
  }

  void abort() {
    Busy busy(busy_);
    if (stream_) stream_->abort();
    stream_.reset();
    done_ = true;
    kept_.clear();
  }

  bool closed() const { return done_; }

 private:
  [[noreturn]] void state_error(const std::string& what) const { raise_error(sft::Errc::writer_state, what); }

  void start() {
    if (done_) state_error("the writer is already closed");
    if (stream_) return;
    auto r = without_gil([&] { return writer_.begin_file(path_); });
    if (!r) {
      done_ = true;
      raise_error(r.error(), path_);
    }
    stream_.emplace(std::move(r).value());
    kept_.clear();  // the added tensors' bytes are in the file now
  }

  std::string path_;
  sft::Writer writer_;
  std::optional<sft::StreamingWriter> stream_;
  nb::list kept_;
  bool done_ = false;
  std::atomic<bool> busy_{false};
};

}  // namespace

void init_writing(nb::module_& m) {
  nb::class_<TensorSpec>(m, "TensorSpec",
                         "Describes one tensor for serialize / serialize_file: dtype (the reference's names, "
                         "\"float32\", \"bfloat16\", ..., or the header's, \"F32\", \"BF16\", \"F6_E2M3\"), shape, "
                         "and the address and length of its contiguous bytes, which must stay alive and unchanged "
                         "until the call that writes them returns. For float4_e2m1fn_x2 (two values per element) "
                         "the last dimension is doubled so that the shape counts values, as in the header.")
      .def(nb::init<std::string_view, nb::handle, std::uintptr_t, std::uint64_t>(), nb::kw_only(), nb::arg("dtype"),
           nb::arg("shape"), nb::arg("data_ptr"), nb::arg("data_len"),
           nb::sig("def __init__(self, *, dtype: str, shape: collections.abc.Sequence[int], data_ptr: int, "
                   "data_len: int) -> None"))
      .def_prop_ro("dtype", [](const TensorSpec& s) { return dtype_name(s.dtype); },
                   "The header's spelling of the dtype (\"F32\", \"BF16\", ...).")
      .def_prop_ro("shape", [](const TensorSpec& s) { return shape_list(s.shape); }, "The logical (header) shape.")
      .def_ro("data_ptr", &TensorSpec::data_ptr, "Address of the bytes.")
      .def_ro("data_len", &TensorSpec::data_len, "Length of the bytes.")
      .def("__repr__", [](const TensorSpec& s) {
        std::string r = "TensorSpec(dtype='" + std::string(sft::name(s.dtype)) + "', shape=" +
                        std::string(nb::str(shape_list(s.shape)).c_str()) + ", data_ptr=" + std::to_string(s.data_ptr) +
                        ", data_len=" + std::to_string(s.data_len) + ")";
        return r;
      });

  m.def("serialize", &serialize, nb::arg("tensor_dict"), nb::arg("metadata") = nb::none(), nb::kw_only(),
        nb::arg("alignment") = 8,
        nb::sig("def serialize(tensor_dict: dict[str, TensorSpec], metadata: dict[str, str] | None = None, *, "
                "alignment: int = 8) -> bytes"),
        "The safetensors file for `tensor_dict` (str -> TensorSpec) as bytes, byte-identical to the reference's. "
        "`alignment` (a power of two, 8 to 1 MiB) pads the header so that the data starts at a multiple of it.");
  m.def("serialize_file", &serialize_file, nb::arg("tensor_dict"), nb::arg("filename"),
        nb::arg("metadata") = nb::none(), nb::kw_only(), nb::arg("alignment") = 8,
        nb::sig("def serialize_file(tensor_dict: dict[str, TensorSpec], filename: str | os.PathLike[str], "
                "metadata: dict[str, str] | None = None, *, alignment: int = 8) -> None"),
        "Writes the file for `tensor_dict` to `filename` atomically (a temporary file renamed over it; on any "
        "failure the target is untouched). The GIL is released while writing.");
  m.def("deserialize", &deserialize, nb::arg("bytes"),
        nb::sig("def deserialize(bytes: bytes) -> list[tuple[str, dict[str, typing.Any]]]"),
        "The tensors of an in-memory file: a list of (name, {\"shape\", \"dtype\", \"data\"}) in data order, "
        "`data` a bytearray copy.");
  m.def("_load_bytes", &load_bytes, nb::arg("data"), nb::arg("framework"));

  nb::class_<StreamWriter>(m, "_StreamWriter")
      .def(nb::init<nb::handle, const std::optional<std::map<std::string, std::string>>&, std::uint64_t, bool>(),
           nb::arg("path"), nb::arg("metadata").none(), nb::arg("alignment"), nb::arg("durable"))
      .def("add", &StreamWriter::add, nb::arg("name"), nb::arg("spec"), nb::arg("keep"))
      .def("declare", &StreamWriter::declare, nb::arg("name"), nb::arg("dtype"), nb::arg("shape"))
      .def("write", &StreamWriter::write, nb::arg("name"), nb::arg("data_ptr"), nb::arg("data_len"))
      .def("write_at", &StreamWriter::write_at, nb::arg("name"), nb::arg("offset"), nb::arg("data_ptr"),
           nb::arg("data_len"))
      .def("remaining", &StreamWriter::remaining)
      .def("commit", &StreamWriter::commit)
      .def("abort", &StreamWriter::abort)
      .def_prop_ro("closed", &StreamWriter::closed);
}

}  // namespace sftpy
