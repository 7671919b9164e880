// sft/error.hpp — stable error codes and the Error value every API returns.
//
// Errors are values, never exceptions across the parsing API. Each code names one
// distinct reason for a rejection; the numeric values are part of the stable API
// (they may be logged, stored or compared across versions), so codes are only ever
// appended, never renumbered. Ranges are reserved per subsystem so that parts of
// the project can grow their own codes without touching each other's.
// A new code also gets its SFT_ERR_* constant in the C API (include/sft/sft.h,
// the static_asserts of src/capi/capi_core.cpp and the table of
// tests/c/capi_test.c): the test capi.error_codes fails until it has one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sft {

enum class Errc : int {
  ok = 0,

  // --- 1..39: the header and the file layout (docs/format.md) -------------------
  header_too_small = 1,    // the file is shorter than the 8-byte length prefix
  header_too_large = 2,    // N exceeds Limits::max_header_bytes (100,000,000 by default)
  header_length = 3,       // 8 + N runs past the end of the file
  invalid_utf8 = 4,        // the N header bytes are not valid UTF-8
  invalid_json = 5,        // not exactly one JSON object (syntax error, trailing bytes, ...)
  nesting_too_deep = 6,    // JSON nesting deeper than Limits::max_depth (127)
  duplicate_key = 7,       // a key repeated in one JSON object (after unescaping)
  bad_schema = 8,          // right JSON, wrong shape: missing field, wrong type, non-object entry
  unknown_dtype = 9,       // dtype string that names none of the 22 dtypes
  bad_integer = 10,        // shape / data_offsets value not an unsigned JSON integer within u64
  bad_offsets = 11,        // offsets do not tile the buffer (gap, overlap, end < begin, not from 0)
  size_overflow = 12,      // element count or bit count overflows 64 bits
  misaligned_subbyte = 13, // a sub-byte dtype whose size is not a whole number of bytes
  size_mismatch = 14,      // end - begin differs from the size implied by dtype and shape
  incomplete_buffer = 15,  // 8 + N + data bytes differs from the file size (trailing or missing bytes)
  limit_exceeded = 16,     // a Limits value (tensors, rank, name length) was exceeded
  strict_violation = 17,   // only from strict validation: allowed by the reference, warned against by the format

  // --- 40..59: reading -----------------------------------------------------------
  io_error = 40,           // open/stat/mmap/pread failed, or the file changed under us
  not_found = 41,          // no tensor of that name
  dtype_mismatch = 42,     // as<T>() with a T that does not match the tensor's dtype
  misaligned_data = 43,    // as<T>() on bytes not aligned for T
  slice_out_of_range = 44, // a slice index outside [-n, n) (ranges clamp, as in Python)
  slice_bad_range = 45,    // a slice range with a step of 0
  slice_too_many_indices = 46, // more indices than the tensor has dimensions
  slice_subbyte = 47,      // a slice of a sub-byte dtype that does not fall on byte boundaries
  buffer_too_small = 48,   // the caller's output buffer is smaller than the result
  not_mapped = 49,         // a zero-copy view asked of bytes that are not in memory (pread, compressed, remote)
  invalid_argument = 50,   // an argument outside its documented domain (e.g. a TensorInfo of another File)
  out_of_memory = 51,      // an allocation failed (reported, never thrown across the API)
  internal = 52,           // a bug in sft caught at a boundary: an exception that would have escaped,
                           // an Error built with code ok; the message says where

  // --- 60..79: writing -------------------------------------------------------------
  duplicate_name = 60,     // two tensors with one name
  invalid_name = 61,       // a tensor or metadata name that is not valid UTF-8
  reserved_name = 62,      // "__metadata__" used as a tensor name
  data_size_mismatch = 63, // supplied bytes do not match dtype x shape
  missing_data = 64,       // a declared tensor whose bytes never came
  write_failed = 65,       // write/fsync/rename failed (ENOSPC, EIO, ...)
  bad_alignment = 66,      // an alignment option that is not 8, 64 or 4096 (or a power of two >= 8)
  writer_state = 67,       // an operation out of order (bytes after finish, declare after header...)

  // --- 80..99: sharded checkpoints (index.json) ----------------------------------------
  bad_index = 80,             // index.json not JSON, or weight_map / metadata / total_size of the wrong type
  shard_path = 81,            // a shard name that is not a plain .safetensors file inside the checkpoint's directory
  shard_missing_tensor = 82,  // weight_map names a tensor that its shard does not hold
  shard_unlisted_tensor = 83, // a shard holds a tensor that weight_map does not map to it
  total_size_mismatch = 84,   // metadata.total_size differs from the tensors' byte sizes (an error only when strict)
  shard_missing = 85,         // a shard named by the index does not exist
  no_checkpoint = 86,         // a directory with no index and not exactly one .safetensors file
  unsupported_dtype = 87,     // a dtype conversion that sft does not perform (see sft/convert.hpp)

