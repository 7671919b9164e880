// python/src/checkpoint.cpp — sft.Checkpoint: safe_open's API across the
// shards of a checkpoint (a directory, an index *.json, or a single file).
//
// sft::Checkpoint parses and checks the untrusted index (docs/checkpoints.md)
// and says which shard holds a tensor; the shards themselves are opened here,
// lazily, as Sources (the package's own copy-on-write mapping), so tensors
// from a Checkpoint behave exactly as those from safe_open.
#include <algorithm>
#include <mutex>
#include <optional>

#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include "common.hpp"
#include "reading.hpp"
#include "sft/checkpoint.hpp"

namespace sftpy {

namespace {

class PyCheckpoint {
 public:
  PyCheckpoint(nb::handle path, std::string_view framework, nb::handle device, std::string_view backend,
               bool follow_external_symlinks)
      : fw_(parse_framework(framework)), backend_(parse_backend(backend)), emitter_(std::make_shared<const Emitter>(fw_)) {
    device_ = resolve_device(fw_, device);
    path_ = fs_path(path);
    sft::CheckpointOptions o;
    o.follow_external_symlinks = follow_external_symlinks;
    auto c = without_gil([&] { return sft::Checkpoint::open(path_, o); });
    if (!c) raise_open_error(c.error(), path_);
    ckpt_.emplace(std::move(c).value());
    shards_.resize(ckpt_->shards().size());
  }

  nb::list keys() const {
    alive();
    nb::list out;
    for (const auto& n : ckpt_->names()) out.append(py_name(n));
    return out;
  }

  // Shard order, then data order within each shard.
  nb::list offset_keys() {
    alive();
    nb::list out;
    for (std::size_t s = 0; s < shards_.size(); ++s)
      for (const sft::TensorInfo* t : listed(s)) out.append(py_name(t->name));
    return out;
  }

  // The first shard's __metadata__ (transformers writes the same in each).
  nb::object metadata() {
    alive();
    if (shards_.empty()) return nb::none();
    const auto& h = shard(0).src->header();
    if (!h.has_metadata()) return nb::none();
    nb::dict d;
    for (const auto& e : h.metadata()) d[py_name(e.key)] = py_name(e.value);
    return d;
  }

  nb::object get_tensor(nb::handle name, bool copy) {
    auto [s, info] = find(name);
    return to_device(read_tensor(*emitter_, s, *info, copy), device_);
  }

  nb::dict get_tensors(bool copy, std::optional<bool> prefetch) {
    alive();
    nb::dict out;
    for (std::size_t s = 0; s < shards_.size(); ++s) {
      auto tensors = listed(s);
      read_tensors(*emitter_, shard(s), tensors, copy, prefetch.value_or(true), out);
    }
    if (!device_.is_none())
      for (auto item : out) out[item.first] = to_device(nb::borrow(item.second), device_);
    return out;
  }

  nb::object get_slice_item(nb::handle name, nb::handle key) {
    auto [s, info] = find(name);
    return to_device(read_slice(*emitter_, s, *info, key), device_);
  }

  std::pair<nb::list, std::string> slice_info(nb::handle name) {
    auto [s, info] = find(name);
    auto n = sft::name(info->dtype);
    return {shape_list(info->shape), std::string(n)};
  }

  nb::list shard_paths() const {
    alive();
    nb::list out;
    for (std::size_t s = 0; s < shards_.size(); ++s) out.append(nb::str(shard_file(s).c_str()));
    return out;
  }

  bool sharded() const { return alive().sharded(); }
  std::size_t size() const { return alive().size(); }
  bool contains(nb::handle name) const { return alive().contains(name_bytes(name)); }
  std::string index_path() const { return alive().index_path().string(); }

  // Every rule of the index and the shards (docs/checkpoints.md): (errors, warnings).
  nb::tuple check(bool strict) {
    alive();
    sft::CheckpointOptions o;
    o.strict = strict;
    auto report = without_gil([&] {
      auto c = sft::Checkpoint::open(path_, o);
      if (!c) return sft::CheckpointReport{{std::move(c).error()}, {}};
      return c->check();
    });
    nb::list errors, warnings;
    for (const auto& e : report.errors) errors.append(make_error(e, path_));
    for (const auto& e : report.warnings) warnings.append(make_error(e, path_));
    return nb::make_tuple(errors, warnings);
  }

