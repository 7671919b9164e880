// The fast front end: simdjson's DOM parser (stage 1 dispatched at run time to
// the best SIMD kernel of the machine; it validates UTF-8 and JSON syntax and
// enforces the nesting limit), then a walk of the DOM that feeds the
// HeaderBuilder. It declines on anything irregular; see header_parse.hpp.
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <simdjson.h>

#include "header_builder.hpp"
#include "header_parse.hpp"

namespace sft::detail {

std::size_t json_padding() noexcept { return simdjson::SIMDJSON_PADDING; }

bool may_contain_negative_zero(const char* json, std::size_t n) noexcept {
  const char* p = json;
  const char* end = json + n;
  while (p < end) {
    const void* hit = memmem(p, static_cast<std::size_t>(end - p), "-0", 2);
    if (!hit) return false;
    const char* h = static_cast<const char*>(hit);
    // A number token "-0..." follows '[', ',' or ':' (after optional whitespace);
    // "-0.5" and "-0e1" are floats the reference reads as floats too.
    const char* after = h + 2;
    bool float_follows = after < end && (*after == '.' || *after == 'e' || *after == 'E');
    const char* q = h;
    while (q > json && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\n' || q[-1] == '\r')) --q;
    bool token_start = q > json && (q[-1] == '[' || q[-1] == ',' || q[-1] == ':');
    if (token_start && !float_follows) return true;
    p = h + 1;
  }
  return false;
}

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// One parser per thread keeps its buffers between opens; a parser grown for a
// huge header is not kept.
constexpr std::size_t kKeepCapacity = 16u << 20;

bool read_uint(element e, std::uint64_t& out) {
  // Positive integers below 2^63 are INT64 in simdjson, larger ones UINT64;
  // negatives and doubles are rejected by get_uint64.
  return e.get_uint64().get(out) == simdjson::SUCCESS;
}

// Nested values of ignored fields: every object must have unique keys.
bool unique_keys_everywhere(element e) {
  if (e.type() == element_type::ARRAY) {
    for (element x : array(e))
      if (!unique_keys_everywhere(x)) return false;
    return true;
  }
  if (e.type() != element_type::OBJECT) return true;
  object o(e);
  std::unordered_set<std::string_view> keys;
  for (auto kv : o) {
    if (!keys.insert(kv.key).second) return false;
    if (!unique_keys_everywhere(kv.value)) return false;
  }
  return true;
}

bool walk(element root, HeaderBuilder& b) {
  if (root.type() != element_type::OBJECT) return false;
  object top(root);
  b.reserve(top.size());
  bool seen_metadata = false;
  std::vector<std::uint64_t> shape;
  for (auto kv : top) {
    std::string_view key = kv.key;
    element value = kv.value;
    if (key == "__metadata__") {
      if (seen_metadata) return false;
      seen_metadata = true;
      if (value.type() == element_type::NULL_VALUE) continue;
      if (value.type() != element_type::OBJECT) return false;
      b.set_has_metadata();
      object md(value);
      std::unordered_set<std::string_view> keys;
      for (auto m : md) {
        std::string_view v;
        if (m.value.get_string().get(v) != simdjson::SUCCESS) return false;
        if (!keys.insert(m.key).second) return false;
        b.add_metadata(m.key, v);
      }
      continue;
    }
    if (value.type() != element_type::OBJECT) return false;
    bool have_dtype = false, have_shape = false, have_offsets = false;
    DType dtype = DType::U8;
    std::uint64_t off[2] = {0, 0};
    shape.clear();
    std::unordered_set<std::string_view> unknown;
    for (auto f : object(value)) {
      std::string_view field = f.key;
      if (field == "dtype") {
        std::string_view s;
        if (have_dtype || f.value.get_string().get(s) != simdjson::SUCCESS) return false;
        auto d = parse_dtype(s);
        if (!d) return false;
        dtype = *d;
        have_dtype = true;
      } else if (field == "shape") {
        if (have_shape || f.value.type() != element_type::ARRAY) return false;
        have_shape = true;
        for (element x : array(f.value)) {
          std::uint64_t v;
          if (!read_uint(x, v)) return false;
          shape.push_back(v);
        }
      } else if (field == "data_offsets") {
        if (have_offsets || f.value.type() != element_type::ARRAY) return false;
        have_offsets = true;
        array a(f.value);
        if (a.size() != 2) return false;
        int k = 0;
        for (element x : a)
          if (!read_uint(x, off[k++])) return false;
      } else {
        if (!unknown.insert(field).second || !unique_keys_everywhere(f.value)) return false;
        b.add_unknown_field(key, field);
      }
    }
    if (!have_dtype || !have_shape || !have_offsets) return false;
    if (!b.add_tensor(key, dtype, shape, off[0], off[1], Error::no_offset)) return false;
  }
  return true;
}

}  // namespace

std::optional<Header> parse_header_fast(const char* json, std::size_t n, std::uint64_t file_size, const Limits& limits) {
  if (may_contain_negative_zero(json, n)) return std::nullopt;
  thread_local simdjson::dom::parser tl_parser;
  simdjson::dom::parser local;
  const std::size_t depth = std::min<std::uint32_t>(limits.max_depth, 1024);
  const bool reuse = n <= kKeepCapacity;
  simdjson::dom::parser& parser = reuse ? tl_parser : local;
  if (parser.capacity() < n || parser.max_depth() != depth) {
    std::size_t cap = reuse ? std::max<std::size_t>(n, 64u << 10) : n;
    if (parser.allocate(cap, depth) != simdjson::SUCCESS) return std::nullopt;
  }
  element root;
  if (parser.parse(reinterpret_cast<const std::uint8_t*>(json), n, false).get(root) != simdjson::SUCCESS)
    return std::nullopt;
  HeaderBuilder builder(limits);
  if (!walk(root, builder)) return std::nullopt;
  auto r = std::move(builder).finish(n, file_size);
  if (!r) return std::nullopt;
  return std::move(r).value();
}

}  // namespace sft::detail
