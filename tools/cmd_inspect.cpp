// tools/cmd_inspect.cpp — `sft inspect [--json] FILE` (docs/cli.md): the
// metadata and the tensors of one file, as a table with totals or as JSON.
#include <algorithm>
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
    "sft inspect [--json] FILE\n"
    "  FILE may also be a checkpoint (a directory or an index *.json): each shard is shown in turn\n"
    "  --json  print {\"header_bytes\",\"data_bytes\",\"metadata\",\"tensors\"} as one JSON object\n"
    "exit status: 0 valid, 1 invalid, 2 unreadable or a usage error";

std::string shape_text(std::span<const std::uint64_t> shape, std::string_view sep) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += sep;
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string inspect_json(const Header& h) {
  std::string s = "{\"header_bytes\":" + std::to_string(h.header_size()) +
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
  }
  s += "]}\n";
  return s;
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

std::string inspect_text(std::string_view path, const Header& h) {
  std::string s = "file: " + shown_path(path) + "\n";
  s += "size: " + std::to_string(h.file_size()) + " bytes = 8 (length) + " + std::to_string(h.header_size()) +
       " (header) + " + std::to_string(h.data_size()) + " (data)\n";
  if (!h.has_metadata()) {
    s += "metadata: none\n";
  } else {
    s += "metadata: " + plural(h.metadata().size(), "entry", "entries") + "\n";
    for (const auto& m : h.metadata()) s += "  " + printable(m.key) + ": " + printable(m.value) + "\n";
  }
  s += "tensors: " + std::to_string(h.size()) + "\n";

  // The table: one row per tensor in data order, numbers right-aligned.
  struct Row { std::string cells[6]; };
  std::vector<Row> rows;
  rows.push_back({{"NAME", "DTYPE", "SHAPE", "BEGIN", "END", "BYTES"}});
  for (const auto& t : h.tensors()) {
    std::string label = t.name.empty() ? std::string("\"\"") : printable(t.name);
    rows.push_back({{std::move(label), std::string(name(t.dtype)), shape_text(t.shape, ", "),
                     std::to_string(t.data_offsets.begin), std::to_string(t.data_offsets.end),
                     std::to_string(t.byte_size())}});
  }
  std::size_t width[6] = {};
  for (const auto& r : rows)
    for (int c = 0; c < 6; ++c) width[c] = std::max(width[c], columns(r.cells[c]));
  if (h.size() > 0) {
    s += "\n";
    for (const auto& r : rows) {
      std::string line;
      for (int c = 0; c < 6; ++c) {
        if (c) line += "  ";
        line += c < 3 ? pad_right(r.cells[c], width[c]) : pad_left(r.cells[c], width[c]);
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      s += line + "\n";
    }
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
  return s;
}

// A checkpoint: a summary line, then each shard as a single file is shown.
int inspect_checkpoint(const std::string& path, bool json) {
  int status = 2;
  auto c = open_checkpoint_or_report(path, &status);
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
    auto f = c->shard(i);
    if (!f) {
      err(error_line(path, f.error()));
      return error_status(f.error());
    }
    const std::string shard = (c->directory() / c->shards()[i]).string();
    if (json) {
      std::string one = inspect_json((*f)->header());
      one.pop_back();  // the newline
      if (i) s += ',';
      s += "{\"file\":";
      detail::append_json_string(s, c->shards()[i]);
      s += ',';
      s.append(one, 1, std::string::npos);
    } else {
      s += '\n';
      s += inspect_text(shard, (*f)->header());
    }
  }
  s += json ? "]}\n" : "";
  out(s);
  return 0;
}

int run_inspect(std::span<const std::string_view> args) {
  bool json = false, options_done = false;
  std::vector<std::string> files;
  for (auto a : args) {
    if (!options_done && a.size() > 1 && a[0] == '-') {
      if (a == "--") options_done = true;
      else if (a == "--json") json = true;
      else return usage_error("inspect", "unknown option '" + printable(a) + "'");
      continue;
    }
    files.emplace_back(a);
  }
  if (files.empty()) return usage_error("inspect", "no FILE given");
  if (files.size() > 1) return usage_error("inspect", "exactly one FILE expected");

  if (is_checkpoint_path(files[0])) return inspect_checkpoint(files[0], json);
  auto loaded = load_header(files[0]);
  if (loaded.status != LoadedHeader::Status::valid) {
    err(error_line(files[0], loaded.error));
    return exit_status(loaded.status);
  }
  out(json ? inspect_json(*loaded.header) : inspect_text(files[0], *loaded.header));
  return 0;
}

}  // namespace

SFT_COMMAND("inspect", "show a file's metadata and tensors", kUsage, run_inspect);

}  // namespace sft::cli
