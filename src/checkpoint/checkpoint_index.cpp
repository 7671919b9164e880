// Reading and checking model.safetensors.index.json, an untrusted file.
//
// UTF-8 and JSON syntax are checked first by sft's own position-tracking
// checkers (so errors carry the byte offset), then simdjson's DOM parser
// builds the tree whose types are checked here. simdjson keeps repeated keys,
// so duplicates are found by hand in every object that matters.
#include "checkpoint/checkpoint_index.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>

#include "header/json_syntax.hpp"
#include "header/name_index.hpp"
#include "core/utf8.hpp"
#include "remote/url.hpp"
#include "sft_internal/regular_file.hpp"

namespace sft {

std::string index_file_name(std::string_view prefix) { return std::string(prefix) + ".safetensors.index.json"; }

std::string shard_name_problem(std::string_view name) {
  constexpr std::string_view ext = ".safetensors";
  if (name.empty()) return "the shard name is empty";
  if (name == "." || name == "..") return "the shard name \"" + std::string(name) + "\" is a directory";
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '/') return "the shard name holds a path separator '/' (only plain file names are allowed)";
    if (c == '\\') return "the shard name holds a backslash (only plain file names are allowed)";
    if (c == ':') return "the shard name holds ':' (a drive or stream name on Windows)";
    if (c < 0x20 || c == 0x7f) return "the shard name holds a control character";
  }
  if (name.size() <= ext.size() || name.substr(name.size() - ext.size()) != ext)
    return "the shard name does not end in .safetensors";
  return {};
}

std::string shard_prefix_problem(std::string_view prefix) {
  if (prefix.empty()) return "the prefix is empty";
  // PREFIX.safetensors, PREFIX-0000i-of-0000n.safetensors and the index name
  // are plain names exactly when this one is.
  if (auto why = shard_name_problem(std::string(prefix) + ".safetensors"); !why.empty())
    return why + ": \"" + std::string(prefix) + "\"";
  return {};
}

namespace detail {

namespace {

Error bad(std::string msg, std::string tensor = {}) {
  return Error(Errc::bad_index, std::move(msg), Error::no_offset, std::move(tensor));
}

Error duplicate(std::string_view where, std::string_view key, std::string tensor = {}) {
  return Error(Errc::duplicate_key, "key \"" + std::string(key) + "\" repeated in " + std::string(where),
               Error::no_offset, std::move(tensor));
}

const char* type_name(simdjson::dom::element_type t) {
  using simdjson::dom::element_type;
  switch (t) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64: case element_type::UINT64: case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

Result<std::uint64_t> total_size_value(simdjson::dom::element v) {
  using simdjson::dom::element_type;
  switch (v.type()) {
    case element_type::UINT64: {
      std::uint64_t u = 0;
      if (v.get(u) != simdjson::SUCCESS) break;
      return u;
    }
    case element_type::INT64: {
      std::int64_t i = 0;
      if (v.get(i) != simdjson::SUCCESS) break;
      if (i >= 0) return static_cast<std::uint64_t>(i);
      return bad("metadata.total_size is negative");
    }
    case element_type::DOUBLE: {
      // Some writers store the size as a float (1234.0): take it when it is a whole number.
      double d = 0;
      if (v.get(d) != simdjson::SUCCESS) break;
      if (d >= 0 && d < 18446744073709551616.0 && std::floor(d) == d) return static_cast<std::uint64_t>(d);
      return bad("metadata.total_size is not a whole number of bytes");
    }
    default: break;
  }
  return bad(std::string("metadata.total_size must be a number, not ") + type_name(v.type()));
}

}  // namespace

namespace {

// weight_map's entries, still pointing into the parser's strings.
struct RawEntry {
  std::string_view tensor;
  std::string_view shard;
};

// Sort the entries into the ParsedIndex layout. Sorting (not a hash set)
// finds repeated names: on a million entries it is several times faster and
// needs a fraction of the memory.
Result<void> arrange_weight_map(std::vector<RawEntry>& raw, ParsedIndex& out) {
  const std::size_t n = raw.size();
  std::vector<std::uint32_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const int c = raw[a].tensor.compare(raw[b].tensor);
    return c < 0 || (c == 0 && a < b);
  });
  // The first repetition in file order: the smallest position that has an
  // equal name before it.
  std::size_t repeat = n;
  for (std::size_t k = 1; k < n; ++k)
    if (raw[order[k]].tensor == raw[order[k - 1]].tensor) repeat = std::min<std::size_t>(repeat, order[k]);
  if (repeat != n)
    return duplicate("weight_map (a tensor mapped twice)", raw[repeat].tensor, std::string(raw[repeat].tensor));

