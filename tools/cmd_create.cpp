// `sft create [--alignment N] [--metadata KEY=VALUE]... OUT NAME=FILE.npy[:DTYPE]...`
// Pack .npy arrays into one safetensors file. Each .npy is read with pread as
// its tensor is written (never mapped), or read whole and converted when it
// must be (big-endian, or Fortran order with more than one dimension above 1).
// `:DTYPE` reinterprets the array's raw bytes as a dtype of the same width,
// which is how BF16 / F8 / F4 / F6 tensors (saved by NumPy as '<u2', '|u1' or
// 'V' raw bytes) come back: see docs/cli.md.
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>


#include "command.hpp"
#include "header_loader.hpp"
#include "sft/npy.hpp"
#include "sft_internal/regular_file.hpp"
#include "sft/writer.hpp"
#include "write_options.hpp"

namespace sft::cli {
namespace {

// An input .npy file, read with pread (never mapped: a file that shrinks
// while it is read is an io_error naming it, exit 2, not a failed write of
// OUT or SIGBUS).
struct Input {
  std::string path;
  detail::RegularFile file;
  std::uint64_t data_offset = 0;
  std::vector<std::byte> converted;  // used when the data needs conversion
};

// The first bytes of the file, enough to hold the .npy preamble: the fixed
// part, then the length it gives (2 bytes in version 1, 4 in 2 and 3),
// bounded by the file's size.
Result<std::vector<std::byte>> read_preamble(const Input& in) {
  const std::uint64_t size = in.file.size;
  std::vector<std::byte> head(static_cast<std::size_t>(std::min<std::uint64_t>(size, 12)));
  SFT_TRY(detail::pread_exact(in.file.fd.get(), 0, head));
  std::uint64_t want = head.size();
  if (head.size() >= 10) {
    const auto b = [&](std::size_t i) { return static_cast<std::uint64_t>(head[i]); };
    const auto major = b(6);
    if (major == 1) want = 10 + (b(8) | b(9) << 8);
    else if (head.size() >= 12) want = 12 + (b(8) | b(9) << 8 | b(10) << 16 | b(11) << 24);
  }
  want = std::min(want, size);
  if (want > head.size()) {
    head.resize(static_cast<std::size_t>(want));
    SFT_TRY(detail::pread_exact(in.file.fd.get(), 0, head));
  }
  return head;
}

// The shape a raw byte array gets as `t`: sub-byte dtypes pack several
// elements per byte along the last dimension (F4: 2 per byte, F6: 4 per 3).
// The .npy's numbers are untrusted: a zero-element array may have any
// dimension up to 2^64 - 1, so the multiplication is checked (size_overflow)
// rather than left to wrap ([0, 2^63] as F4 would become [0, 0]).
Result<std::vector<std::uint64_t>> reinterpret_shape(DType t, const NpyHeader& h) {
  std::vector<std::uint64_t> shape = h.shape;
  auto refuse = [&](Errc code, const std::string& why) {
    return Error(code, "cannot read as " + std::string(name(t)) + ": " + why);
  };
  if (!is_subbyte(t)) {
    if (element_size(t) != h.item_size)
      return refuse(Errc::invalid_argument, "the array's items are " + std::to_string(h.item_size) + " bytes, " +
                                                std::string(name(t)) + " takes " + std::to_string(element_size(t)));
    return shape;
  }
  if (h.item_size != 1) return refuse(Errc::invalid_argument, std::string(name(t)) + " is read from one-byte items ('|u1' or 'V1')");
  if (shape.empty()) shape.push_back(1);
  std::uint64_t& last = shape.back();
  const std::uint64_t bytes = last;
  const std::uint64_t per = t == DType::F4 ? 2 : 4, group = t == DType::F4 ? 1 : 3;
  if (bytes % group != 0) return refuse(Errc::invalid_argument, "an F6 array's last dimension must be a multiple of 3 bytes");
  if (bytes / group > ~std::uint64_t{0} / per)
    return refuse(Errc::size_overflow, "the last dimension, " + std::to_string(bytes) + " bytes, holds more than 2^64 - 1 " +
                                           std::string(name(t)) + " elements");
  last = bytes / group * per;
  return shape;
}

int run_create(std::span<const std::string_view> args) {
  WriterOptions opts;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<std::string_view> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--alignment") {
      if (!take_alignment(args, i, opts)) return usage_error("create", "--alignment takes a number (8, 64, 4096, ...)");
    } else if (args[i] == "--metadata") {
      auto eq = i + 1 < args.size() ? args[i + 1].find('=') : std::string_view::npos;
      if (eq == std::string_view::npos) return usage_error("create", "--metadata takes KEY=VALUE");
      metadata.emplace_back(std::string(args[i + 1].substr(0, eq)), std::string(args[i + 1].substr(eq + 1)));
      ++i;
    } else if (rest.empty() && args[i].size() > 1 && args[i][0] == '-') {
      return usage_error("create", "unknown option '" + printable(args[i]) + "'");
    } else {
      rest.push_back(args[i]);
    }
  }
  if (rest.empty()) return usage_error("create", "expected OUT and NAME=FILE.npy arguments");
  const std::string out_path(rest[0]);

