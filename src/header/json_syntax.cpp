#include "header/json_syntax.hpp"

#include <cerrno>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <locale.h>

namespace sft::detail {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Four hex digits at p[i..i+4), or -1.
long hex4(const char* p, std::size_t n, std::size_t i) noexcept {
  if (i > n || n - i < 4) return -1;
  long v = 0;
  for (int k = 0; k < 4; ++k) {
    int h = hex_value(p[i + k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Powers of ten 1e0 .. 1e308 as the nearest doubles (strtod is correctly
// rounded in the C locale), built once.
const double* pow10_table() {
  static const std::vector<double> table = [] {
    std::vector<double> t(309);
    locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
    for (int i = 0; i < 309; ++i) {
      std::string lit = "1e" + std::to_string(i);
      t[static_cast<std::size_t>(i)] =
          c_locale ? strtod_l(lit.c_str(), nullptr, c_locale) : std::strtod(lit.c_str(), nullptr);
    }
    if (c_locale) freelocale(c_locale);
    return t;
  }();
  return table.data();
}

// Whether the reference rejects a number token (already checked against the
// JSON grammar) as out of range. The reference does not round correctly: it
// keeps at most a u64 of significant digits (further integer digits each raise
// the exponent by one, further fraction digits are dropped), saturates the
// exponent, converts the significand to a double and scales it by powers of
// ten, rejecting the number when that overflows. Near the largest double this
// decides differently from strtod in both directions, so sft follows it.
bool reference_number_out_of_range(const char* p, std::size_t len) {
  std::size_t i = 0;
  if (p[i] == '-') ++i;
  std::uint64_t sig = 0;
  std::int64_t exp = 0;  // kept within i32 like the reference's, see below
  // Appends a digit unless the significand is full (sticky within one part:
  // the fraction tries again after the integer part overflowed, as the reference does).
  bool full = false;
  auto push = [&](unsigned d) {
    std::uint64_t next;
    if (full || __builtin_mul_overflow(sig, 10u, &next) || __builtin_add_overflow(next, d, &next)) {
      full = true;
      return false;
    }
    sig = next;
    return true;
  };
  while (i < len && is_digit(p[i]))
    if (!push(static_cast<unsigned>(p[i++] - '0'))) ++exp;
  if (!full && i == len) return false;  // an integer within u64 (or i64): exact
  full = false;
  if (i < len && p[i] == '.') {
    ++i;
    while (i < len && is_digit(p[i]))
      if (push(static_cast<unsigned>(p[i++] - '0'))) --exp;
  }
  if (i < len && (p[i] == 'e' || p[i] == 'E')) {
    ++i;
    bool negative = false;
    if (p[i] == '+' || p[i] == '-') negative = p[i++] == '-';
    std::int64_t e = 0;
    constexpr std::int64_t i32_max = 2147483647;
    for (; i < len; ++i) {
      e = e * 10 + (p[i] - '0');
      if (e > i32_max) return sig != 0 && !negative;  // an exponent beyond i32: zero or out of range
    }
    exp = negative ? exp - e : exp + e;
    exp = std::clamp<std::int64_t>(exp, -i32_max - 1, i32_max);  // saturating, as the reference's i32
  }
  double f = static_cast<double>(sig);
  const double* pow10 = pow10_table();
  for (;;) {
    std::int64_t mag = exp < 0 ? -exp : exp;
    if (mag <= 308) {
      if (exp >= 0) return std::isinf(f * pow10[mag]);
      return false;
    }
    if (f == 0.0) return false;
    if (exp > 0) return true;
    f /= 1e308;
    exp += 308;
  }
}

class Checker {
 public:
  Checker(const char* p, std::size_t n, std::uint32_t max_depth, std::uint64_t base)
      : p_(p), n_(n), max_depth_(max_depth), base_(base) {}

  Result<void> run() {
    std::vector<char> stack;  // 'o' / 'a' per open container; bounded by max_depth
    std::size_t i = ws(0);
    enum class S { value, key, after } s = S::value;
    for (;;) {
      switch (s) {
        case S::value: {
          if (i >= n_) return fail(i, "expected a JSON value, found the end of the header");
          char c = p_[i];
          if (c == '{' || c == '[') {
            if (stack.size() >= max_depth_)
              return Error(Errc::nesting_too_deep,
                           "JSON nesting deeper than " + std::to_string(max_depth_) + " levels", base_ + i);
            stack.push_back(c == '{' ? 'o' : 'a');
            i = ws(i + 1);
            if (i < n_ && p_[i] == (c == '{' ? '}' : ']')) {
              stack.pop_back();
              i = i + 1;
              s = S::after;
            } else {
              s = c == '{' ? S::key : S::value;
            }
            continue;
          }
          if (c == '"') {
            auto r = string(i);
            SFT_TRY(r);
            i = end_;
          } else if (c == '-' || is_digit(c)) {
            auto r = number(i);
            SFT_TRY(r);
            i = end_;
          } else if (literal(i, "true") || literal(i, "false") || literal(i, "null")) {
            i = end_;
          } else {
            return fail(i, std::string("unexpected character ") + describe(c) + " where a JSON value should start");
          }
          s = S::after;
          continue;
        }
        case S::key: {
          if (i >= n_ || p_[i] != '"')
            return fail(i, i < n_ ? std::string("expected an object key in double quotes, found ") + describe(p_[i])
                                  : "expected an object key, found the end of the header");
          auto r = string(i);
          SFT_TRY(r);
          i = ws(end_);
          if (i >= n_ || p_[i] != ':') return fail(i, "expected ':' after an object key");
          i = ws(i + 1);
          s = S::value;
          continue;
        }
        case S::after: {
          i = ws(i);
          if (stack.empty()) {
            if (i != n_) return fail(i, std::string("trailing characters after the JSON object, starting with ") + describe(p_[i]));
            return {};
          }
          if (i >= n_) return fail(i, "unterminated JSON object or array");
          char c = p_[i];
          char close = stack.back() == 'o' ? '}' : ']';
          if (c == ',') {
            i = ws(i + 1);
            s = stack.back() == 'o' ? S::key : S::value;
          } else if (c == close) {
            stack.pop_back();
            ++i;
          } else {
            return fail(i, std::string("expected ',' or '") + close + "', found " + describe(c));
          }
          continue;
        }
      }
    }
  }

 private:
  Error fail(std::size_t i, std::string msg) const { return Error(Errc::invalid_json, std::move(msg), base_ + i); }

  static std::string describe(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
    static const char* hex = "0123456789abcdef";
    return std::string("byte 0x") + hex[u >> 4] + hex[u & 15];
  }

  std::size_t ws(std::size_t i) const noexcept {
    while (i < n_ && is_json_ws(p_[i])) ++i;
    return i;
  }

  bool literal(std::size_t i, std::string_view word) {
    if (n_ - i >= word.size() && std::memcmp(p_ + i, word.data(), word.size()) == 0) {
      end_ = i + word.size();
      return true;
    }
    return false;
  }

  Result<void> string(std::size_t i) {
    ++i;  // opening quote
    for (;;) {
      if (i >= n_) return fail(i, "unterminated string");
      auto c = static_cast<unsigned char>(p_[i]);
      if (c == '"') {
        end_ = i + 1;
        return {};
      }
      if (c < 0x20) return fail(i, "raw control character " + describe(p_[i]) + " in a string (must be escaped)");
      if (c != '\\') {
        ++i;
        continue;
      }
      if (i + 1 >= n_) return fail(i, "unterminated escape sequence");
      char e = p_[i + 1];
      if (std::strchr("\"\\/bfnrt", e) && e != '\0') {
        i += 2;
        continue;
      }
      if (e != 'u') return fail(i, "invalid escape sequence \\" + std::string(1, e));
      long cp = hex4(p_, n_, i + 2);
      if (cp < 0) return fail(i, "\\u must be followed by four hex digits");
      if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(i, "lone low surrogate in a \\u escape");
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (i + 8 > n_ || p_[i + 6] != '\\' || p_[i + 7] != 'u')
          return fail(i, "high surrogate \\u escape not followed by a low surrogate");
        long lo = hex4(p_, n_, i + 8);
        if (lo < 0xDC00 || lo > 0xDFFF) return fail(i, "high surrogate \\u escape not followed by a low surrogate");
        i += 12;
        continue;
      }
      i += 6;
    }
  }

  Result<void> number(std::size_t i) {
    const std::size_t start = i;
    bool integral = true;
    if (p_[i] == '-') ++i;
    if (i >= n_ || !is_digit(p_[i])) return fail(start, "invalid number");
    if (p_[i] == '0') {
      ++i;
      if (i < n_ && is_digit(p_[i])) return fail(start, "numbers must not have leading zeros");
    } else {
      while (i < n_ && is_digit(p_[i])) ++i;
    }
    if (i < n_ && p_[i] == '.') {
      integral = false;
      ++i;
      if (i >= n_ || !is_digit(p_[i])) return fail(i, "a decimal point must be followed by digits");
      while (i < n_ && is_digit(p_[i])) ++i;
    }
    if (i < n_ && (p_[i] == 'e' || p_[i] == 'E')) {
      integral = false;
      ++i;
      if (i < n_ && (p_[i] == '+' || p_[i] == '-')) ++i;
      if (i >= n_ || !is_digit(p_[i])) return fail(i, "an exponent must have digits");
      while (i < n_ && is_digit(p_[i])) ++i;
    }
    end_ = i;
    const std::size_t len = i - start;
    // Integers within i64/u64 are exact for the reference; anything else is
    // read as an f64, and one that overflows it is an error there.
    bool small_int = integral && len <= 19;
    if (!small_int && reference_number_out_of_range(p_ + start, len))
      return fail(start, "number out of range of a 64-bit float");
    return {};
  }

  const char* p_;
  std::size_t n_;
  std::uint32_t max_depth_;
  std::uint64_t base_;
  std::size_t end_ = 0;
};

void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

Result<void> check_json_syntax(const char* p, std::size_t n, std::uint32_t max_depth, std::uint64_t base) {
  return Checker(p, n, max_depth, base).run();
}

std::size_t skip_json_string(const char* p, std::size_t n, std::size_t i) noexcept {
  ++i;
  while (i < n && p[i] != '"') i += (p[i] == '\\') ? 2 : 1;
  return i;
}

std::size_t unescape_json_string(const char* p, std::size_t n, std::size_t i, std::string& out) {
  ++i;
  while (i < n && p[i] != '"') {
    if (p[i] != '\\') {
      std::size_t j = i;
      while (j < n && p[j] != '"' && p[j] != '\\') ++j;
      out.append(p + i, j - i);
      i = j;
      continue;
    }
    char e = i + 1 < n ? p[i + 1] : '\0';
    switch (e) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        long cp = hex4(p, n, i + 2);
        if (cp < 0) return n;  // cannot happen on checked input
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          long lo = hex4(p, n, i + 8);
          if (lo < 0) return n;
          append_utf8(out, 0x10000 + ((static_cast<unsigned long>(cp) - 0xD800) << 10) +
                               (static_cast<unsigned long>(lo) - 0xDC00));
          i += 12;
        } else {
          append_utf8(out, static_cast<unsigned long>(cp));
          i += 6;
        }
        continue;
      }
      default: out += e; break;  // \" \\ \/
    }
    i += 2;
  }
  return i + 1;
}

}  // namespace sft::detail
