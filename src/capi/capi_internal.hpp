// src/capi/capi_internal.hpp — what the C API's opaque handles hold, and the
// boundary every C function runs its body through (internal).
//
// Handles share ownership (std::shared_ptr) so that a C caller may release
// them in any order: an sft_bytes holds its File, a shard's sft_file holds its
// Checkpoint (an aliasing shared_ptr), and the last release frees them.
#pragma once

#define SFT_C_API_BUILD 1
#include "sft/sft.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "sft/checkpoint.hpp"
#include "sft/error.hpp"
#include "sft/file.hpp"
#include "sft/result.hpp"
#include "sft/writer.hpp"

struct sft_error {
  sft::Error error;
  std::string line;  // error.to_string(), for sft_error_string()
};

struct sft_file {
  std::shared_ptr<const sft::File> file;
  std::string kind;  // source_kind(), NUL-terminated for sft_file_source_kind()
};

struct sft_bytes {
  std::shared_ptr<const sft::File> file;  // declared first: destroyed after `bytes`
  sft::TensorBytes bytes;
};

struct sft_checkpoint {
  std::shared_ptr<const sft::Checkpoint> checkpoint;
};

struct sft_writer {
  sft::Writer writer;
  // The bytes each added tensor borrows, by name, so that serialize() can copy
  // them straight into the caller's buffer.
  std::map<std::string, std::span<const std::byte>, std::less<>> bytes;
};

namespace sft::capi {

// Stores `e` (its code made non-ok) in *err when err is not null and returns
// its code. Never throws: when the error object cannot be allocated, *err is
// a static out-of-memory error and the status SFT_ERR_OUT_OF_MEMORY.
sft_status fail(sft_error** err, Error e) noexcept;

// Runs body() -> Result<void> with every exception caught: the one place where
// C callers' statuses and error objects are made.
template <class F>
sft_status boundary(sft_error** err, F&& body) noexcept {
  if (err) *err = nullptr;
  try {
    Result<void> r = std::forward<F>(body)();
    if (r) return SFT_OK;
    return fail(err, std::move(r).error());
  } catch (const std::bad_alloc&) {
    return fail(err, Error(Errc::out_of_memory, "out of memory"));
  } catch (...) {
    return fail(err, Error(Errc::internal, "exception at the C API boundary"));
  }
}

// invalid_argument naming the argument that was NULL or out of its domain.
Error bad_argument(std::string_view what);

// True when every reserved field of an options struct is zero, as the ABI
// requires (a later version may give them a meaning).
inline bool all_zero(std::span<const std::uint64_t> reserved) noexcept {
  for (auto r : reserved)
    if (r != 0) return false;
  return true;
}

// The Limits of C options (zero fields: defaults), and the checks on the
// fields every options struct shares (unknown bits, reserved fields).
Result<OpenOptions> open_options(const sft_open_options* options);

// A new sft_file handle sharing ownership of `file`.
sft_file* new_file_handle(std::shared_ptr<const File> file);

// A new sft_bytes holding `bytes` of `file`.
sft_bytes* new_bytes_handle(std::shared_ptr<const File> file, TensorBytes bytes);

}  // namespace sft::capi