  Writer w(opts);
  for (const auto& [k, v] : metadata)
    if (auto r = w.set_metadata(k, v); !r) {
      err("sft create: --metadata: " + r.error().to_string() + "\n");
      return 1;
    }
  // Inputs stay open until the file is written: the bytes of most are read
  // as they are written (declare and a TensorSource).
  std::vector<std::unique_ptr<Input>> inputs;
  std::unordered_map<std::string, const Input*> by_tensor;
  for (std::size_t i = 1; i < rest.size(); ++i) {
    std::string_view spec = rest[i];
    auto eq = spec.rfind('=');  // the last '=': names may hold '=', paths rarely do
    if (eq == std::string_view::npos) return usage_error("create", "expected NAME=FILE.npy, got '" + printable(spec) + "'");
    std::string tensor(spec.substr(0, eq));
    std::string path(spec.substr(eq + 1));
    std::optional<DType> as;
    if (auto colon = path.rfind(':'); colon != std::string::npos) {
      if (auto t = parse_dtype(std::string_view(path).substr(colon + 1))) {
        as = t;
        path.resize(colon);
      }
    }
    auto& in = *inputs.emplace_back(std::make_unique<Input>());
    in.path = path;
    // Regular files only: opening a FIFO could block, a device have effects.
    auto opened = detail::open_regular_file(path, detail::PathInMessage::omit);
    if (!opened) {
      err(error_line(path, opened.error()));
      return 2;
    }
    in.file = std::move(*opened);
    auto preamble = read_preamble(in);
    if (!preamble) {
      err(error_line(path, preamble.error()));
      return 2;
    }
    auto h = parse_npy_header(*preamble, in.file.size);
    if (!h) {
      err(error_line(path, h.error()));
      return 1;
    }
    std::vector<std::uint64_t> shape = h->shape;
    DType dtype;
    if (as) {
      auto reshaped = reinterpret_shape(*as, *h);
      if (!reshaped) {
        err(error_line(path, reshaped.error()));
        return 1;
      }
      shape = std::move(*reshaped);
      dtype = *as;
    } else if (h->dtype) {
      dtype = *h->dtype;
    } else {
      err(error_line(path, Error(Errc::npy_unsupported, "raw dtype '" + h->descr +
                                                            "' needs a dtype: write NAME=FILE.npy:DTYPE (e.g. :BF16)")));
      return 1;
    }
    in.data_offset = h->data_offset;
    Result<void> added;
    if (h->needs_conversion()) {
      // Byte-swapped or transposed: read whole, converted in memory.
      std::vector<std::byte> raw(static_cast<std::size_t>(h->data_size));
      if (auto r = detail::pread_exact(in.file.fd.get(), h->data_offset, raw); !r) {
        err(error_line(path, r.error()));
        return 2;
      }
      in.converted.resize(raw.size());
      if (auto r = npy_to_c_order(*h, raw, in.converted); !r) {
        err(error_line(path, r.error()));
        return 1;
      }
      added = w.add(tensor, dtype, shape, in.converted);
    } else {
      added = w.declare(tensor, dtype, shape);
      if (added) by_tensor[tensor] = &in;
    }
    if (!added) {
      err(error_line(path, added.error()));
      return 1;
    }
  }
  test_stall_point("inputs-open");
  std::vector<std::byte> buf;
  const Input* failed_input = nullptr;
  auto r = w.write_file(out_path, [&](const TensorInfo& info, TensorSink& sink) -> Result<void> {
    const Input& in = *by_tensor.at(std::string(info.name));
    const std::uint64_t size = info.byte_size();
    buf.resize(static_cast<std::size_t>(std::min<std::uint64_t>(size, std::uint64_t{16} << 20)));
    for (std::uint64_t at = 0; at < size;) {
      std::span<std::byte> piece(buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - at)));
      if (auto rd = detail::pread_exact(in.file.fd.get(), in.data_offset + at, piece); !rd) {
        failed_input = &in;
        return rd;
      }
      SFT_TRY(sink.write(piece));
      at += piece.size();
    }
    return {};
  });
  if (!r) {
    if (failed_input) {
      err(error_line(failed_input->path, r.error()));
      return 2;
    }
    err(error_line(out_path, r.error()));
    return 1;
  }
  return 0;
}

SFT_COMMAND("create", "pack NumPy .npy files into a safetensors file",
            "sft create [--alignment N] [--metadata KEY=VALUE]... OUT NAME=FILE.npy[:DTYPE]...", run_create);

}  // namespace
}  // namespace sft::cli
