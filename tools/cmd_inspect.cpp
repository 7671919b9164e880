// tools/cmd_inspect.cpp — `sft inspect [--json] FILE` (docs/cli.md): the
// metadata and the tensors of one file, as a table with totals or as JSON.
#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <vector>

#include "checkpoint_cli.hpp"
#include "command.hpp"
#include "header_loader.hpp"
#include "sft_internal/json_escape.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft inspect [--json] [--all] FILE\n"
    "  FILE may also be a checkpoint (a directory or an index *.json): each shard is shown in turn\n"
    "  --json  print {\"header_bytes\",\"data_bytes\",\"metadata\",\"tensors\"} as one JSON object (every tensor)\n"
    "  --all   list every tensor in the table (default: the first 1000 of each file, then a count)\n"
    "exit status: 0 valid, 1 invalid, 2 unreadable or a usage error";

// Rows of the table per file unless --all: a header may hold a million
// tensors, and a terminal (or a log) gains nothing from a million lines.
constexpr std::size_t kDefaultRows = 1000;

// Output is written in pieces of about 1 MiB rather than built whole, so the
// memory of inspecting a checkpoint does not grow with its tensor count.
void flush_if_large(std::string& s) {
  if (s.size() < (std::size_t{1} << 20)) return;
  out(s);
  s.clear();
}

std::string shape_text(std::span<const std::uint64_t> shape, std::string_view sep) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += sep;
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// Appends the JSON object of `h` (and a newline) to s, flushing s as it
// grows; without its opening brace when the caller has opened the object.
void inspect_json(const Header& h, std::string& s, bool open_object = true) {
  if (open_object) s += '{';
  s += "\"header_bytes\":" + std::to_string(h.header_size()) +
                  ",\"data_bytes\":" + std::to_string(h.data_size()) + ",\"metadata\":";
  if (!h.has_metadata()) {
    s += "null";
  } else {
    s += "{";
    bool first = true;
    for (const auto& m : h.metadata()) {
      if (!first) s += ",";
      first = false;
      detail::append_json_string(s, m.key);
      s += ":";
      detail::append_json_string(s, m.value);
    }
    s += "}";
  }
  s += ",\"tensors\":[";
  bool first = true;
  for (const auto& t : h.tensors()) {
    if (!first) s += ",";
    first = false;
    s += "{\"name\":";
    detail::append_json_string(s, t.name);
    s += ",\"dtype\":";
    detail::append_json_string(s, name(t.dtype));
    s += ",\"shape\":" + shape_text(t.shape, ",");
    s += ",\"data_offsets\":[" + std::to_string(t.data_offsets.begin) + "," +
         std::to_string(t.data_offsets.end) + "]}";
    flush_if_large(s);
  }
  s += "]}\n";
}

