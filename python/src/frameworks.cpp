// python/src/frameworks.cpp — numpy arrays, torch tensors and DLPack tensors
// from native code (see frameworks.hpp).
#include "frameworks.hpp"

#include <array>
#include <atomic>
#include <cstring>
#include <string>

#include <nanobind/ndarray.h>

#include "source.hpp"

namespace sftpy {

namespace {

// --- DLPack (the unversioned ABI of dlpack.h, which every importer takes) ---
struct DLDevice {
  std::int32_t device_type;  // 1: CPU
  std::int32_t device_id;
};
struct DLDataType {
  std::uint8_t code;  // 0 int, 1 uint, 2 float, 4 bfloat, 5 complex, 6 bool, 10.. float8, 17 float4
  std::uint8_t bits;
  std::uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  std::int32_t ndim;
  DLDataType dtype;
  std::int64_t* shape;
  std::int64_t* strides;  // null: compact row-major
  std::uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};

// The DLManagedTensor and what it needs, in one allocation. The deleter may
// run on any thread without the GIL (torch frees tensors anywhere): it only
// drops a shared_ptr and frees memory.
struct Managed {
  DLManagedTensor t{};
  Keep keep;
  std::array<std::int64_t, 8> small{};
  std::vector<std::int64_t> large;
};

void managed_deleter(DLManagedTensor* self) { delete static_cast<Managed*>(self->manager_ctx); }

void capsule_destructor(PyObject* capsule) {
  // An importer renames a capsule it consumed ("used_dltensor") and calls the
  // deleter itself; an unconsumed one is still ours to free.
  if (PyCapsule_IsValid(capsule, "dltensor")) {
    auto* t = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
    if (t && t->deleter) t->deleter(t);
  } else {
    PyErr_Clear();
  }
}

nb::object dlpack_capsule(void* data, DLDataType dtype, std::span<const std::int64_t> shape, Keep keep,
                          DLDevice device = {1, 0}) {
  auto* m = new Managed();
  m->keep = std::move(keep);
  std::int64_t* dims = m->small.data();
  if (shape.size() > m->small.size()) {
    m->large.assign(shape.begin(), shape.end());
    dims = m->large.data();
  } else {
    std::copy(shape.begin(), shape.end(), dims);
  }
  m->t.dl_tensor = DLTensor{data, device, static_cast<std::int32_t>(shape.size()), dtype, dims, nullptr, 0};
  m->t.manager_ctx = m;
  m->t.deleter = managed_deleter;
  PyObject* cap = PyCapsule_New(&m->t, "dltensor", capsule_destructor);
  if (!cap) {
    delete m;
    throw nb::python_error();
  }
  return nb::steal(cap);
}

// --- the dtype table --------------------------------------------------------
struct DTypeNames {
  const char* numpy;      // a numpy dtype name, or null when ml_dtypes supplies it
  const char* ml_dtypes;  // an ml_dtypes attribute, or null
  const char* torch;      // a torch attribute
  DLDataType dl;          // the DLPack dtype (of the storage element for F4 / F6)
};

DTypeNames names_of(sft::DType t) noexcept {
  using sft::DType;
  switch (t) {
    case DType::BOOL: return {"bool", nullptr, "bool", {6, 8, 1}};
    case DType::F4: return {"uint8", nullptr, "float4_e2m1fn_x2", {17, 4, 2}};
    case DType::F6_E2M3: return {"uint8", nullptr, "uint8", {1, 8, 1}};
    case DType::F6_E3M2: return {"uint8", nullptr, "uint8", {1, 8, 1}};
    case DType::U8: return {"uint8", nullptr, "uint8", {1, 8, 1}};
    case DType::I8: return {"int8", nullptr, "int8", {0, 8, 1}};
    case DType::F8_E5M2: return {nullptr, "float8_e5m2", "float8_e5m2", {12, 8, 1}};
    case DType::F8_E4M3: return {nullptr, "float8_e4m3fn", "float8_e4m3fn", {10, 8, 1}};
    case DType::F8_E8M0: return {nullptr, "float8_e8m0fnu", "float8_e8m0fnu", {14, 8, 1}};
    case DType::F8_E4M3FNUZ: return {nullptr, "float8_e4m3fnuz", "float8_e4m3fnuz", {11, 8, 1}};
    case DType::F8_E5M2FNUZ: return {nullptr, "float8_e5m2fnuz", "float8_e5m2fnuz", {13, 8, 1}};
    case DType::I16: return {"int16", nullptr, "int16", {0, 16, 1}};
    case DType::U16: return {"uint16", nullptr, "uint16", {1, 16, 1}};
    case DType::F16: return {"float16", nullptr, "float16", {2, 16, 1}};
    case DType::BF16: return {nullptr, "bfloat16", "bfloat16", {4, 16, 1}};
    case DType::I32: return {"int32", nullptr, "int32", {0, 32, 1}};
    case DType::U32: return {"uint32", nullptr, "uint32", {1, 32, 1}};
    case DType::F32: return {"float32", nullptr, "float32", {2, 32, 1}};
    case DType::C64: return {"complex64", nullptr, "complex64", {5, 64, 1}};
    case DType::F64: return {"float64", nullptr, "float64", {2, 64, 1}};
    case DType::I64: return {"int64", nullptr, "int64", {0, 64, 1}};
    case DType::U64: return {"uint64", nullptr, "uint64", {1, 64, 1}};
  }
  return {"uint8", nullptr, "uint8", {1, 8, 1}};
}

constexpr std::size_t kDTypes = static_cast<std::size_t>(sft::dtype_count);

// --- framework APIs, resolved once and then immutable ------------------------
//
// Built without a lock (importing may release the GIL and run other threads)
// and published with a compare-and-swap; a thread that loses the race drops
// its copy. The winner lives as long as the process (never freed, so no
// Python object is released after the interpreter has finalised).
template <class Api>
const Api* publish(std::atomic<const Api*>& slot, Api* fresh) {
  const Api* expected = nullptr;
  if (slot.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) return fresh;
  delete fresh;
  return expected;
}

nb::object import_or_raise(const char* module, const char* why) {
  try {
    return nb::module_::import_(module);
  } catch (nb::python_error& e) {
    nb::raise_from(e, PyExc_ImportError, "%s needs the '%s' package (pip install %s)", why, module, module);
  }
}

struct NumpyApi {
  nb::object ndarray;
  std::array<nb::object, kDTypes> dtypes;  // None where ml_dtypes is needed but missing
};
std::atomic<const NumpyApi*> g_numpy{nullptr};

struct MlDtypesApi {
  std::array<nb::object, kDTypes> dtypes;
};
std::atomic<const MlDtypesApi*> g_ml_dtypes{nullptr};

const NumpyApi* numpy_api() {
  if (auto* p = g_numpy.load(std::memory_order_acquire)) return p;
  nb::object np = import_or_raise("numpy", "framework=\"numpy\"");
  auto* api = new NumpyApi();
  api->ndarray = np.attr("ndarray");
  nb::object dtype = np.attr("dtype");
  for (std::size_t i = 0; i < kDTypes; ++i) {
    auto n = names_of(static_cast<sft::DType>(i));
    api->dtypes[i] = n.numpy ? dtype(n.numpy) : nb::none();
  }
  return publish(g_numpy, api);
}

nb::handle numpy_dtype(const NumpyApi& api, sft::DType t) {
  auto i = static_cast<std::size_t>(t);
  if (!api.dtypes[i].is_none()) return api.dtypes[i];
  const MlDtypesApi* ml = g_ml_dtypes.load(std::memory_order_acquire);
  if (!ml) {
    std::string why = std::string(sft::name(t)) + " tensors as numpy arrays";
    nb::object mod = import_or_raise("ml_dtypes", why.c_str());
    nb::object dtype = nb::module_::import_("numpy").attr("dtype");
    auto* fresh = new MlDtypesApi();
    for (std::size_t k = 0; k < kDTypes; ++k) {
      auto n = names_of(static_cast<sft::DType>(k));
      fresh->dtypes[k] = n.ml_dtypes && nb::hasattr(mod, n.ml_dtypes) ? dtype(mod.attr(n.ml_dtypes)) : nb::none();
    }
    ml = publish(g_ml_dtypes, fresh);
  }
  if (ml->dtypes[i].is_none())
    raise_error(sft::Errc::unsupported_dtype, std::string("this version of ml_dtypes has no ") +
                                                  names_of(t).ml_dtypes + " for " + std::string(sft::name(t)));
  return ml->dtypes[i];
}

struct TorchApi {
  nb::object from_dlpack;                  // torch._C._from_dlpack, else torch.utils.dlpack.from_dlpack
  std::array<nb::object, kDTypes> dtypes;  // None where this torch lacks the dtype
  std::array<bool, kDTypes> direct{};      // its DLPack importer takes our DLPack dtype
};
std::atomic<const TorchApi*> g_torch{nullptr};

nb::object call1(nb::handle fn, nb::handle arg) {
  PyObject* args[2] = {nullptr, arg.ptr()};
  PyObject* r = PyObject_Vectorcall(fn.ptr(), args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
  if (!r) throw nb::python_error();
  return nb::steal(r);
}

const TorchApi* torch_api() {
  if (auto* p = g_torch.load(std::memory_order_acquire)) return p;
  nb::object torch = import_or_raise("torch", "framework=\"pt\"");
  auto* api = new TorchApi();
  nb::object c = torch.attr("_C");
  if (nb::hasattr(c, "_from_dlpack"))
    api->from_dlpack = c.attr("_from_dlpack");
  else
    api->from_dlpack = nb::module_::import_("torch.utils.dlpack").attr("from_dlpack");
  // Which dtypes this torch has, and which its DLPack importer takes as we
  // describe them: probe each with a one-element tensor.
  alignas(16) static std::byte probe[16] = {};
  for (std::size_t i = 0; i < kDTypes; ++i) {
    auto n = names_of(static_cast<sft::DType>(i));
    api->dtypes[i] = nb::hasattr(torch, n.torch) ? nb::object(torch.attr(n.torch)) : nb::none();
    if (api->dtypes[i].is_none()) continue;
    std::int64_t one = 1;
    try {
      nb::object t = call1(api->from_dlpack, dlpack_capsule(probe, n.dl, {&one, 1}, nullptr));
      api->direct[i] = t.attr("dtype").equal(api->dtypes[i]);
    } catch (nb::python_error&) {
      api->direct[i] = false;  // imported as bytes and viewed as the dtype instead
    }
  }
  return publish(g_torch, api);
}

nb::object shape_tuple(std::span<const std::int64_t> shape) {
  PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(shape.size()));
  if (!t) throw nb::python_error();
  for (std::size_t i = 0; i < shape.size(); ++i) {
    PyObject* v = PyLong_FromLongLong(shape[i]);
    if (!v) {
      Py_DECREF(t);
      throw nb::python_error();
    }
    PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), v);
  }
  return nb::steal(t);
}

