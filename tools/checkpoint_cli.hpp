// tools/checkpoint_cli.hpp — what the commands that take a checkpoint share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sft/checkpoint.hpp"

namespace sft::cli {

// True for a directory or a path ending in ".json" (a URL whose path does): a
// checkpoint rather than a single file (validate and inspect keep their
// single-file path otherwise).
bool is_checkpoint_path(const std::string& path);

// Exit status for an error: 2 when the input could not be read (io_error, no
// checkpoint in a directory, a failed remote read), 1 when it was read and
// found invalid.
int error_status(const Error& e) noexcept;

// Open PATH (file, directory or index) for reading whole tensors; on failure
// print the error line on stderr and set *status.
std::optional<Checkpoint> open_checkpoint_or_report(const std::string& path, int* status,
                                                    const CheckpointOptions& options = {});

// open_checkpoint_or_report, then every check `sft validate` runs
// (Checkpoint::check: unlisted and missing tensors, every shard opened): so
// every command that takes a checkpoint sees the model its index describes,
// or refuses it as validate does. Errors are printed (one line each, the
// first 100 and then a count) and set *status (2 if one is unreadable, else
// 1); warnings are not printed.
std::optional<Checkpoint> open_checked_checkpoint(const std::string& path, int* status,
                                                  const CheckpointOptions& options = {});

// The __metadata__ of a checkpoint: the union of its shards' entries (in
// shard order, then key order). A key whose value differs between shards
// keeps the first value; a warning line naming it is printed on stderr.
// Opens every shard; false (after printing the error) if one fails.
bool checkpoint_metadata(const std::string& path, const Checkpoint& c, std::vector<MetadataEntry>* out, int* status);

// A checkpoint opened to be written out again (split, merge, convert): its
// tensors in shard order then data order, and its metadata.
struct SourceCheckpoint {
  Checkpoint checkpoint;
  std::vector<CheckpointTensor> tensors;
  std::vector<MetadataEntry> metadata;
};
// Open PATH for sequential reading (open_checked_checkpoint, every shard in
// pread mode: the commands read tensors with read_in_chunks, never through a
// mapping) and list the above; on failure print the error and set *status.
std::optional<SourceCheckpoint> open_source(const std::string& path, int* status);

// diff, convert, split and merge refuse a compressed checkpoint
// (docs/compression.md): false, after printing a compressed_unsupported line
// that says to run `sft decompress` first and setting *status to 1, when the
// tensor's file is compressed.
bool readable_in_place(const std::string& path, const CheckpointTensor& t, int* status);

// Parse "5GB", "500MB", "5GiB", "1.5GB", "123" (bytes), units in any case.
// Decimal units (k/kB, M/MB, G/GB, T/TB) are powers of 1000, as
// huggingface_hub reads them; binary ones (KiB, MiB, GiB, TiB) powers of 1024;
// B or no unit means bytes. The result must be a whole number >= 1.
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace sft::cli
