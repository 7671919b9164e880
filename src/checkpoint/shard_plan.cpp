// Spreading tensors over shards (the Hugging Face layout) and the index JSON.
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "sft_internal/json_escape.hpp"
#include "sft/checkpoint_writer.hpp"

namespace sft {

namespace {

std::string shard_file_name(const std::string& prefix, std::size_t i, std::size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu", i + 1, n);
  return prefix + buf + ".safetensors";
}

// Python's json.dumps string with ensure_ascii=True: the shared escaper's
// output (short escapes for \b \f \n \r \t, \u00xx for other control bytes),
// then every code point outside ASCII, and DEL, as \uXXXX (a surrogate pair
// above U+FFFF). Names come from parsed headers, so they are valid UTF-8.
void append_ascii_json_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  auto u4 = [&](std::uint32_t v) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += hex[(v >> shift) & 15];
  };
  const std::string escaped = detail::json_string(s);
  for (std::size_t i = 0; i < escaped.size();) {
    const auto c = static_cast<unsigned char>(escaped[i]);
    if (c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (len > escaped.size() - i) len = escaped.size() - i;
    std::uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(escaped[i + k]) & 0x3f);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u4(0xd800 + (cp >> 10));
      u4(0xdc00 + (cp & 0x3ff));
    } else {
      u4(cp);
    }
  }
}

}  // namespace

ShardPlan plan_shards(std::span<const std::uint64_t> sizes, const ShardingOptions& options) {
  ShardPlan plan;
  ShardPlan::Shard current;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::uint64_t size = sizes[i];
    plan.total_size += size;
    if (size > options.max_shard_size) {
      ShardPlan::Shard alone;
      alone.tensors.push_back(i);
      alone.bytes = size;
      plan.shards.push_back(std::move(alone));
      continue;
    }
    if (!current.tensors.empty() && size > options.max_shard_size - current.bytes) {
      plan.shards.push_back(std::move(current));
      current = {};
    }
    current.tensors.push_back(i);
    current.bytes += size;
  }
  if (!current.tensors.empty() || plan.shards.empty()) plan.shards.push_back(std::move(current));
  const std::size_t n = plan.shards.size();
  for (std::size_t i = 0; i < n; ++i)
    plan.shards[i].file_name = n == 1 ? options.prefix + ".safetensors" : shard_file_name(options.prefix, i, n);
  return plan;
}

std::string index_json(const ShardPlan& plan, std::span<const std::string_view> names) {
  std::vector<std::pair<std::string_view, const std::string*>> entries;
  for (const auto& shard : plan.shards)
    for (std::size_t t : shard.tensors) entries.emplace_back(names[t], &shard.file_name);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string s = "{\n  \"metadata\": {\n    \"total_size\": " + std::to_string(plan.total_size) + "\n  },\n";
  s += "  \"weight_map\": {";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    s += i == 0 ? "\n    " : ",\n    ";
    append_ascii_json_string(s, entries[i].first);
    s += ": ";
    append_ascii_json_string(s, *entries[i].second);
  }
  s += entries.empty() ? "}\n}\n" : "\n  }\n}\n";
  return s;
}

}  // namespace sft
