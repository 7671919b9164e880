// The fast front end: simdjson's stage 1 (run-time dispatched to the best SIMD
// kernel of the machine: it validates UTF-8, rejects unescaped control
// characters in strings and indexes every structural character), then a walk
// over those structural indexes that accepts only the exact shape a
// safetensors header has: an object of tensor entries with dtype, shape and
// data_offsets, and an optional __metadata__ object of strings or null. No DOM
// is built: names go straight from the header bytes into the Header's arena.
//
// It declines (nullopt) on anything else: an escape sequence, an unknown field,
// a number that is not a plain unsigned integer (so "-0", which simdjson's own
// number parser would read as 0, never gets this far), any error. The slow front end
// then decides, so declining is always safe and only costs time; accepting is
// what must be exact, and the differential fuzzer checks it against the slow path.
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <simdjson.h>

#include "header/header_builder.hpp"
#include "header/header_parse.hpp"
#include "header/json_syntax.hpp"
#include "header/name_index.hpp"

namespace sft::detail {

std::size_t json_padding() noexcept { return simdjson::SIMDJSON_PADDING; }

namespace {

// One stage-1 implementation per thread keeps its index buffer between opens;
// one grown for a huge header is not kept.
constexpr std::size_t kKeepCapacity = 16u << 20;

template <std::size_t N>
inline bool is(std::string_view s, const char (&lit)[N]) noexcept;

class StructuralWalker {
 public:
  StructuralWalker(const char* p, std::size_t n, const std::uint32_t* idx, std::size_t count, HeaderBuilder& b)
      : p_(p), n_(n), idx_(idx), count_(count), b_(b), has_backslash_(std::memchr(p, '\\', n) != nullptr) {}

  bool run() {
    if (!take('{')) return false;
    if (take('}')) return done();
    bool seen_metadata = false;
    std::vector<std::uint64_t> shape;
    for (;;) {
      std::string_view key;
      if (!string(key) || !take(':')) return false;
      if (is(key, "__metadata__")) {
        if (seen_metadata || !metadata()) return false;
        seen_metadata = true;
      } else if (!tensor(key, shape)) {
        return false;
      }
      if (take(',')) continue;
      if (take('}')) return done();
      return false;
    }
  }

 private:
  char peek() const noexcept { return k_ < count_ ? p_[idx_[k_]] : '\0'; }
  bool take(char c) noexcept {
    if (peek() != c) return false;
    ++k_;
    return true;
  }
  bool done() const noexcept { return k_ == count_; }

  // End of the token that starts at structural k_: the next structural index
  // (or the end), less the whitespace before it. Everything between a token
  // and the next structural character is whitespace: stage 1 marks every other
  // byte outside strings as structural or as the start of a scalar.
  std::size_t token_end() const noexcept {
    std::size_t e = k_ + 1 < count_ ? idx_[k_ + 1] : n_;
    while (e > idx_[k_] && is_json_ws(p_[e - 1])) --e;
    return e;
  }

  // A string without escapes (stage 1 has checked UTF-8 and control characters).
  bool string(std::string_view& out) noexcept {
    if (peek() != '"') return false;
    const std::size_t s = idx_[k_] + 1;
    const std::size_t e = token_end();
    if (e < s + 1 || p_[e - 1] != '"') return false;
    out = std::string_view(p_ + s, e - 1 - s);
    if (has_backslash_ && std::memchr(out.data(), '\\', out.size())) return false;  // escapes: the slow path
    ++k_;
    return true;
  }

  // A plain unsigned integer: digits, no leading zero, within u64. Up to 19
  // digits cannot overflow; a 20-digit one is compared with 2^64-1 as text.
  bool uint(std::uint64_t& v) noexcept {
    if (k_ >= count_) return false;
    const std::size_t s = idx_[k_];
    const std::size_t len = token_end() - s;
    if (len == 0 || len > 20 || (p_[s] == '0' && len > 1)) return false;
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < len; ++i) {
      const unsigned d = static_cast<unsigned char>(p_[s + i]) - unsigned{'0'};
      if (d > 9) return false;
      x = x * 10 + d;
    }
    if (len == 20 && std::memcmp(p_ + s, "18446744073709551615", 20) > 0) return false;
    v = x;
    ++k_;
    return true;
  }

