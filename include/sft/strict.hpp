// sft/strict.hpp — strict validation: what the safetensors format's own README
// forbids or warns against, but the reference implementation lets through.
//
// parse_header() accepts exactly what the reference accepts (docs/format.md).
// strict_check() then looks at a header that already passed and reports each
// place where the file departs from what the format's documentation asks of a
// writer. Every finding is an Error with code Errc::strict_violation whose
// message starts with the name of the rule, e.g.
//   "header_alignment: header length 61 is not a multiple of 8"
// so a tool may match on the prefix. The rule names are stable:
//
//   header_start      the JSON header must begin with '{' (0x7B): no leading
//                     whitespace. Offset: 8, the first header byte.
//   header_padding    after the closing '}' the header may be padded only with
//                     spaces (0x20); tab, LF and CR are reported. Offset: the
//                     first such byte.
//   header_alignment  N must be a multiple of 8, so that the data buffer starts
//                     8-byte aligned in the file (the reference writer pads to
//                     8). Offset: 0, the length prefix.
//   unknown_field     a tensor entry field other than dtype, shape and
//                     data_offsets (Header::unknown_fields()). No offset.
//   tensor_alignment  a tensor whose begin offset is not a multiple of its
//                     dtype's element_size(), i.e. whose data is misaligned
//                     relative to the start of the data buffer. Together with
//                     header_alignment this means aligned in the file, and so in
//                     a page-aligned mapping, for every element size up to 8.
//                     Zero-size tensors are checked too (as<T>() refuses
//                     them as well). Offset: the tensor's data in the file.
//   empty_tensor_offset
//                     a zero-size tensor whose offset is the begin offset of a
//                     non-empty tensor. Both tile the buffer, but only because
//                     sorting by (begin, end) puts the empty one first; a reader
//                     that sorts by begin alone may see a gap or an overlap.
//                     Offset: that shared offset, in the file.
//
// Findings come in the order of this list; unknown fields in the order the
// parser recorded them, the two tensor rules each in data order.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "sft/error.hpp"
#include "sft/header.hpp"

namespace sft {

// Check `header` (a successfully parsed header) against the strict rules.
//   file_prefix: the first 8 + header.header_size() bytes of the same file (the
//                whole file is fine). If it is shorter, the two rules that read
//                header bytes (header_start, header_padding) cannot run and one
//                Errc::invalid_argument error says so instead.
// Returns every violation found, empty when the file is strictly clean. Never
// throws; work and memory are linear in the header.
std::vector<Error> strict_check(std::span<const std::byte> file_prefix, const Header& header);

}  // namespace sft
