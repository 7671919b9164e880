// sft_dump — a test helper that lets Python scripts drive the sft library.
//
// It opens files with sft and prints, for each, one line of JSON: the header
// size, metadata and tensors (names and metadata as hex bytes, so that any
// byte string survives), the SHA-256 of each tensor's bytes as read back, or
// the error. It also slices tensors. It is not the sft CLI: its output format
// is made for the conformance and differential tests in tests/py/.
//
//   sft_dump [--mode mmap|pread|memory] FILE
//   sft_dump [--mode ...] --slice FILE NAME_HEX SPEC
//   sft_dump [--mode ...] --batch          (requests on stdin, one per line:
//                                           PATH  or  slice<TAB>PATH<TAB>NAME_HEX<TAB>SPEC)
//
// SPEC is a comma-separated list of per-dimension selections: ":" (all),
// "a:b" (range) or "i" (index); an empty SPEC selects everything.
//
// Output lines:
//   {"ok":true,"header_bytes":N,"data_bytes":N,"metadata":null|[[KEY_HEX,VALUE_HEX],..],
//    "tensors":[{"name":HEX,"dtype":"F32","shape":[..],"offsets":[B,E],"sha256":"..."},..]}
//   {"ok":true,"shape":[..],"bytes":N,"sha256":"..."}                  (a slice)
//   {"ok":false,"error":"CODE","offset":N|null,"tensor":HEX,"message":"..."}
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sft/sft.hpp"
#include "test_support.hpp"

namespace {

using namespace sft;

std::string hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * s.size());
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::optional<std::string> unhex(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    int hi = val(s[i]), lo = val(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// A JSON string literal; bytes >= 0x80 are written as \u00XX (the message is
// for people; names travel as hex).
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string dims(std::span<const std::uint64_t> shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string error_line(const Error& e) {
  return R"({"ok":false,"error":)" + quote(errc_name(e.code)) + R"(,"offset":)" +
         (e.offset == Error::no_offset ? std::string("null") : std::to_string(e.offset)) + R"(,"tensor":")" +
         hex(e.tensor) + R"(","message":)" + quote(e.message) + "}";
}

std::string sha(std::span<const std::byte> b) { return sft::test::sha256_hex(b.data(), b.size()); }

// Keeps a file open in the requested mode (and its bytes, for from_memory).
struct Opened {
  std::vector<std::byte> memory;
  std::optional<Result<File>> file;
};

void open_file(Opened& o, const std::string& path, std::string_view mode) {
  if (mode == "memory") {
    try {
      o.memory = sft::test::read_all(path);
    } catch (const std::exception& ex) {
      o.file.emplace(Error(Errc::io_error, ex.what()));
      return;
    }
    o.file.emplace(File::from_memory(o.memory));
    return;
  }
  OpenOptions opt;
  opt.mode = mode == "pread" ? ReadMode::pread : ReadMode::mmap;
  o.file.emplace(File::open(path, opt));
}

std::string dump(const std::string& path, std::string_view mode) {
  Opened o;
  open_file(o, path, mode);
  if (!o.file->ok()) return error_line(o.file->error());
  const File& f = o.file->value();
  const Header& h = f.header();
  std::string out = R"({"ok":true,"header_bytes":)" + std::to_string(h.header_size()) + R"(,"data_bytes":)" +
                    std::to_string(h.data_size()) + R"(,"metadata":)";
  if (!h.has_metadata()) {
    out += "null";
  } else {
    out += "[";
    for (std::size_t i = 0; i < h.metadata().size(); ++i) {
      const auto& m = h.metadata()[i];
      out += (i ? "," : "") + std::string("[\"") + hex(m.key) + "\",\"" + hex(m.value) + "\"]";
    }
    out += "]";
  }
  out += R"(,"tensors":[)";
  std::vector<std::byte> buf;
  for (std::size_t i = 0; i < h.size(); ++i) {
    const TensorInfo& t = h.tensors()[i];
    buf.assign(static_cast<std::size_t>(t.byte_size()), std::byte{0});
    if (auto r = f.read(t, buf); !r) return error_line(r.error());
    std::string digest = sha(buf);
    if (f.mapped() && sha(f.view(t)->bytes()) != digest)
      return error_line(Error(Errc::io_error, "view and copy differ", Error::no_offset, std::string(t.name)));
    out += (i ? "," : "") + std::string(R"({"name":")") + hex(t.name) + R"(","dtype":")" +
           std::string(name(t.dtype)) + R"(","shape":)" + dims(t.shape) + R"(,"offsets":[)" +
           std::to_string(t.data_offsets.begin) + "," + std::to_string(t.data_offsets.end) + R"(],"sha256":")" +
           digest + "\"}";
  }
  return out + "]}";
}