nb::object keep_capsule(Keep keep) {
  return nb::capsule(new Keep(std::move(keep)), [](void* p) noexcept { delete static_cast<Keep*>(p); });
}

nb::object torch_tensor(const TorchApi& api, const HostTensor& t, Keep keep) {
  auto i = static_cast<std::size_t>(t.dtype);
  if (api.dtypes[i].is_none())
    raise_error(sft::Errc::unsupported_dtype, "this version of torch has no torch." + std::string(names_of(t.dtype).torch) +
                                                  " for " + std::string(sft::name(t.dtype)));
  auto shape = storage_shape(t.dtype, t.shape, t.nbytes);
  if (api.direct[i]) return call1(api.from_dlpack, dlpack_capsule(t.data, names_of(t.dtype).dl, shape, std::move(keep)));
  // An older torch: import the bytes, then view them as the dtype.
  std::int64_t n = static_cast<std::int64_t>(t.nbytes);
  nb::object bytes = call1(api.from_dlpack, dlpack_capsule(t.data, DLDataType{1, 8, 1}, {&n, 1}, std::move(keep)));
  return bytes.attr("view")(api.dtypes[i]).attr("reshape")(shape_tuple(shape));
}

nb::object numpy_array(const NumpyApi& api, const HostTensor& t, nb::handle base, std::size_t offset) {
  nb::handle dtype = numpy_dtype(api, t.dtype);
  nb::object shape = shape_tuple(storage_shape(t.dtype, t.shape, t.nbytes));
  nb::object off = nb::steal(PyLong_FromSize_t(offset));
  PyObject* args[5] = {nullptr, shape.ptr(), dtype.ptr(), base.ptr(), off.ptr()};
  PyObject* r = PyObject_Vectorcall(api.ndarray.ptr(), args + 1, 4 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
  if (!r) throw nb::python_error();
  return nb::steal(r);
}

nb::object dlpack_array(const HostTensor& t, Keep keep, bool writable, DLDevice device = {1, 0}) {
  auto shape = storage_shape(t.dtype, t.shape, t.nbytes);
  std::vector<std::size_t> dims(shape.begin(), shape.end());
  // F4 as packed bytes, as numpy sees it: few importers take DLPack's
  // two-lane float4 (torch does, and gets its own dtype).
  auto dl = t.dtype == sft::DType::F4 ? DLDataType{1, 8, 1} : names_of(t.dtype).dl;
  nb::dlpack::dtype dt{dl.code, dl.bits, dl.lanes};
  nb::object owner = keep_capsule(std::move(keep));
  if (writable) {
    nb::ndarray<nb::array_api> a(t.data, dims.size(), dims.data(), owner, nullptr, dt, device.device_type,
                                 device.device_id);
    return a.cast(nb::rv_policy::reference);
  }
  nb::ndarray<nb::array_api, nb::ro> a(t.data, dims.size(), dims.data(), owner, nullptr, dt, device.device_type,
                                       device.device_id);
  return a.cast(nb::rv_policy::reference);
}

}  // namespace