  // Distinct shard names, sorted; each entry's shard as a position.
  std::vector<std::string_view> shards;
  {
    std::unordered_map<std::string_view, std::uint32_t, NameHash> seen;
    for (const RawEntry& e : raw)
      if (seen.emplace(e.shard, 0).second) shards.push_back(e.shard);
    std::sort(shards.begin(), shards.end());
    for (std::size_t i = 0; i < shards.size(); ++i) seen[shards[i]] = static_cast<std::uint32_t>(i);
    out.shard_first.assign(shards.size(), ~std::uint32_t{0});
    out.tensors.reserve(n);
    out.tensor_shard.reserve(n);
    for (std::size_t k = 0; k < n; ++k) {
      const RawEntry& e = raw[order[k]];
      const std::uint32_t s = seen.find(e.shard)->second;
      out.tensors.emplace_back(e.tensor);
      out.tensor_shard.push_back(s);
      std::uint32_t& first = out.shard_first[s];
      if (first == ~std::uint32_t{0} || order[k] < order[first]) first = static_cast<std::uint32_t>(k);
    }
  }
  out.shards.assign(shards.begin(), shards.end());
  return {};
}

Result<ParsedIndex> parse_padded(simdjson::padded_string_view json) {
  const char* p = json.data();
  if (auto at = find_invalid_utf8(reinterpret_cast<const unsigned char*>(p), json.size()); at != utf8_ok)
    return Error(Errc::bad_index, "the index is not valid UTF-8", at);
  if (auto r = check_json_syntax(p, json.size(), 127, 0); !r) {
    Error e = std::move(r).error();
    return Error(Errc::bad_index, "the index is not valid JSON: " + e.message, e.offset);
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(json).get(root); err != simdjson::SUCCESS)
    return bad(std::string("the index is not valid JSON: ") + simdjson::error_message(err));
  simdjson::dom::object top;
  if (root.get(top) != simdjson::SUCCESS) return bad(std::string("the index must be a JSON object, not ") + type_name(root.type()));

  ParsedIndex out;
  std::vector<RawEntry> raw;
  std::unordered_set<std::string_view, NameHash> seen_top;
  bool have_map = false;
  for (auto field : top) {
    if (!seen_top.insert(field.key).second) return duplicate("the index's top-level object", field.key);
    if (field.key == "weight_map") {
      simdjson::dom::object map;
      if (field.value.get(map) != simdjson::SUCCESS)
        return bad(std::string("weight_map must be an object, not ") + type_name(field.value.type()));
      have_map = true;
      raw.reserve(map.size());
      for (auto entry : map) {
        std::string_view shard;
        if (entry.value.get(shard) != simdjson::SUCCESS)
          return bad(std::string("weight_map value must be a shard file name (a string), not ") +
                         type_name(entry.value.type()),
                     std::string(entry.key));
        raw.push_back({entry.key, shard});
      }
    } else if (field.key == "metadata") {
      if (field.value.is_null()) continue;  // treated as absent
      simdjson::dom::object meta;
      if (field.value.get(meta) != simdjson::SUCCESS)
        return bad(std::string("metadata must be an object, not ") + type_name(field.value.type()));
      std::unordered_set<std::string_view, NameHash> seen;
      for (auto entry : meta) {
        if (!seen.insert(entry.key).second) return duplicate("metadata", entry.key);
        if (entry.key == "total_size") {
          auto size = total_size_value(entry.value);
          SFT_TRY(size);
          out.has_total_size = true;
          out.total_size = *size;
        }
      }
    }
    // Other top-level keys are left alone, as every loader does.
  }
  if (!have_map) return bad("the index has no \"weight_map\"");
  if (raw.size() > ~std::uint32_t{0} - 1) return bad("weight_map maps more than 2^32 - 2 tensors");
  SFT_TRY(arrange_weight_map(raw, out));
  return out;
}

}  // namespace

