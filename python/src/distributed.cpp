// python/src/distributed.cpp — tensor-parallel plans and loading (docs/distributed.md).
//
// The planner and the loader are the library's (sft/distributed.hpp); the
// collectives come from Python: any object with the DistEngine methods
// (sft.distributed.TorchEngine over torch.distributed) is wrapped in a C++
// DistEngine that calls back into it with the GIL held, handing it the
// buffers as memoryviews valid for the call. load_shard runs with the GIL
// released; an exception the engine raises becomes dist_timeout (a timed-out
// collective) or dist_engine, and the engine is not called again.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include "common.hpp"
#include "frameworks.hpp"
#include "reading.hpp"
#include "sft/checkpoint.hpp"
#include "sft/distributed.hpp"
#include "sft/tensor_parallel.hpp"

namespace sftpy {

namespace {

// A writable memoryview of `n` bytes at `p` (valid only while the call that receives it runs).
nb::object memory(const std::byte* p, std::size_t n) {
  static char empty = 0;
  char* at = n ? reinterpret_cast<char*>(const_cast<std::byte*>(p)) : &empty;
  PyObject* mv = PyMemoryView_FromMemory(at, static_cast<Py_ssize_t>(n), PyBUF_WRITE);
  if (!mv) throw nb::python_error();
  return nb::steal(mv);
}

nb::list counts(std::span<const std::uint64_t> c) {
  nb::list l;
  for (auto v : c) l.append(v);
  return l;
}

class PyEngine final : public sft::DistEngine {
 public:
  // With the GIL held.
  explicit PyEngine(nb::object obj) : obj_(std::move(obj)) {
    name_ = nb::cast<std::string>(nb::str(obj_.attr("name")()));
    rank_ = nb::cast<std::uint32_t>(obj_.attr("rank")());
    world_ = nb::cast<std::uint32_t>(obj_.attr("world")());
    nodes_ = nb::cast<std::vector<std::uint32_t>>(obj_.attr("nodes")());
    if (world_ == 0 || rank_ >= world_ || nodes_.size() != world_)
      raise_error(sft::Errc::invalid_argument, "the engine reports rank " + std::to_string(rank_) + " of " +
                                                   std::to_string(world_) + " with " + std::to_string(nodes_.size()) +
                                                   " nodes");
  }
  ~PyEngine() override {
    nb::gil_scoped_acquire held;
    obj_.reset();
  }

  std::string_view name() const noexcept override { return name_; }
  std::uint32_t rank() const noexcept override { return rank_; }
  std::uint32_t world() const noexcept override { return world_; }
  std::span<const std::uint32_t> nodes() const noexcept override { return nodes_; }

  sft::Result<void> all_gather(std::span<const std::byte> mine, std::span<std::byte> out) override {
    if (out.size() != mine.size() * world_) return size_error("all_gather");
    return call("all_gather", [&] { return nb::make_tuple(memory(mine.data(), mine.size()), memory(out.data(), out.size())); });
  }
  sft::Result<void> broadcast(std::span<std::byte> buffer, std::uint32_t root) override {
    return call("broadcast", [&] { return nb::make_tuple(memory(buffer.data(), buffer.size()), root); });
  }
  sft::Result<void> scatter(std::span<const std::byte> send, std::span<std::byte> recv, std::uint32_t root) override {
    return call("scatter", [&] {
      return nb::make_tuple(memory(send.data(), send.size()), memory(recv.data(), recv.size()), root);
    });
  }
  sft::Result<void> all_to_all(std::span<const std::byte> send, std::span<const std::uint64_t> send_counts,
                               std::span<std::byte> recv, std::span<const std::uint64_t> recv_counts) override {
    if (send_counts.size() != world_ || recv_counts.size() != world_) return size_error("all_to_all");
    return call("all_to_all", [&] {
      return nb::make_tuple(memory(send.data(), send.size()), counts(send_counts), memory(recv.data(), recv.size()),
                            counts(recv_counts));
    });
  }
  sft::Result<void> barrier() override {
    return call("barrier", [] { return nb::make_tuple(); });
  }

 private:
  static sft::Error size_error(const char* what) {
    return sft::Error(sft::Errc::invalid_argument, std::string(what) + ": the buffer sizes do not match the counts");
  }

  // obj.method(*args()) with the GIL held; a Python exception becomes an Error.
  template <class Args>
  sft::Result<void> call(const char* method, Args&& args) {
    if (broken_) return sft::Error(sft::Errc::dist_engine, "the engine is unusable after an earlier failure");
    nb::gil_scoped_acquire held;
    try {
      nb::tuple a = args();
      obj_.attr(method)(*a);
      return {};
    } catch (nb::python_error& e) {
      broken_ = true;
      std::string what = e.what();
      const bool timed_out = what.find("imed out") != std::string::npos || what.find("imeout") != std::string::npos;
      return sft::Error(timed_out ? sft::Errc::dist_timeout : sft::Errc::dist_engine,
                        name_ + " engine: " + method + ": " + what.substr(0, 2000));
    } catch (std::exception& e) {
      broken_ = true;
      return sft::Error(sft::Errc::dist_engine, name_ + " engine: " + method + ": " + e.what());
    }
  }

