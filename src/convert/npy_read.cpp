// Reading .npy: the bounded dict-literal parser and the conversion to C order.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "sft/npy.hpp"

namespace sft {

namespace {

constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr std::size_t kMaxStringLiteral = 256;  // descr strings are a few bytes

Error bad(std::string msg, std::uint64_t at) { return Error(Errc::npy_bad_header, std::move(msg), at); }

// The dict literal, as NumPy writes it (and as ast.literal_eval reads it),
// restricted to what a header can hold: string keys, string / bool / tuple of
// int values. No escapes, no nesting beyond the shape tuple.
class DictParser {
 public:
  DictParser(std::string_view text, std::uint64_t base) : s_(text), base_(base) {}

  Result<NpyHeader> parse() {
    NpyHeader h;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    ws();
    if (!eat('{')) return bad("the header is not a dict literal: expected '{'", at());
    ws();
    while (!peek('}')) {
      std::uint64_t key_at = at();
      auto key = string_literal();
      SFT_TRY(key);
      ws();
      if (!eat(':')) return bad("expected ':' after a key", at());
      ws();
      if (*key == "descr") {
        if (seen_descr) return bad("key 'descr' appears twice", key_at);
        seen_descr = true;
        if (peek('[') || peek('{') || peek('('))
          return Error(Errc::npy_unsupported, "structured dtypes are not supported", at());
        std::uint64_t descr_at = at();
        auto d = string_literal();
        SFT_TRY(d);
        if (auto r = apply_descr(*d, descr_at, h); !r) return std::move(r).error();
      } else if (*key == "fortran_order") {
        if (seen_fortran) return bad("key 'fortran_order' appears twice", key_at);
        seen_fortran = true;
        if (word("True")) h.fortran_order = true;
        else if (word("False")) h.fortran_order = false;
        else return bad("fortran_order must be True or False", at());
      } else if (*key == "shape") {
        if (seen_shape) return bad("key 'shape' appears twice", key_at);
        seen_shape = true;
        if (auto r = shape_tuple(h.shape); !r) return std::move(r).error();
      } else {
        return bad("unexpected key '" + *key + "' (a header has exactly descr, fortran_order and shape)", key_at);
      }
      ws();
      if (eat(',')) {
        ws();
        continue;
      }
      if (!peek('}')) return bad("expected ',' or '}' in the dict", at());
    }
    eat('}');
    ws();
    if (i_ != s_.size()) return bad("unexpected bytes after the dict literal", at());
    if (!seen_descr || !seen_fortran || !seen_shape)
      return bad(std::string("the header lacks the key '") +
                     (!seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape") + "'",
                 at());
    return h;
  }

 private:
  std::uint64_t at() const noexcept { return base_ + i_; }
  bool peek(char c) const noexcept { return i_ < s_.size() && s_[i_] == c; }
  bool eat(char c) noexcept {
    if (!peek(c)) return false;
    ++i_;
    return true;
  }
  void ws() noexcept {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool word(std::string_view w) noexcept {
    if (s_.substr(i_, w.size()) != w) return false;
    std::size_t end = i_ + w.size();
    if (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_')) return false;
    i_ = end;
    return true;
  }

  Result<std::string> string_literal() {
    char q = i_ < s_.size() ? s_[i_] : '\0';
    if (q != '\'' && q != '"') return bad("expected a quoted string", at());
    std::size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != q) {
      char c = s_[i_];
      if (c == '\\') return bad("escape sequences are not allowed in header strings", at());
      if (c == '\n' || c == '\r') return bad("unterminated string", at());
      if (i_ - start >= kMaxStringLiteral) return bad("string literal too long", at());
      ++i_;
    }
    if (i_ == s_.size()) return bad("unterminated string", at());
    std::string out(s_.substr(start, i_ - start));
    ++i_;
    return out;
  }

  // ( ) | ( int , ) | ( int , int [, int]* [,] ), ints optionally suffixed L.
  Result<void> shape_tuple(std::vector<std::uint64_t>& shape) {
    if (!eat('(')) return bad("shape must be a tuple", at());
    ws();
    bool comma_after_last = false;
    while (!peek(')')) {
      if (shape.size() == npy_max_rank) return bad("shape has more than 64 dimensions", at());
      std::uint64_t num_at = at();
      if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') return bad("shape entries must be non-negative integers", at());
      if (s_[i_] == '0' && i_ + 1 < s_.size() && s_[i_ + 1] >= '0' && s_[i_ + 1] <= '9')
        return bad("leading zeros are not allowed in integers", num_at);
      std::uint64_t v = 0;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        auto digit = static_cast<std::uint64_t>(s_[i_] - '0');
        if (v > (~std::uint64_t{0} - digit) / 10) return bad("shape entry overflows 64 bits", num_at);
        v = v * 10 + digit;
        ++i_;
      }
      if (!eat('L')) eat('l');  // Python 2 long literals in old files
      shape.push_back(v);
      ws();
      comma_after_last = eat(',');
      ws();
      if (!comma_after_last && !peek(')')) return bad("expected ',' or ')' in the shape", at());
    }
    eat(')');
    if (shape.size() == 1 && !comma_after_last)
      return bad("'(n)' is an integer, not a tuple: a one-dimensional shape is written '(n,)'", at());
    return {};
  }

  Result<void> apply_descr(std::string_view d, std::uint64_t where, NpyHeader& h) {
    h.descr = std::string(d);
    std::size_t k = 0;
    char order = '=';
    if (k < d.size() && (d[k] == '<' || d[k] == '>' || d[k] == '|' || d[k] == '=')) order = d[k++];
    if (k >= d.size()) return bad("empty descr", where);
    char kind = d[k++];
    std::string_view digits = d.substr(k);
    unsigned size = 0;
    bool digits_ok = !digits.empty() && digits.size() <= 6 &&
                     std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits_ok)
      for (char c : digits) size = size * 10 + static_cast<unsigned>(c - '0');
    auto unsupported = [&](std::string why) {
      return Error(Errc::npy_unsupported, "dtype '" + std::string(d) + "' " + why, where);
    };
    switch (kind) {
      case 'O': return unsupported("holds Python objects (pickle), which sft never reads");
      case 'U': case 'S': case 'a': return unsupported("is a string type");
      case 'M': case 'm': return unsupported("is a datetime type");
      case 'b': case 'i': case 'u': case 'f': case 'c': case 'V': break;
      default: return unsupported("is not a numeric type sft knows");
    }
    if (!digits_ok || size == 0) return unsupported("has no item size sft understands");
    h.item_size = size;
    std::optional<DType> t;
    switch (kind) {
      case 'b': if (size == 1) t = DType::BOOL; break;
      case 'i': t = size == 1 ? DType::I8 : size == 2 ? DType::I16 : size == 4 ? DType::I32 : size == 8 ? DType::I64 : t; break;
      case 'u': t = size == 1 ? DType::U8 : size == 2 ? DType::U16 : size == 4 ? DType::U32 : size == 8 ? DType::U64 : t; break;
      case 'f': t = size == 2 ? DType::F16 : size == 4 ? DType::F32 : size == 8 ? DType::F64 : t; break;
      case 'c': if (size == 8) t = DType::C64; break;
      default: break;  // 'V': raw bytes
    }
    // 'f1' is what ml_dtypes' float8_e5m2 saves as: one raw byte, like 'V1'.
    const bool raw = kind == 'V' || (kind == 'f' && size == 1);
    if (!raw && !t) return unsupported("has a width safetensors has no dtype for");
    h.dtype = t;
    // Byte order matters for numbers wider than a byte; raw bytes have none.
    h.big_endian = order == '>' && !raw && size > 1;
    return {};
  }

