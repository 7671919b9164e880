// `sft create [--alignment N] [--metadata KEY=VALUE]... OUT NAME=FILE.npy[:DTYPE]...`
// Pack .npy arrays into one safetensors file. Each .npy is mapped read-only and
// its data handed to the Writer without a copy, unless it must be converted
// (big-endian, or Fortran order with more than one dimension above 1).
// `:DTYPE` reinterprets the array's raw bytes as a dtype of the same width,
// which is how BF16 / F8 / F4 / F6 tensors (saved by NumPy as '<u2', '|u1' or
// 'V' raw bytes) come back: see docs/cli.md.
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "command.hpp"
#include "header_loader.hpp"
#include "sft/npy.hpp"
#include "sft/writer.hpp"
#include "write_options.hpp"

namespace sft::cli {
namespace {

// A read-only mapping of a whole input file.
class Mapping {
 public:
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (addr_ != nullptr) ::munmap(addr_, size_);
  }
  // Empty string on success, else why not.
  std::string open(const std::string& path) {
    // Regular files only: opening a FIFO could block, a device have effects.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::strerror(errno);
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return std::strerror(errno);
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      std::string why = S_ISREG(st.st_mode) ? std::strerror(errno) : "not a regular file";
      ::close(fd);
      return why;
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return why;
      }
      addr_ = p;
    }
    ::close(fd);
    return {};
  }
  std::span<const std::byte> bytes() const noexcept { return {static_cast<const std::byte*>(addr_), size_}; }

 private:
  void* addr_ = nullptr;
  std::size_t size_ = 0;
};

struct Input {
  Mapping map;
  std::vector<std::byte> converted;  // used when the data needs conversion
};

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
  // Inputs stay mapped until the file is written: the Writer borrows their bytes.
  std::vector<std::unique_ptr<Input>> inputs;
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
    if (auto why = in.map.open(path); !why.empty()) {
      err(error_line(path, Error(Errc::io_error, "cannot read: " + why)));
      return 2;
    }
    auto h = parse_npy_header(in.map.bytes(), in.map.bytes().size());
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
    auto data = in.map.bytes().subspan(static_cast<std::size_t>(h->data_offset), static_cast<std::size_t>(h->data_size));
    if (h->needs_conversion()) {
      in.converted.resize(data.size());
      if (auto r = npy_to_c_order(*h, data, in.converted); !r) {
        err(error_line(path, r.error()));
        return 1;
      }
      data = in.converted;
    }
    if (auto r = w.add(tensor, dtype, shape, data); !r) {
      err(error_line(path, r.error()));
      return 1;
    }
  }
  if (auto r = w.write_file(out_path); !r) {
    err(error_line(out_path, r.error()));
    return 1;
  }
  return 0;
}

SFT_COMMAND("create", "pack NumPy .npy files into a safetensors file",
            "sft create [--alignment N] [--metadata KEY=VALUE]... OUT NAME=FILE.npy[:DTYPE]...", run_create);

}  // namespace
}  // namespace sft::cli