  void close() {
    std::vector<OpenSource> dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      dropped.swap(shards_);
    }
  }
  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  // The paths of the files a load_to_device call reads (every shard).
  std::vector<std::string> paths() const {
    std::vector<std::string> out;
    for (std::size_t s = 0; s < alive().shards().size(); ++s) out.push_back(shard_file(s));
    return out;
  }

 private:
  std::string shard_file(std::size_t s) const { return take(ckpt_->shard_path(s)).string(); }

  const sft::Checkpoint& alive() const {
    if (closed()) raise_error(sft::Errc::invalid_argument, "Checkpoint is closed");
    return *ckpt_;
  }

  // The shard, opened on first use. Opened without the lock (opening
  // releases the GIL, and another thread may open the same shard meanwhile:
  // the first to publish wins, the other copy is dropped).
  OpenSource shard(std::size_t s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) raise_error(sft::Errc::invalid_argument, "Checkpoint is closed");
      if (shards_[s].src) return shards_[s];
    }
    OpenSource fresh(open_source(shard_file(s), backend_), fw_);
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) raise_error(sft::Errc::invalid_argument, "Checkpoint is closed");
    if (!shards_[s].src) shards_[s] = fresh;
    return shards_[s];
  }

  // The tensors of shard s that the index maps to it, in data order.
  std::vector<const sft::TensorInfo*> listed(std::size_t s) {
    OpenSource src = shard(s);
    std::vector<const sft::TensorInfo*> out;
    for (const auto& t : src.src->header().tensors()) {
      auto where = ckpt_->shard_of(t.name);
      if (where && *where == s) out.push_back(&t);
    }
    return out;
  }

  std::pair<OpenSource, const sft::TensorInfo*> find(nb::handle name) {
    std::string_view n = name_bytes(name);
    auto where = alive().shard_of(n);
    if (!where) raise_error(sft::Errc::not_found, "Checkpoint does not contain tensor " + std::string(n), n);
    OpenSource s = shard(*where);
    const sft::TensorInfo* info = s.src->header().find(n);
    if (!info)
      raise_error(sft::Errc::shard_missing_tensor,
                  "the index maps tensor " + std::string(n) + " to " + ckpt_->shards()[*where] + ", which does not hold it",
                  n);
    return {s, info};
  }

  Framework fw_;
  Backend backend_;
  std::shared_ptr<const Emitter> emitter_;
  nb::object device_;
  std::string path_;
  std::optional<sft::Checkpoint> ckpt_;
  mutable std::mutex mu_;  // guards shards_ and closed_
  std::vector<OpenSource> shards_;
  bool closed_ = false;
};

}  // namespace

std::vector<std::string> checkpoint_paths(nb::handle checkpoint) {
  return nb::cast<const PyCheckpoint&>(checkpoint).paths();
}

void init_checkpoint(nb::module_& m) {
  nb::class_<PyCheckpoint>(m, "_Checkpoint")
      .def(nb::init<nb::handle, std::string_view, nb::handle, std::string_view, bool>(), nb::arg("path"),
           nb::arg("framework"), nb::arg("device"), nb::arg("backend"), nb::arg("follow_external_symlinks"))
      .def("keys", &PyCheckpoint::keys)
      .def("offset_keys", &PyCheckpoint::offset_keys)
      .def("metadata", &PyCheckpoint::metadata)
      .def("get_tensor", &PyCheckpoint::get_tensor, nb::arg("name"), nb::arg("copy"))
      .def("get_tensors", &PyCheckpoint::get_tensors, nb::arg("copy"), nb::arg("prefetch").none())
      .def("get_slice_item", &PyCheckpoint::get_slice_item, nb::arg("name"), nb::arg("key"))
      .def("slice_info", &PyCheckpoint::slice_info, nb::arg("name"))
      .def("shard_paths", &PyCheckpoint::shard_paths)
      .def("sharded", &PyCheckpoint::sharded)
      .def("size", &PyCheckpoint::size)
      .def("contains", &PyCheckpoint::contains, nb::arg("name"))
      .def("index_path", &PyCheckpoint::index_path)
      .def("check", &PyCheckpoint::check, nb::arg("strict"))
      .def("close", &PyCheckpoint::close)
      .def_prop_ro("closed", &PyCheckpoint::closed);
}

}  // namespace sftpy
