// The slow, authoritative front end: JSON syntax first (so syntax errors win,
// as in the reference, which buffers the whole document before reading its
// schema), then a schema walk that knows the byte offset of every token.
#include <algorithm>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "header/header_builder.hpp"
#include "header/header_parse.hpp"
#include "sft_internal/json_escape.hpp"
#include "header/json_syntax.hpp"
#include "header/name_index.hpp"
#include "core/utf8.hpp"

namespace sft::detail {

namespace {

constexpr std::uint64_t kBase = 8;  // file offset of header byte 0

class SchemaWalker {
 public:
  SchemaWalker(const char* p, std::size_t n, HeaderBuilder& b) : p_(p), n_(n), b_(b) {}

  Result<void> run() {
    std::size_t i = ws(0);
    if (p_[i] != '{') return Error(Errc::bad_schema, "the header must be a JSON object", kBase + i);
    i = ws(i + 1);
    bool seen_metadata = false;
    std::string key;
    std::vector<std::uint64_t> shape;
    while (p_[i] != '}') {
      const std::size_t key_pos = i;
      key.clear();
      i = ws(unescape_json_string(p_, n_, i, key));
      i = ws(i + 1);  // ':'
      if (key == "__metadata__") {
        if (seen_metadata) return Error(Errc::duplicate_key, "__metadata__ appears twice", kBase + key_pos);
        seen_metadata = true;
        auto r = metadata(i);
        SFT_TRY(r);
      } else {
        auto r = tensor(i, key, key_pos, shape);
        SFT_TRY(r);
      }
      i = ws(end_);
      if (p_[i] == ',') i = ws(i + 1);
    }
    return {};
  }

 private:
  std::size_t ws(std::size_t i) const noexcept {
    while (i < n_ && is_json_ws(p_[i])) ++i;
    return i;
  }

  static const char* kind_of(char c) {
    switch (c) {
      case '"': return "a string";
      case '{': return "an object";
      case '[': return "an array";
      case 't': case 'f': return "a boolean";
      case 'n': return "null";
      default: return "a number";
    }
  }

  // Skip any valid JSON value at p_[i], checking every object in it for
  // repeated keys; sets end_. Iterative: nesting is bounded only by Limits.
  Result<void> skip_value(std::size_t i) {
    struct Frame { bool object; std::unordered_set<std::string, NameHash> keys; };
    std::vector<Frame> stack;
    std::string k;
    for (;;) {
      i = ws(i);
      char c = p_[i];
      if (c == '{' || c == '[') {
        stack.push_back({c == '{', {}});
        i = ws(i + 1);
        if (p_[i] == (c == '{' ? '}' : ']')) {
          stack.pop_back();
          ++i;
        } else {
          if (c == '{') {
            auto r = object_key(i, stack.back().keys, k);
            if (!r) return r;
            i = end_;
          }
          continue;
        }
      } else if (c == '"') {
        i = skip_json_string(p_, n_, i) + 1;
      } else {
        while (i < n_ && !is_json_ws(p_[i]) && p_[i] != ',' && p_[i] != ']' && p_[i] != '}') ++i;
      }
      // After a value: close containers or move to the next element.
      for (;;) {
        if (stack.empty()) {
          end_ = i;
          return {};
        }
        i = ws(i);
        if (p_[i] == ',') {
          i = ws(i + 1);
          if (stack.back().object) {
            auto r = object_key(i, stack.back().keys, k);
            if (!r) return r;
            i = end_;
          }
          break;
        }
        stack.pop_back();  // '}' or ']'
        ++i;
      }
    }
  }

  // At a key inside a nested object: record it, fail on a repeat, move past ':'.
  // Sets, not lists: a hostile header may hold a million keys in one object.
  Result<void> object_key(std::size_t i, std::unordered_set<std::string, NameHash>& keys, std::string& k) {
    k.clear();
    std::size_t after = unescape_json_string(p_, n_, i, k);
    if (!keys.insert(k).second)
      return Error(Errc::duplicate_key, "key " + json_string(k) + " repeated in a JSON object", kBase + i);
    end_ = ws(ws(after) + 1);
    return {};
  }

  Result<void> metadata(std::size_t i) {
    if (p_[i] == 'n') {  // null: same as absent
      end_ = i + 4;
      return {};
    }
    if (p_[i] != '{')
      return Error(Errc::bad_schema, std::string("__metadata__ must be an object of strings or null, not ") + kind_of(p_[i]),
                   kBase + i);
    b_.set_has_metadata();
    i = ws(i + 1);
    std::string key, value;
    std::unordered_set<std::string, NameHash> seen;
    while (p_[i] != '}') {
      const std::size_t key_pos = i;
      key.clear();
      i = ws(ws(unescape_json_string(p_, n_, i, key)) + 1);
      if (p_[i] != '"')
        return Error(Errc::bad_schema,
                     "__metadata__ value of " + json_string(key) + " must be a string, not " + kind_of(p_[i]), kBase + i);
      value.clear();
      i = ws(unescape_json_string(p_, n_, i, value));
      if (!seen.insert(key).second)
        return Error(Errc::duplicate_key, "__metadata__ key " + json_string(key) + " appears twice", kBase + key_pos);
      b_.add_metadata(key, value);
      if (p_[i] == ',') i = ws(i + 1);
    }
    end_ = i + 1;
    return {};
  }

