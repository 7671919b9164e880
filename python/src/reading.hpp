// python/src/reading.hpp — tensors of an open Source as framework objects:
// shared by safe_open and Checkpoint.
//
// A mapped Source gives zero-copy views (unless a copy is asked for); a pread
// or compressed Source gives copies into memory the package owns, read with
// the GIL released. Bulk reads (get_tensors / load_file) build the whole dict
// in one call, which is where the package's speed on checkpoints of many
// tensors comes from.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "common.hpp"
#include "frameworks.hpp"
#include "source.hpp"

namespace sftpy {

// A Source as one reader holds it: the Source and, for numpy views of a
// mapping, the Python object that exports the mapping's data buffer.
struct OpenSource {
  std::shared_ptr<const Source> src;
  nb::object numpy_base;  // None unless framework numpy and mapped

  OpenSource() = default;
  OpenSource(std::shared_ptr<const Source> s, Framework fw);
};

// Open with the GIL released; FileNotFoundError / SafetensorError on failure.
std::shared_ptr<const Source> open_source(const std::string& path, Backend backend);
Backend parse_backend(std::string_view name);

// The tensor `info` (from s.src's header).
nb::object read_tensor(const Emitter& emitter, const OpenSource& s, const sft::TensorInfo& info, bool copy);
// Several tensors of one source, in the order given, into `out[name] = tensor`.
// Copies are read in parallel with the GIL released; with `prefetch`, a
// mapping's pages are faulted in on several threads first. `sole_reader`:
// no view of this mapping exists and no other thread can make one, so a cold
// file may be filled with direct I/O (Source::fill_direct).
void read_tensors(const Emitter& emitter, const OpenSource& s, std::span<const sft::TensorInfo* const> infos,
                  bool copy, bool prefetch, nb::dict& out, bool sole_reader = false);

// Python-style indexing of a tensor (ints, slices with steps and negative
// bounds, one ellipsis, an empty list); always a copy, as the reference's
// get_slice.
nb::object read_slice(const Emitter& emitter, const OpenSource& s, const sft::TensorInfo& info, nb::handle key);

// The dtype and shape of a tensor as the reference reports them.
nb::str dtype_name(sft::DType dtype);
nb::list shape_list(std::span<const std::uint64_t> shape);

// Checks `device` for the framework: numpy and dlpack take only the CPU;
// torch takes anything torch.device takes. Returns the torch.device to move
// tensors to, or None for the CPU.
nb::object resolve_device(Framework fw, nb::handle device);

// Moves a torch tensor to `device` (a torch.device; None leaves it).
nb::object to_device(nb::object tensor, nb::handle device);

}  // namespace sftpy