Framework parse_framework(std::string_view name) {
  if (name == "np" || name == "numpy") return Framework::numpy;
  if (name == "pt" || name == "torch" || name == "pytorch") return Framework::torch;
  if (name == "dlpack") return Framework::dlpack;
  raise_error(sft::Errc::invalid_argument,
              "framework " + std::string(name) +
                  " is not supported: use \"np\"/\"numpy\", \"pt\"/\"torch\" or \"dlpack\" (objects with __dlpack__, "
                  "which JAX, CuPy and TensorFlow import without a copy)");
}

std::string_view framework_name(Framework f) noexcept {
  switch (f) {
    case Framework::numpy: return "numpy";
    case Framework::torch: return "torch";
    case Framework::dlpack: return "dlpack";
  }
  return "numpy";
}

std::vector<std::int64_t> storage_shape(sft::DType dtype, std::span<const std::uint64_t> shape, std::size_t nbytes) {
  std::vector<std::int64_t> out(shape.begin(), shape.end());
  if (!sft::is_subbyte(dtype)) return out;
  // F4: 2 elements per byte; F6: 4 elements per 3 bytes.
  const std::uint64_t group = dtype == sft::DType::F4 ? 2 : 4;
  const std::uint64_t group_bytes = dtype == sft::DType::F4 ? 1 : 3;
  if (!out.empty() && shape.back() % group == 0) {
    out.back() = static_cast<std::int64_t>(shape.back() / group * group_bytes);
    return out;
  }
  return {static_cast<std::int64_t>(nbytes)};
}