// Terminal columns taken by a printable (valid UTF-8) string: two for the wide
// East Asian and emoji blocks, one for any other code point. A heuristic, not
// wcwidth(): alignment of exotic names is best effort.
std::size_t columns(std::string_view s) {
  std::size_t cols = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (len > s.size() - i) len = s.size() - i;
    char32_t cp = len == 1 ? c : (c & (0x7F >> len));
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                      (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                      (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
                      (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
    cols += wide ? 2 : 1;
    i += len;
  }
  return cols;
}

std::string pad_right(std::string s, std::size_t width) {
  std::size_t w = columns(s);
  if (w < width) s.append(width - w, ' ');
  return s;
}

std::string pad_left(const std::string& s, std::size_t width) {
  std::size_t w = columns(s);
  return w < width ? std::string(width - w, ' ') + s : s;
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// Appends the text report of `h` to s: at most max_rows rows of the table.
void inspect_text(std::string_view path, const Header& h, std::size_t max_rows, std::string& s) {
  s += "file: " + shown_path(path) + "\n";
  s += "size: " + std::to_string(h.file_size()) + " bytes = 8 (length) + " + std::to_string(h.header_size()) +
       " (header) + " + std::to_string(h.data_size()) + " (data)\n";
  if (!h.has_metadata()) {
    s += "metadata: none\n";
  } else {
    s += "metadata: " + plural(h.metadata().size(), "entry", "entries") + "\n";
    for (const auto& m : h.metadata()) s += "  " + printable(m.key) + ": " + printable(m.value) + "\n";
  }
  s += "tensors: " + std::to_string(h.size()) + "\n";

  // The table: one row per tensor in data order, numbers right-aligned. Two
  // passes (column widths, then the rows), so that --all on a million
  // tensors keeps no row in memory.
  const std::size_t shown = std::min<std::size_t>(h.size(), max_rows);
  auto cells = [](const TensorInfo& t) {
    return std::array<std::string, 6>{t.name.empty() ? std::string("\"\"") : printable(t.name),
                                      std::string(name(t.dtype)), shape_text(t.shape, ", "),
                                      std::to_string(t.data_offsets.begin), std::to_string(t.data_offsets.end),
                                      std::to_string(t.byte_size())};
  };
  const std::array<std::string, 6> titles{"NAME", "DTYPE", "SHAPE", "BEGIN", "END", "BYTES"};
  std::size_t width[6] = {};
  auto widen = [&](const std::array<std::string, 6>& row) {
    for (int c = 0; c < 6; ++c) width[c] = std::max(width[c], columns(row[static_cast<std::size_t>(c)]));
  };
  widen(titles);
  for (const auto& t : h.tensors().first(shown)) widen(cells(t));
  auto emit = [&](const std::array<std::string, 6>& row) {
    std::string line;
    for (int c = 0; c < 6; ++c) {
      if (c) line += "  ";
      const auto& cell = row[static_cast<std::size_t>(c)];
      line += c < 3 ? pad_right(cell, width[c]) : pad_left(cell, width[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    s += line + "\n";
    flush_if_large(s);
  };
  if (h.size() > 0) {
    s += "\n";
    emit(titles);
    for (const auto& t : h.tensors().first(shown)) emit(cells(t));
    if (shown < h.size())
      s += "... and " + plural(h.size() - shown, "more tensor", "more tensors") + " (sft inspect --all lists every one)\n";
  }

  // Totals, then bytes per dtype (largest first, ties by dtype name).
  s += "\ntotal: " + plural(h.size(), "tensor", "tensors") + ", " +
       plural(h.data_size(), "data byte", "data bytes") + ", " +
       plural(h.header_size(), "header byte", "header bytes") + "\n";
  std::map<std::string_view, std::pair<std::uint64_t, std::uint64_t>> by_dtype;  // bytes, tensors
  for (const auto& t : h.tensors()) {
    auto& [bytes, count] = by_dtype[name(t.dtype)];
    bytes += t.byte_size();
    ++count;
  }
  std::vector<std::pair<std::string_view, std::pair<std::uint64_t, std::uint64_t>>> sorted(by_dtype.begin(),
                                                                                           by_dtype.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  std::size_t dw = 0, bw = 0;
  for (const auto& [dt, v] : sorted) {
    dw = std::max(dw, dt.size());
    bw = std::max(bw, std::to_string(v.first).size());
  }
  if (!sorted.empty()) s += "by dtype:\n";
  for (const auto& [dt, v] : sorted)
    s += "  " + pad_right(std::string(dt), dw) + "  " + pad_left(std::to_string(v.first), bw) +
         (v.first == 1 ? " byte  in " : " bytes in ") + plural(v.second, "tensor", "tensors") + "\n";
}

// A checkpoint: a summary line, then each shard as a single file is shown.
int inspect_checkpoint(const std::string& path, bool json, std::size_t max_rows) {
  int status = 2;
  auto c = open_checked_checkpoint(path, &status);
  if (!c) return status;
  std::string s;
  if (json) {
    s = "{\"index\":";
    if (c->sharded()) detail::append_json_string(s, c->index_path().filename().string());
    else s += "null";
    s += ",\"total_size\":" + (c->has_total_size() ? std::to_string(c->total_size()) : std::string("null"));
    s += ",\"tensors\":" + std::to_string(c->size()) + ",\"shards\":[";
  } else {
    s = "checkpoint: " + shown_path(path) + "\n";
    s += "index: " + (c->sharded() ? printable(c->index_path().filename().string()) : std::string("none")) + "\n";
    if (c->has_total_size()) s += "total_size: " + std::to_string(c->total_size()) + "\n";
    s += "shards: " + std::to_string(c->shards().size()) + ", tensors: " + std::to_string(c->size()) + "\n";
  }
  for (std::size_t i = 0; i < c->shards().size(); ++i) {
    auto f = c->shard(i);  // opened, and checked, by open_checked_checkpoint
    if (!f) {
      out(s);
      err(error_line(path, f.error()));
      return error_status(f.error());
    }
    const std::string shard = (c->directory() / c->shards()[i]).string();
    if (json) {
      if (i) s += ',';
      s += "{\"file\":";
      detail::append_json_string(s, c->shards()[i]);
      s += ',';
      inspect_json((*f)->header(), s, false);
      s.pop_back();  // the newline
    } else {
      s += '\n';
      inspect_text(shard, (*f)->header(), max_rows, s);
    }
    flush_if_large(s);
  }
  s += json ? "]}\n" : "";
  out(s);
  return 0;
}

int run_inspect(std::span<const std::string_view> args) {
  bool json = false, all = false, options_done = false;
  std::vector<std::string> files;
  for (auto a : args) {
    if (!options_done && a.size() > 1 && a[0] == '-') {
      if (a == "--") options_done = true;
      else if (a == "--json") json = true;
      else if (a == "--all") all = true;
      else return usage_error("inspect", "unknown option '" + printable(a) + "'");
      continue;
    }
    files.emplace_back(a);
  }
  if (files.empty()) return usage_error("inspect", "no FILE given");
  if (files.size() > 1) return usage_error("inspect", "exactly one FILE expected");

  const std::size_t max_rows = all ? ~std::size_t{0} : kDefaultRows;
  if (is_checkpoint_path(files[0])) return inspect_checkpoint(files[0], json, max_rows);
  auto loaded = load_header(files[0]);
  if (loaded.status != LoadedHeader::Status::valid) {
    err(error_line(files[0], loaded.error));
    return exit_status(loaded.status);
  }
  std::string s;
  if (json) inspect_json(*loaded.header, s);
  else inspect_text(files[0], *loaded.header, max_rows, s);
  out(s);
  return 0;
}

}  // namespace

SFT_COMMAND("inspect", "show a file's metadata and tensors", kUsage, run_inspect);

}  // namespace sft::cli
