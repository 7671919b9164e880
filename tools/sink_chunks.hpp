// tools/sink_chunks.hpp — feeding a Writer's TensorSink piece by piece, so a
// progress bar moves while a large tensor is written.
#pragma once

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "command.hpp"
#include "header_loader.hpp"
#include "progress.hpp"
#include "sft/checkpoint.hpp"
#include "sft/writer.hpp"

namespace sft::cli {

inline constexpr std::size_t kSinkChunk = std::size_t{16} << 20;

inline Result<void> write_in_chunks(std::span<const std::byte> bytes, TensorSink& sink, Progress& progress) {
  for (std::size_t at = 0; at < bytes.size(); at += kSinkChunk) {
    auto part = bytes.subspan(at, std::min(kSinkChunk, bytes.size() - at));
    if (auto r = sink.write(part); !r) return r;
    progress.add(part.size());
  }
  return {};
}

// The read of an input that failed while an output was being written: the
// file it was reading and the error, so that the command reports it against
// that input (exit 2 for an unreadable one), not as a failed write of OUT.
struct InputFailure {
  std::string file;
  std::optional<Error> error;

  // Record `e` as `file`'s (the first failure only) and return it.
  Error note(const std::string& path, Error e) {
    if (!error) {
      file = path;
      error = e;
    }
    return e;
  }
  // If an input failed: its error line on stderr, and true.
  bool report() const {
    if (!error) return false;
    err(error_line(file, *error));
    return true;
  }
};

// The path of the file that holds `t`, for error lines.
inline std::string tensor_file(const Checkpoint& c, const CheckpointTensor& t) {
  auto p = c.shard_path(t.shard);
  return p ? p->string() : std::string("shard ") + std::to_string(t.shard);
}

// A tensor's bytes read from its file (pread: never through a mapping, so a
// file that shrinks meanwhile is an io_error, not SIGBUS) in pieces of at
// most kSinkChunk bytes, each handed to fn(std::span<const std::byte>). A
// failed read is noted in `failure` against the tensor's file.
template <class Fn>
Result<void> read_in_chunks(const Checkpoint& c, const CheckpointTensor& t, std::size_t chunk,
                            std::vector<std::byte>& buf, InputFailure& failure, Fn&& fn) {
  const std::uint64_t size = t.info->byte_size();
  buf.resize(static_cast<std::size_t>(std::min<std::uint64_t>(chunk, size)));
  for (std::uint64_t at = 0; at < size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - at));
    std::span<std::byte> piece(buf.data(), n);
    if (auto r = t.file->read_range(*t.info, at, piece); !r) return failure.note(tensor_file(c, t), std::move(r).error());
    if (auto r = fn(std::span<const std::byte>(piece)); !r) return r;
    at += n;
  }
  return {};
}

// Copy a tensor into the sink, reading it as read_in_chunks does.
inline Result<void> copy_tensor(const Checkpoint& c, const CheckpointTensor& t, TensorSink& sink, Progress& progress,
                                std::vector<std::byte>& buf, InputFailure& failure) {
  return read_in_chunks(c, t, kSinkChunk, buf, failure, [&](std::span<const std::byte> piece) -> Result<void> {
    SFT_TRY(sink.write(piece));
    progress.add(piece.size());
    return {};
  });
}

// Set every metadata entry on `w`; false (after printing the error against
// `path`) if the Writer refuses one.
inline bool set_all_metadata(Writer& w, const std::vector<MetadataEntry>& metadata, const std::string& path) {
  for (const auto& m : metadata)
    if (auto r = w.set_metadata(m.key, m.value); !r) {
      err(error_line(path, r.error()));
      return false;
    }
  return true;
}

}  // namespace sft::cli