  // --- 100..119: digests and compression ------------------------------------------
  digest_mismatch = 100,      // a tensor's bytes do not hash to its embedded digest
  no_digest = 101,            // the file (or that tensor) carries no embedded digest
  bad_digest = 102,           // the embedded digest metadata is malformed (docs/api.md, "Digests")
  compressed_corrupt = 103,   // a zstd frame that does not decode to what the seek table says
  compressed_truncated = 104, // a compressed file or frame that ends early
  compressed_too_large = 105, // a frame or seek table beyond Limits::max_frame_bytes / max_frames
  bad_seek_table = 106,       // the seek table is missing, malformed or inconsistent with the file
  compressed_unsupported = 107, // a format version or flag this build does not know, or no zstd

  // --- 120..139: the GPU layer ----------------------------------------------------------
  gpu_no_backend = 120,
  gpu_no_device = 121,
  gpu_driver = 122,
  gpu_out_of_memory = 123,
  gpu_launch = 124,
  gpu_bad_argument = 125,
  gpu_unsupported = 126,
  gpu_verify_failed = 127,
  tune_cache = 128,

  // --- 140..159: .npy files ----------------------------------------------------------
  npy_bad_header = 140,
  npy_unsupported = 141,

  // --- 160..179: remote byte sources (HTTP range requests, docs/remote.md) -------------
  remote_url = 160,         // a URL sft will not fetch: malformed, not http(s), credentials in it,
                            // plain http where it is not allowed, a shard URL leaving its index's directory
  remote_unsupported = 161, // a URL given to an sft built without libcurl (SFT_WITH_CURL)
  remote_http = 162,        // an error status (4xx, 5xx after the retries) or one sft cannot use
  remote_range = 163,       // a response that does not match its range request: wrong or missing
                            // Content-Range, 200 for a part of the file, more or fewer bytes than declared
  remote_changed = 164,     // the file changed on the server while it was read (412, another ETag,
                            // Last-Modified or size): never a mix of two files
  remote_timeout = 165,     // connect, idle or request timeout, after the retries
  remote_too_large = 166,   // RemoteOptions::max_bytes reached, or a response larger than sft accepts
  remote_redirect = 167,    // too many redirects (a loop), no usable Location, or a hop to a refused scheme
  remote_tls = 168,         // TLS handshake or certificate verification failed (never retried)
  remote_connection = 169,  // cannot resolve or connect, connection reset, body cut short: after the retries
  remote_encoding = 170,    // a Content-Encoding other than identity (sft asks for identity, never decodes)

  // --- 180..199: tensor-parallel plans and distributed loading (docs/distributed.md) ------
  plan_invalid = 180,      // a plan that is not JSON, or of the wrong shape (unknown or repeated key, wrong type, limits)
  plan_split = 181,        // a split that does not fit the tensor (dimension out of range, uneven under "uneven": "error")
  plan_subbyte = 182,      // an F4 / F6 split whose parts do not start and end on whole bytes
  plan_experts = 183,      // an experts rule without {e}, or a tensor whose expert index is >= the number of experts
  dist_engine = 184,       // the collective engine failed (MPI / NCCL / torch.distributed error, engine unusable)
  dist_timeout = 185,      // a collective did not complete in time (a peer stalled or died); the engine is unusable after it
  dist_peer_failed = 186,  // another rank failed (its error is quoted in the message); this rank's own work was fine
  dist_mismatch = 187,     // the ranks do not agree on the checkpoint, the plan or the options

  // --- reserved ranges for subsystems (codes are added inside their range) --------------
  // 200..219: the Python package's own conditions (docs/python.md)
};

// The snake_case name of a code, e.g. "header_length"; "unknown" for values not listed.
std::string_view errc_name(Errc code) noexcept;

struct Error {
  // Sentinel for `offset` when no byte position applies.
  static constexpr std::uint64_t no_offset = ~std::uint64_t{0};

  Errc code = Errc::ok;
  std::string message;                 // what was wrong, in words
  std::uint64_t offset = no_offset;    // byte offset in the file (header errors) or no_offset
  std::string tensor;                  // the tensor concerned, raw bytes of its name; empty if none

  Error() = default;
  Error(Errc c, std::string msg, std::uint64_t off = no_offset, std::string name = {})
      : code(c), message(std::move(msg)), offset(off), tensor(std::move(name)) {}

  // "CODE: message (offset N, tensor NAME)", the parenthesis only with what is known.
  // Control characters in the tensor name are escaped so the line stays one line.
  std::string to_string() const;

  // Composition: add what the caller knows that the callee did not.
  // with_tensor: names the tensor unless one is already named (the innermost
  // name is the most precise). with_context: prefixes the message with
  // "CONTEXT: " (a file path, a shard name, an operation). with_offset: sets
  // the byte offset unless one is already known.
  Error with_tensor(std::string_view name) const&;
  Error with_tensor(std::string_view name) &&;
  Error with_context(std::string_view context) const&;
  Error with_context(std::string_view context) &&;
  Error with_offset(std::uint64_t off) &&;
};

}  // namespace sft