  nb::object obj_;
  std::string name_;
  std::uint32_t rank_ = 0, world_ = 1;
  std::vector<std::uint32_t> nodes_;
  bool broken_ = false;
};

// An sft.SafetensorError (or None) back into the library's Error, for agree().
sft::Result<void> error_of(nb::handle exc) {
  if (exc.is_none()) return {};
  auto attr = [&](const char* n) { return nb::getattr(exc, n, nb::none()); };
  sft::Error e;
  nb::object code = attr("code");
  e.code = code.is_none() ? sft::Errc::internal : static_cast<sft::Errc>(nb::cast<int>(nb::int_(code)));
  nb::object message = attr("message");
  e.message = message.is_none() ? nb::cast<std::string>(nb::str(exc)) : nb::cast<std::string>(nb::str(message));
  nb::object path = attr("path");
  if (!path.is_none()) e.message = nb::cast<std::string>(nb::str(path)) + ": " + e.message;
  nb::object offset = attr("offset");
  if (!offset.is_none()) e.offset = nb::cast<std::uint64_t>(offset);
  nb::object tensor = attr("tensor");
  if (!tensor.is_none()) e.tensor = nb::cast<std::string>(nb::str(tensor));
  return e;
}

sft::SplitStrategy parse_split(std::string_view s) {
  if (s == "auto") return sft::SplitStrategy::automatic;
  if (s == "direct") return sft::SplitStrategy::direct;
  if (s == "redistribute") return sft::SplitStrategy::redistribute;
  raise_error(sft::Errc::invalid_argument, "split must be \"auto\", \"direct\" or \"redistribute\", not \"" + std::string(s) + "\"");
}

sft::ReplicaStrategy parse_replicated(std::string_view s) {
  if (s == "auto") return sft::ReplicaStrategy::automatic;
  if (s == "every-rank" || s == "every_rank") return sft::ReplicaStrategy::every_rank;
  if (s == "per-node" || s == "per_node") return sft::ReplicaStrategy::per_node;
  if (s == "per-world" || s == "per_world") return sft::ReplicaStrategy::per_world;
  raise_error(sft::Errc::invalid_argument,
              "replicated must be \"auto\", \"every-rank\", \"per-node\" or \"per-world\", not \"" + std::string(s) + "\"");
}

nb::dict stats_dict(const sft::LoadStats& s) {
  nb::dict d;
  d["rank"] = s.rank;
  d["world"] = s.world;
  d["engine"] = s.engine;
  d["tensors"] = s.tensors;
  d["bytes_held"] = s.bytes_held;
  d["bytes_read"] = s.bytes_read;
  d["read_requests"] = s.read_requests;
  d["bytes_sent"] = s.bytes_sent;
  d["bytes_received"] = s.bytes_received;
  d["control_bytes"] = s.control_bytes;
  d["rounds"] = s.rounds;
  d["direct"] = s.direct;
  d["redistributed"] = s.redistributed;
  d["striped"] = s.striped;
  d["seconds_read"] = s.seconds_read;
  d["seconds_exchange"] = s.seconds_exchange;
  d["seconds_total"] = s.seconds_total;
  return d;
}

// A loaded shard, shared by the tensors made from it (their bytes live in it).
class PyShard {
 public:
  explicit PyShard(sft::LoadedShard s) : shard_(std::make_shared<sft::LoadedShard>(std::move(s))) {}

  // name -> tensor (framework "pt", "np" or "dlpack"), viewing the shard's memory.
  nb::dict tensors(std::string_view framework) const {
    const Emitter emitter(parse_framework(framework));
    nb::dict out;
    Keep keep = shard_;
    for (const sft::LoadedTensor& t : shard_->tensors()) {
      auto bytes = shard_->bytes(t);
      HostTensor h{bytes.data(), bytes.size(), t.info.dtype, t.info.shape};
      out[py_name(t.info.name)] = emitter.owned(h, keep);
    }
    return out;
  }
  nb::dict global_shapes() const {
    nb::dict out;
    for (const sft::LoadedTensor& t : shard_->tensors()) out[py_name(t.info.name)] = shape_list(t.global_shape);
    return out;
  }
  nb::dict stats() const { return stats_dict(shard_->stats()); }
  std::uint32_t rank() const { return shard_->rank(); }
  std::uint32_t world() const { return shard_->world(); }
  std::size_t size() const { return shard_->tensors().size(); }
  std::string write(nb::handle directory) const {
    const std::string dir = fs_path(directory);
    return take(without_gil([&] { return shard_->write(dir); }), dir).string();
  }