  bool metadata() {
    if (peek() == 'n') {  // null: same as absent
      const std::size_t s = idx_[k_];
      if (token_end() - s != 4 || std::memcmp(p_ + s, "null", 4) != 0) return false;
      ++k_;
      return true;
    }
    if (!take('{')) return false;
    b_.set_has_metadata();
    if (take('}')) return true;
    std::unordered_set<std::string_view, NameHash> keys;
    for (;;) {
      std::string_view key, value;
      if (!string(key) || !take(':') || !string(value) || !keys.insert(key).second) return false;
      b_.add_metadata(key, value);
      if (take(',')) continue;
      return take('}');
    }
  }

  bool tensor(std::string_view name, std::vector<std::uint64_t>& shape) {
    if (!take('{')) return false;
    bool have_dtype = false, have_shape = false, have_offsets = false;
    DType dtype = DType::U8;
    std::uint64_t off[2] = {0, 0};
    shape.clear();
    if (peek() == '}') return false;  // an empty entry lacks fields
    for (;;) {
      std::string_view field;
      if (!string(field) || !take(':')) return false;
      if (is(field, "dtype")) {
        std::string_view s;
        if (have_dtype || !string(s)) return false;
        auto d = parse_dtype(s);
        if (!d) return false;
        dtype = *d;
        have_dtype = true;
      } else if (is(field, "shape")) {
        if (have_shape || !take('[')) return false;
        have_shape = true;
        if (!take(']')) {
          for (;;) {
            std::uint64_t v;
            if (!uint(v)) return false;
            shape.push_back(v);
            if (take(',')) continue;
            if (take(']')) break;
            return false;
          }
        }
      } else if (is(field, "data_offsets")) {
        if (have_offsets || !take('[') || !uint(off[0]) || !take(',') || !uint(off[1]) || !take(']')) return false;
        have_offsets = true;
      } else {
        return false;  // unknown fields (any JSON value) are the slow path's
      }
      if (take(',')) continue;
      if (take('}')) break;
      return false;
    }
    if (!have_dtype || !have_shape || !have_offsets) return false;
    return b_.add_tensor(name, dtype, shape, off[0], off[1], Error::no_offset).ok();
  }

  const char* p_;
  std::size_t n_;
  const std::uint32_t* idx_;
  std::size_t count_;
  HeaderBuilder& b_;
  bool has_backslash_;  // one scan of the header spares one per string
  std::size_t k_ = 0;
};

// Equality with a short literal, without a call to memcmp.
template <std::size_t N>
inline bool is(std::string_view s, const char (&lit)[N]) noexcept {
  if (s.size() != N - 1) return false;
  for (std::size_t i = 0; i < N - 1; ++i)
    if (s[i] != lit[i]) return false;
  return true;
}

}  // namespace

std::optional<Header> parse_header_fast(const char* json, std::size_t n, std::uint64_t file_size, const Limits& limits) {
  // The accepted shape nests 3 deep; stage 1 indexes need u32 positions.
  if (limits.max_depth < 3 || n > 0xffffffffu - 64 || n == 0) return std::nullopt;

  thread_local std::unique_ptr<simdjson::internal::dom_parser_implementation> tl_impl;
  std::unique_ptr<simdjson::internal::dom_parser_implementation> local;
  const bool reuse = n <= kKeepCapacity;
  auto& impl = reuse ? tl_impl : local;
  if (!impl || impl->capacity() < n) {
    std::size_t cap = reuse ? std::max<std::size_t>(n, 64u << 10) : n;
    impl.reset();
    if (simdjson::get_active_implementation()->create_dom_parser_implementation(cap, 8, impl) != simdjson::SUCCESS)
      return std::nullopt;
  }
  if (impl->stage1(reinterpret_cast<const std::uint8_t*>(json), n, simdjson::stage1_mode::regular) !=
      simdjson::SUCCESS)
    return std::nullopt;

  HeaderBuilder builder(limits, false);
  // An entry takes at least 12 structural characters; reserve for that many.
  const std::size_t structurals = impl->n_structural_indexes;
  builder.reserve(structurals / 12 + 1, n);
  StructuralWalker walker(json, n, impl->structural_indexes.get(), impl->n_structural_indexes, builder);
  if (!walker.run()) return std::nullopt;
  auto r = std::move(builder).finish(n, file_size);
  if (!r) return std::nullopt;
  return std::move(r).value();
}

}  // namespace sft::detail
