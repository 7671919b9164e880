// sft/checkpoint.hpp — a model stored as one file or as shards with an index.
//
// Checkpoint::open takes any of
//   * a .safetensors file,
//   * an index file (model.safetensors.index.json, or any *.json), whose
//     shards live in the index's own directory (the directory of the path as
//     given, not of a symlink's target, as Hugging Face's cache requires),
//   * an http(s) URL of a file or of an index (its path ends in .json), whose
//     shards are the URLs beside it: the same name rules (shard_path), never
//     another directory or host (sft/remote.hpp, docs/remote.md),
//   * a directory holding model.safetensors.index.json, else exactly one
//     *.safetensors.index.json, else exactly one *.safetensors file
//     (no_checkpoint otherwise).
// Tensors are looked up by name across shards. A shard is opened (File::open)
// the first time one of its tensors is asked for; const member functions may be
// called from several threads at once.
//
// The index is untrusted input, checked when it is opened:
//   bad_index             not UTF-8 / not JSON (with the byte offset), not an
//                         object, no "weight_map" object, a weight_map value
//                         that is not a string, "metadata" not an object,
//                         metadata.total_size not a non-negative integer;
//   duplicate_key         a key repeated in the top-level object, in
//                         weight_map (a tensor mapped twice) or in metadata;
//   shard_path            a shard name that is not a plain file name ending in
//                         ".safetensors": empty, absolute, ".", "..", holding a
//                         '/', '\\', ':' or control character; or a symlink
//                         that resolves outside the checkpoint's directory
//                         (unless CheckpointOptions::follow_external_symlinks);
//                         or an index file that is itself such a symlink
//                         (checked before it is read, under the same option);
//   shard_missing         a named shard does not exist.
// Checks that need every shard open run in check() / validate():
//   shard_missing_tensor  weight_map maps a tensor to a shard that lacks it;
//   shard_unlisted_tensor a shard holds a tensor that weight_map does not map
//                         to that shard (absent, or mapped to another shard);
//   total_size_mismatch   metadata.total_size is missing or differs from the
//                         sum of the tensors' byte sizes: a warning, or an
//                         error with CheckpointOptions::strict;
// plus every error of opening a shard, its message prefixed with the shard name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sft/file.hpp"
#include "sft/result.hpp"

namespace sft {

struct CheckpointOptions {
  OpenOptions open{};               // how each shard is opened
  bool strict = false;              // total_size problems are errors, not warnings
  // Accept shards, and an index, that are symlinks resolving outside the
  // checkpoint's directory (the Hugging Face cache links snapshot files to
  // ../../blobs/). Off, such a checkpoint is shard_path, and each shard is
  // opened (lazily) relative to a descriptor of the directory kept from
  // open(), following no symlink (openat, O_NOFOLLOW): a shard or the
  // directory swapped for a symlink after open() is io_error or changes
  // nothing, never a read outside. On, shards are opened by path.
  bool follow_external_symlinks = false;
  std::uint64_t max_index_bytes = 100'000'000;  // larger index files are bad_index
};

// Everything check() found: errors make the checkpoint invalid; warnings do not.
struct CheckpointReport {
  std::vector<Error> errors;
  std::vector<Error> warnings;
  bool ok() const noexcept { return errors.empty(); }
};

// One tensor of a checkpoint: its shard and its entry in that shard's header.
struct CheckpointTensor {
  std::size_t shard = 0;
  const File* file = nullptr;
  const TensorInfo* info = nullptr;
  // The tensor's bytes in every mode (File::load): a view where the shard's
  // bytes are in memory, an owned copy otherwise.
  Result<TensorBytes> load() const { return file->load(*info); }
  // Zero-copy view: not_mapped unless the shard's bytes are in memory (File::view).
  Result<TensorView> view() const { return file->view(*info); }
};

class Checkpoint {
 public:
  static Result<Checkpoint> open(const std::filesystem::path& path, const CheckpointOptions& options = {});

  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;
  ~Checkpoint();

  bool sharded() const noexcept;                          // opened through an index
  const std::filesystem::path& directory() const noexcept;
  const std::filesystem::path& index_path() const noexcept;  // empty for a single file

  // Shard file names (relative to directory()), sorted bytewise; a single file is shard 0.
  std::span<const std::string> shards() const noexcept;
  // The path a shard is opened from (invalid_argument for shard >= shards().size()).
  Result<std::filesystem::path> shard_path(std::size_t shard) const;
  // The shard, opened on first use (errors are remembered: a second call returns the same).
  Result<const File*> shard(std::size_t shard) const;
  bool shard_opened(std::size_t shard) const noexcept;

  // Tensor names as listed by the index (or the single file), sorted bytewise.
  std::span<const std::string> names() const noexcept;
  std::size_t size() const noexcept;
  bool contains(std::string_view name) const noexcept;
  // The shard that the index maps a tensor to (not_found if none).
  Result<std::size_t> shard_of(std::string_view name) const;

  // The tensor, opening its shard if needed: not_found, shard_missing_tensor,
  // or the shard's open error.
  Result<CheckpointTensor> find(std::string_view name) const;
  // The tensor's bytes in every mode (File::load), opening its shard if needed.
  Result<TensorBytes> load(std::string_view name) const&;
  Result<TensorBytes> load(std::string_view name) && = delete;
  // Zero-copy view: not_mapped unless the shard's bytes are in memory
  // (pread mode, compressed shards).
  Result<TensorView> tensor(std::string_view name) const&;
  Result<TensorView> tensor(std::string_view name) && = delete;

  // Every listed tensor in a stable order: shard order, then data order within
  // the shard. Opens every shard; the first error is returned.
  Result<std::vector<CheckpointTensor>> tensors() const;

  // Opens every shard and checks every rule above; collects all errors.
  CheckpointReport check() const;
  // check(), as a Result: the first error, or the warnings.
  Result<std::vector<Error>> validate() const;

  // metadata.total_size of the index, when present.
  bool has_total_size() const noexcept;
  std::uint64_t total_size() const noexcept;

 private:
  struct Impl;
  explicit Checkpoint(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

template <>
inline constexpr bool result_owns_views<Checkpoint> = true;

}  // namespace sft