 private:
  std::shared_ptr<sft::LoadedShard> shard_;
};

PyShard load_shard(nb::handle path, const sft::TensorParallelPlan& plan, nb::object engine, std::string_view split,
                   std::string_view replicated, unsigned read_threads, std::uint64_t max_round_bytes) {
  sft::LoadOptions o;
  o.split = parse_split(split);
  o.replicated = parse_replicated(replicated);
  o.read_threads = read_threads;
  o.max_round_bytes = max_round_bytes;
  const std::string p = fs_path(path);
  PyEngine e(std::move(engine));
  auto shard = without_gil([&] { return sft::load_shard(p, plan, e, o); });
  if (!shard) raise_error(shard.error());
  return PyShard(std::move(shard).value());
}

void agree(nb::object engine, nb::handle error) {
  PyEngine e(std::move(engine));
  sft::Result<void> mine = error_of(error);
  check(without_gil([&] { return sft::agree(e, mine); }));
}

nb::list reshard(nb::handle checkpoint, const sft::TensorParallelPlan& plan, std::uint32_t world, nb::handle directory) {
  const std::string path = fs_path(checkpoint), dir = fs_path(directory);
  auto files = without_gil([&]() -> sft::Result<std::vector<sft::ReshardedFile>> {
    SFT_TRY_ASSIGN(auto c, sft::Checkpoint::open(path));
    return sft::reshard(c, plan, world, dir);
  });
  if (!files) raise_error(files.error(), path);
  nb::list out;
  for (const auto& f : *files) out.append(nb::make_tuple(f.path.string(), f.tensors, f.bytes));
  return out;
}

}  // namespace

void init_distributed(nb::module_& m) {
  nb::class_<sft::TensorParallelPlan>(m, "Plan",
                                      "A tensor-parallel plan (docs/distributed.md): rules tried in order against "
                                      "tensor names; the first match decides.")
      .def_static(
          "parse",
          [](std::string_view json) { return take(sft::TensorParallelPlan::parse(json)); }, nb::arg("json"),
          "The plan from its JSON text (plan_invalid / plan_experts with the byte offset).")
      .def_static(
          "read",
          [](nb::handle path) {
            const std::string p = fs_path(path);
            return take(without_gil([&] { return sft::TensorParallelPlan::read(p); }), p);
          },
          nb::arg("path"), "The plan from a JSON file.")
      .def("to_json", &sft::TensorParallelPlan::to_json, "The plan as compact JSON, as parse() reads it.")
      .def(
          "part",
          [](const sft::TensorParallelPlan& plan, nb::handle name, std::string_view dtype, std::vector<std::uint64_t> shape,
             std::uint32_t rank, std::uint32_t world) -> nb::object {
            auto d = sft::parse_dtype(dtype);
            if (!d) raise_error(sft::Errc::unknown_dtype, "unknown dtype \"" + std::string(dtype) + "\"");
            sft::TensorInfo t;
            t.name = name_bytes(name);
            t.dtype = *d;
            t.shape = shape;
            std::uint64_t bits = sft::bits(*d);
            for (auto s : shape) bits *= s;
            t.data_offsets = {0, bits / 8};
            auto a = take(plan.assign(t, world));
            auto p = sft::tensor_part(t, a, rank, world);
            if (!p.held) return nb::none();
            return shape_list(p.shape);
          },
          nb::arg("name"), nb::arg("dtype"), nb::arg("shape"), nb::arg("rank"), nb::arg("world"),
          "The local shape rank `rank` of `world` holds of a tensor, or None when it holds nothing.")
      .def("__repr__", [](const sft::TensorParallelPlan& p) { return "sft.distributed.Plan(" + p.to_json() + ")"; });

  nb::class_<PyShard>(m, "LoadedShard", "The tensors one rank holds after a distributed load.")
      .def("tensors", &PyShard::tensors, nb::arg("framework") = "pt",
           "name -> tensor (\"pt\", \"np\" or \"dlpack\"), views of the shard's memory, which they keep alive.")
      .def("global_shapes", &PyShard::global_shapes, "name -> the tensor's shape in the checkpoint.")
      .def("write", &PyShard::write, nb::arg("directory"),
           "Write directory/rank-0000r-of-0000N.safetensors (what sft reshard writes for this rank); returns its path.")
      .def_prop_ro("stats", &PyShard::stats)
      .def_prop_ro("rank", &PyShard::rank)
      .def_prop_ro("world", &PyShard::world)
      .def("__len__", &PyShard::size);

  m.def("_load_shard", &load_shard, nb::arg("path"), nb::arg("plan"), nb::arg("engine"), nb::arg("split"),
        nb::arg("replicated"), nb::arg("read_threads"), nb::arg("max_round_bytes"));
  m.def("_agree", &agree, nb::arg("engine"), nb::arg("error").none());
  m.def("_reshard", &reshard, nb::arg("checkpoint"), nb::arg("plan"), nb::arg("world"), nb::arg("directory"));
}

}  // namespace sftpy