Result<ParsedIndex> parse_index(std::string_view json) {
  const simdjson::padded_string padded(json);
  return parse_padded(padded);
}

Result<ParsedIndex> read_index(const std::filesystem::path& path, std::uint64_t max_bytes) {
  SFT_TRY_ASSIGN(RegularFile file, open_regular_file(path));
  if (file.size > max_bytes)
    return Error(Errc::bad_index, "the index holds " + std::to_string(file.size) + " bytes, more than the limit of " +
                                      std::to_string(max_bytes));
  // The size was checked against the limit: the buffer is bounded.
  simdjson::padded_string text(static_cast<std::size_t>(file.size));
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t got = ::read(file.fd.get(), text.data() + done, text.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    done += static_cast<std::size_t>(got);
  }
  // A file that shrank meanwhile is parsed as it now is.
  return parse_padded(simdjson::padded_string_view(text.data(), done, text.size() + simdjson::SIMDJSON_PADDING));
}

Result<ParsedIndex> read_remote_index(std::string_view url, const RemoteOptions& options, std::uint64_t max_bytes) {
  auto text = fetch_text(url, options, max_bytes);
  if (!text && text.error().code == Errc::remote_too_large)
    return Error(Errc::bad_index, "the index is larger than the limit of " + std::to_string(max_bytes) + " bytes");
  SFT_TRY(text);
  return parse_index(*text);
}

Result<std::filesystem::path> remote_shard(std::string_view index_url, const std::string& name) {
  SFT_TRY_ASSIGN(Url index, parse_url(index_url));
  SFT_TRY_ASSIGN(Url shard, shard_url(index, name));
  return std::filesystem::path(shard.text());
}

namespace {

// Whether `real` (a resolved path) lies strictly inside `real_dir`.
bool inside(const std::string& real, const std::string& real_dir) {
  return real.size() > real_dir.size() && real.compare(0, real_dir.size(), real_dir) == 0 &&
         (real_dir == "/" || real[real_dir.size()] == '/');
}

}  // namespace

Result<std::filesystem::path> resolve_shard(const std::filesystem::path& dir, const std::string& real_dir,
                                            const std::string& name, bool follow_external_symlinks) {
  if (auto why = shard_name_problem(name); !why.empty())
    return Error(Errc::shard_path, why + ": \"" + name + "\"");
  const std::filesystem::path p = dir / name;
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0)
    return Error(Errc::shard_missing, "shard " + name + " does not exist: " + std::strerror(errno));
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf) == nullptr)
    return Error(Errc::shard_missing, "shard " + name + " cannot be resolved (a dangling symlink?): " + std::strerror(errno));
  std::string real(buf);
  if (!inside(real, real_dir) && !follow_external_symlinks)
    return Error(Errc::shard_path, "shard " + name + " is a symlink to " + real +
                                       ", outside the checkpoint's directory " + real_dir);
  // Open the resolved path: a link swapped after this check changes nothing.
  return std::filesystem::path(real);
}

Result<std::filesystem::path> resolve_index(const std::filesystem::path& index, const std::string& real_dir,
                                            bool follow_external_symlinks) {
  char buf[PATH_MAX];
  if (::realpath(index.c_str(), buf) == nullptr)
    return Error(Errc::io_error, "cannot open the index " + index.string() + ": " + std::strerror(errno));
  std::string real(buf);
  if (!inside(real, real_dir) && !follow_external_symlinks)
    return Error(Errc::shard_path, "the index " + index.filename().string() + " is a symlink to " + real +
                                       ", outside the checkpoint's directory " + real_dir +
                                       " (CheckpointOptions::follow_external_symlinks allows it)");
  return std::filesystem::path(real);
}

}  // namespace detail
}  // namespace sft