  std::string_view s_;
  std::uint64_t base_;
  std::size_t i_ = 0;
};

std::uint32_t read_le(const std::byte* p, int n) {
  std::uint32_t v = 0;
  for (int k = n - 1; k >= 0; --k) v = (v << 8) | std::to_integer<std::uint32_t>(p[k]);
  return v;
}

}  // namespace

bool NpyHeader::needs_conversion() const noexcept {
  if (big_endian) return true;
  if (!fortran_order) return false;
  // Fortran and C order coincide when at most one dimension exceeds 1.
  return std::count_if(shape.begin(), shape.end(), [](std::uint64_t d) { return d > 1; }) > 1;
}

Result<NpyHeader> parse_npy_header(std::span<const std::byte> bytes, std::uint64_t file_size) {
  if (bytes.size() > file_size) bytes = bytes.first(static_cast<std::size_t>(file_size));
  if (bytes.size() < 10) return bad("the file is shorter than the 10-byte .npy preamble", 0);
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return bad("not a .npy file (bad magic)", 0);
  unsigned major = std::to_integer<unsigned>(bytes[6]);
  unsigned minor = std::to_integer<unsigned>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    return bad("unknown .npy version " + std::to_string(major) + "." + std::to_string(minor), 6);
  const int len_bytes = major == 1 ? 2 : 4;
  const std::uint64_t dict_at = 8 + static_cast<std::uint64_t>(len_bytes);
  if (bytes.size() < dict_at) return bad("the file ends inside the header length", 8);
  const std::uint64_t len = read_le(bytes.data() + 8, len_bytes);
  if (len > npy_max_header_bytes)
    return bad("header of " + std::to_string(len) + " bytes is over the limit of " +
                   std::to_string(npy_max_header_bytes),
               8);
  if (len > bytes.size() - dict_at) return bad("the header runs past the end of the file", 8);
  std::string_view text(reinterpret_cast<const char*>(bytes.data() + dict_at), static_cast<std::size_t>(len));
  if (major < 3)
    for (std::size_t i = 0; i < text.size(); ++i)
      if (static_cast<unsigned char>(text[i]) >= 0x80)
        return bad("version 1 and 2 headers are ASCII", dict_at + i);

  auto h = DictParser(text, dict_at).parse();
  if (!h) return h;
  h->major_version = major;
  h->data_offset = dict_at + len;
  std::uint64_t n = 1;
  for (auto d : h->shape) {
    if (d != 0 && n > ~std::uint64_t{0} / d) return bad("the element count overflows 64 bits", dict_at);
    n *= d;
  }
  if (n > ~std::uint64_t{0} / h->item_size) return bad("the data size overflows 64 bits", dict_at);
  h->data_size = n * h->item_size;
  const std::uint64_t have = file_size - h->data_offset;
  if (have < h->data_size)
    return bad("the data is truncated: " + std::to_string(have) + " of " + std::to_string(h->data_size) +
                   " bytes present",
               file_size);
  if (have > h->data_size)
    return bad(std::to_string(have - h->data_size) + " unexpected bytes after the data",
               h->data_offset + h->data_size);
  return h;
}

Result<void> npy_to_c_order(const NpyHeader& h, std::span<const std::byte> data, std::span<std::byte> out) {
  if (data.size() != h.data_size || out.size() != h.data_size)
    return Error(Errc::invalid_argument, "data and output must both be the array's " + std::to_string(h.data_size) +
                                             " bytes");
  const std::size_t item = h.item_size;
  if (!h.needs_conversion() || !h.fortran_order) {
    if (!data.empty()) std::memcpy(out.data(), data.data(), data.size());
  } else {
    // out[C index] = data[Fortran index]: walk C order with an odometer and
    // keep the Fortran offset (in items) up to date incrementally.
    const std::size_t rank = h.shape.size();
    std::vector<std::uint64_t> fstride(rank), idx(rank, 0);
    std::uint64_t s = 1;
    for (std::size_t k = 0; k < rank; ++k) {
      fstride[k] = s;
      s *= h.shape[k];
    }
    const std::uint64_t count = h.element_count();
    std::uint64_t f = 0;
    for (std::uint64_t c = 0; c < count; ++c) {
      std::memcpy(out.data() + c * item, data.data() + f * item, item);
      for (std::size_t k = rank; k-- > 0;) {  // increment the last index, carrying leftwards
        if (++idx[k] < h.shape[k]) {
          f += fstride[k];
          break;
        }
        f -= fstride[k] * (h.shape[k] - 1);
        idx[k] = 0;
      }
    }
  }
  if (h.big_endian) {
    // A complex number is two floats, each swapped on its own.
    const std::size_t unit = h.dtype == DType::C64 ? item / 2 : item;
    for (std::size_t i = 0; i + unit <= out.size(); i += unit) std::reverse(out.data() + i, out.data() + i + unit);
  }
  return {};
}

}  // namespace sft
