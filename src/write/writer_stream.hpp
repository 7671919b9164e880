// src/write/writer_stream.hpp — the state behind a StreamingWriter (internal).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "sft_internal/atomic_file.hpp"
#include "sft/writer.hpp"

namespace sft {

struct StreamingWriter::Impl {
  // Which bytes of one tensor have been written: disjoint, non-adjacent runs
  // [begin, end), merged as writes arrive, so in-order writes keep one run.
  struct TensorState {
    std::map<std::uint64_t, std::uint64_t> runs;
    std::uint64_t covered = 0;   // bytes in `runs`
    std::uint64_t cursor = 0;    // where the next write() continues
    bool supplied = false;       // bytes came with Writer::add
  };

  Impl(WriterPlan p, detail::AtomicFile f, bool durable_)
      : plan(std::move(p)), file(std::move(f)), state(plan.tensors().size()), durable(durable_) {}

  void mark(std::size_t index, std::uint64_t begin, std::uint64_t end);

  WriterPlan plan;
  detail::AtomicFile file;
  std::vector<TensorState> state;
  bool durable;
  bool failed = false;     // an I/O error or a failed commit aborted the stream
  bool prepared = false;   // prepare(): complete and closed, not renamed yet
  bool committed = false;
};

}  // namespace sft