// A slice in Python's notation, items separated by commas: ":" , "i", "a:b",
// "a:b:c" with any part empty (omitted) and negative numbers allowed.
std::optional<std::vector<SliceSpec>> parse_spec(std::string_view spec) {
  std::vector<SliceSpec> out;
  if (spec.empty()) return out;
  auto number = [](std::string_view s) -> std::optional<std::int64_t> {
    const bool neg = !s.empty() && s[0] == '-';
    if (neg) s.remove_prefix(1);
    if (s.empty() || s.size() > 18) return std::nullopt;
    std::int64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    return neg ? -v : v;
  };
  auto bound = [&](std::string_view s) -> std::optional<std::int64_t> {
    if (s.empty()) return SliceSpec::none;
    return number(s);
  };
  while (true) {
    auto comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    if (item == ":") {
      out.push_back(SliceSpec::all_of());
    } else if (auto colon = item.find(':'); colon != std::string_view::npos) {
      std::string_view rest = item.substr(colon + 1);
      auto colon2 = rest.find(':');
      auto a = bound(item.substr(0, colon)), b = bound(rest.substr(0, colon2));
      std::optional<std::int64_t> c = 1;
      if (colon2 != std::string_view::npos && colon2 + 1 < rest.size()) c = number(rest.substr(colon2 + 1));
      if (!a || !b || !c) return std::nullopt;
      out.push_back(SliceSpec::range(*a, *b, *c));
    } else {
      auto i = number(item);
      if (!i) return std::nullopt;
      out.push_back(SliceSpec::index(*i));
    }
    if (comma == std::string_view::npos) return out;
    spec.remove_prefix(comma + 1);
  }
}

std::string slice(const std::string& path, std::string_view name_hex, std::string_view spec_text,
                  std::string_view mode) {
  auto name = unhex(name_hex);
  auto spec = parse_spec(spec_text);
  if (!name || !spec) return error_line(Error(Errc::invalid_argument, "bad slice request"));
  Opened o;
  open_file(o, path, mode);
  if (!o.file->ok()) return error_line(o.file->error());
  const File& f = o.file->value();
  const TensorInfo* t = f.header().find(*name);
  if (!t) return error_line(Error(Errc::not_found, "no such tensor", Error::no_offset, *name));
  auto plan = plan_slice(*t, *spec);
  if (!plan) return error_line(plan.error());
  std::vector<std::byte> out(static_cast<std::size_t>(plan->byte_size));
  auto r = f.read_slice(*t, *spec, out);
  if (!r) return error_line(r.error());
  if (r->shape != plan->shape || r->byte_size != plan->byte_size)
    return error_line(Error(Errc::invalid_argument, "read_slice and plan_slice disagree"));
  return R"({"ok":true,"shape":)" + dims(plan->shape) + R"(,"bytes":)" + std::to_string(plan->byte_size) +
         R"(,"sha256":")" + sha(out) + "\"}";
}

std::string handle(const std::string& line, std::string_view mode) {
  if (line.rfind("slice\t", 0) == 0) {
    std::vector<std::string> parts;
    std::size_t start = 6;
    while (true) {
      auto tab = line.find('\t', start);
      parts.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    if (parts.size() != 3) return error_line(Error(Errc::invalid_argument, "bad slice request"));
    return slice(parts[0], parts[1], parts[2], mode);
  }
  return dump(line, mode);
}

int usage() {
  std::cerr << "usage: sft_dump [--mode mmap|pread|memory] (FILE | --slice FILE NAME_HEX SPEC | --batch)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string mode = "mmap";
  std::size_t i = 0;
  if (i + 1 < args.size() && args[i] == "--mode") {
    mode = args[i + 1];
    i += 2;
    if (mode != "mmap" && mode != "pread" && mode != "memory") return usage();
  }
  if (i < args.size() && args[i] == "--batch" && i + 1 == args.size()) {
    std::string line;
    while (std::getline(std::cin, line)) std::cout << handle(line, mode) << '\n' << std::flush;
    return 0;
  }
  if (i < args.size() && args[i] == "--slice" && i + 4 == args.size()) {
    std::cout << slice(args[i + 1], args[i + 2], args[i + 3], mode) << '\n';
    return 0;
  }
  if (i + 1 == args.size()) {
    std::cout << dump(args[i], mode) << '\n';
    return 0;
  }
  return usage();
}
