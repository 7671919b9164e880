// src/header/header_read.hpp — parse the header of a file that is read piecewise (internal).
//
// Shared by File's pread mode and the compressed reader: read the 8-byte
// length prefix, check it against the file size and the limits, then read
// exactly 8 + N bytes into a buffer padded for the JSON parser. The buffer is
// sized only from an N already checked against real bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "sft/header.hpp"
#include "sft/limits.hpp"
#include "sft/result.hpp"

namespace sft::detail {

using ReadAt = std::function<Result<void>(std::uint64_t offset, std::span<std::byte> out)>;

Result<Header> read_header(const ReadAt& read, std::uint64_t file_size, const Limits& limits);

}  // namespace sft::detail