  // An unsigned JSON integer within u64 at p_[i]; sets end_.
  Result<std::uint64_t> integer(std::size_t i, const std::string& tensor, const char* field) {
    auto bad = [&](const std::string& why) {
      return Error(Errc::bad_integer, std::string(field) + " values must be unsigned integers: " + why, kBase + i, tensor);
    };
    char c = p_[i];
    if (c == '-') return bad("negative number");
    if (c < '0' || c > '9') return bad(std::string("found ") + kind_of(c));
    std::uint64_t v = 0;
    std::size_t j = i;
    bool overflow = false;
    while (j < n_ && p_[j] >= '0' && p_[j] <= '9') {
      if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, static_cast<unsigned>(p_[j] - '0'), &v))
        overflow = true;
      ++j;
    }
    if (j < n_ && (p_[j] == '.' || p_[j] == 'e' || p_[j] == 'E')) return bad("fraction or exponent");
    if (overflow) return bad("larger than 2^64-1");
    end_ = j;
    return v;
  }

  Result<void> int_array(std::size_t i, const std::string& tensor, const char* field, std::vector<std::uint64_t>& out) {
    if (p_[i] != '[')
      return Error(Errc::bad_schema, std::string(field) + " must be an array, not " + kind_of(p_[i]), kBase + i, tensor);
    i = ws(i + 1);
    while (p_[i] != ']') {
      auto v = integer(i, tensor, field);
      SFT_TRY(v);
      out.push_back(*v);
      i = ws(end_);
      if (p_[i] == ',') i = ws(i + 1);
    }
    end_ = i + 1;
    return {};
  }

  Result<void> tensor(std::size_t i, const std::string& name, std::size_t key_pos, std::vector<std::uint64_t>& shape) {
    const std::uint64_t pos = kBase + key_pos;
    if (p_[i] != '{')
      return Error(Errc::bad_schema, std::string("a tensor entry must be a JSON object, not ") + kind_of(p_[i]),
                   kBase + i, name);
    i = ws(i + 1);
    std::optional<DType> dtype;
    bool have_shape = false, have_offsets = false;
    std::vector<std::uint64_t> offsets;
    std::vector<std::string> unknown;
    std::unordered_set<std::string, NameHash> unknown_set;
    std::string field, text;
    shape.clear();
    while (p_[i] != '}') {
      const std::size_t field_pos = i;
      field.clear();
      i = ws(ws(unescape_json_string(p_, n_, i, field)) + 1);
      auto repeated = [&] {
        return Error(Errc::duplicate_key, "field " + json_string(field) + " repeated in a tensor entry", kBase + field_pos, name);
      };
      if (field == "dtype") {
        if (dtype) return repeated();
        if (p_[i] != '"')
          return Error(Errc::bad_schema, std::string("dtype must be a string, not ") + kind_of(p_[i]), kBase + i, name);
        text.clear();
        end_ = unescape_json_string(p_, n_, i, text);
        dtype = parse_dtype(text);
        if (!dtype) return Error(Errc::unknown_dtype, "unknown dtype " + json_string(text), kBase + i, name);
      } else if (field == "shape") {
        if (have_shape) return repeated();
        have_shape = true;
        auto r = int_array(i, name, "shape", shape);
        if (!r) return r;
      } else if (field == "data_offsets") {
        if (have_offsets) return repeated();
        have_offsets = true;
        auto r = int_array(i, name, "data_offsets", offsets);
        if (!r) return r;
        if (offsets.size() != 2)
          return Error(Errc::bad_schema,
                       "data_offsets must hold exactly 2 integers, not " + std::to_string(offsets.size()), kBase + i, name);
      } else {
        if (!unknown_set.insert(field).second) return repeated();
        unknown.push_back(field);
        auto r = skip_value(i);
        if (!r) return std::move(r).error().with_tensor(name);
      }
      i = ws(end_);
      if (p_[i] == ',') i = ws(i + 1);
    }
    end_ = i + 1;
    const char* missing = !dtype ? "dtype" : !have_shape ? "shape" : !have_offsets ? "data_offsets" : nullptr;
    if (missing) return Error(Errc::bad_schema, std::string("tensor entry lacks \"") + missing + "\"", pos, name);
    for (const auto& f : unknown) b_.add_unknown_field(name, f);
    return b_.add_tensor(name, *dtype, shape, offsets[0], offsets[1], pos);
  }

  const char* p_;
  std::size_t n_;
  HeaderBuilder& b_;
  std::size_t end_ = 0;
};

}  // namespace

Result<Header> parse_header_slow(const char* json, std::size_t n, std::uint64_t file_size, const Limits& limits) {
  std::size_t bad = find_invalid_utf8(reinterpret_cast<const unsigned char*>(json), n);
  if (bad != utf8_ok) return Error(Errc::invalid_utf8, "the header is not valid UTF-8", kBase + bad);
  auto syntax = check_json_syntax(json, n, std::min<std::uint32_t>(limits.max_depth, 1024), kBase);
  SFT_TRY(syntax);
  HeaderBuilder builder(limits, true);
  auto walked = SchemaWalker(json, n, builder).run();
  SFT_TRY(walked);
  return std::move(builder).finish(n, file_size);
}

}  // namespace sft::detail
