// python/src/module.cpp — the native module sft._sft.
//
// The pure-Python package (python/sft/) re-exports what users call; this
// module holds what must be native: opening and parsing files, building
// tensors, writing, checkpoints, digests and the GPU loader.
#include "common.hpp"

namespace sftpy {
void init_safe_open(nb::module_& m);
void init_writing(nb::module_& m);
void init_checkpoint(nb::module_& m);
void init_integrity(nb::module_& m);
void init_device(nb::module_& m);
void init_support(nb::module_& m);
void init_distributed(nb::module_& m);
}  // namespace sftpy

NB_MODULE(_sft, m) {
  m.doc() = "The native half of the sft package (docs/python.md).";
  m.attr("__version__") = SFT_VERSION;
  sftpy::init_errors(m);
  sftpy::init_safe_open(m);
  sftpy::init_writing(m);
  sftpy::init_checkpoint(m);
  sftpy::init_integrity(m);
  sftpy::init_device(m);
  sftpy::init_support(m);
  sftpy::init_distributed(m);
}