nb::object region_object(std::byte* data, std::size_t nbytes, Keep keep, bool writable) {
  HostTensor t{data, nbytes, sft::DType::U8, {}};
  std::uint64_t n = nbytes;
  t.shape = {&n, 1};
  return dlpack_array(t, std::move(keep), writable);
}

Emitter::Emitter(Framework fw) : fw_(fw) {
  if (fw == Framework::numpy) api_ = numpy_api();
  if (fw == Framework::torch) api_ = torch_api();
}

nb::object Emitter::view(const HostTensor& t, const Keep& keep, nb::handle numpy_base, const std::byte* region_start,
                         bool writable) const {
  switch (fw_) {
    case Framework::numpy:
      return numpy_array(*static_cast<const NumpyApi*>(api_), t, numpy_base,
                         static_cast<std::size_t>(t.data - region_start));
    case Framework::torch: {
      if (!writable) {
        // torch has no read-only tensors: a read-only mapping gives copies.
        auto buffer = std::make_shared<OwnedBuffer>(take(OwnedBuffer::allocate(t.nbytes)));
        if (t.nbytes) std::memcpy(buffer->data(), t.data, t.nbytes);
        HostTensor c = t;
        c.data = buffer->data();
        return owned(c, std::move(buffer));
      }
      return torch_tensor(*static_cast<const TorchApi*>(api_), t, keep);
    }
    case Framework::dlpack: return dlpack_array(t, keep, writable);
  }
  return nb::none();
}

nb::object Emitter::owned(const HostTensor& t, Keep keep) const {
  switch (fw_) {
    case Framework::numpy: {
      nb::object base = region_object(t.data, t.nbytes, keep, true);
      return numpy_array(*static_cast<const NumpyApi*>(api_), t, base, 0);
    }
    case Framework::torch: return torch_tensor(*static_cast<const TorchApi*>(api_), t, std::move(keep));
    case Framework::dlpack: return dlpack_array(t, std::move(keep), true);
  }
  return nb::none();
}

nb::object device_tensor(Framework fw, const HostTensor& t, Keep keep, int device_type, int device_id) {
  DLDevice device{device_type, device_id};
  if (fw == Framework::dlpack) return dlpack_array(t, std::move(keep), true, device);
  if (fw != Framework::torch)
    raise_error(sft::Errc::invalid_argument, "device memory can be handed only to torch or as DLPack tensors");
  const TorchApi& api = *torch_api();
  auto shape = storage_shape(t.dtype, t.shape, t.nbytes);
  return call1(api.from_dlpack, dlpack_capsule(t.data, names_of(t.dtype).dl, shape, std::move(keep), device));
}

nb::object torch_dtype(sft::DType dtype) {
  const TorchApi* api = torch_api();
  return api->dtypes[static_cast<std::size_t>(dtype)];
}

}  // namespace sftpy
