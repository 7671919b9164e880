// fuzz/json_mutator.hpp — a structure-aware mutator for safetensors files.
//
// Byte-level mutations of a safetensors file almost always break the length
// prefix or the JSON syntax, so the validator behind the JSON parser is rarely
// reached. mutate_safetensors() treats the input as [8-byte length][JSON
// header][data] and edits the header as JSON: numbers (boundary integers,
// nudges, non-integer spellings), strings (keys, every dtype name, escapes,
// invalid UTF-8), members (duplicated, dropped, added), nesting (values wrapped
// up to ~200 levels deep) and the surrounding bytes (whitespace, BOM, NUL,
// trailing garbage). Afterwards it rewrites the length prefix to the new header
// size (lying now and then) and usually resizes the data buffer to what the
// data_offsets ask for, so that most mutants get past the layout checks into
// the rules that matter. Targets define LLVMFuzzerCustomMutator with it.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "sft/dtype.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace sft::fuzz {

using Rng = std::minstd_rand;

struct Token {
  enum Kind { string, number, word, punct } kind;
  std::size_t begin, end;  // [begin, end) in the JSON text
};

// A forgiving tokenizer: any byte string gives some token list.
inline std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    std::size_t b = i;
    if (c == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') i += (s[i] == '\\') ? 2 : 1;
      i = std::min(i + 1, s.size());
      out.push_back({Token::string, b, i});
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      ++i;
      while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == 'e' ||
                              s[i] == 'E' || s[i] == '+' || s[i] == '-'))
        ++i;
      out.push_back({Token::number, b, i});
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
      out.push_back({Token::word, b, i});
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
    } else {
      ++i;
      out.push_back({Token::punct, b, i});
    }
  }
  return out;
}

// End of the JSON value starting at token index t (one past its last byte).
inline std::size_t value_end(std::string_view s, const std::vector<Token>& toks, std::size_t t) {
  char c = s[toks[t].begin];
  if (toks[t].kind != Token::punct || (c != '[' && c != '{')) return toks[t].end;
  int depth = 0;
  for (std::size_t k = t; k < toks.size(); ++k) {
    if (toks[k].kind != Token::punct) continue;
    char p = s[toks[k].begin];
    if (p == '[' || p == '{') ++depth;
    if (p == ']' || p == '}') {
      if (--depth == 0) return toks[k].end;
    }
  }
  return s.size();
}

inline const char* const kNumbers[] = {
    "0", "1", "2", "3", "4", "7", "8", "255", "256", "65535", "65536", "2147483647", "2147483648",
    "4294967295", "4294967296", "9007199254740992", "9007199254740993", "9223372036854775807",
    "9223372036854775808", "18446744073709551615", "18446744073709551616", "36893488147419103232",
    "99999999999999999999999", "-1", "-0", "0.0", "1.0", "1e2", "1E0", "+1", "01", "00", "1.5", "1e400",
    "-9223372036854775808", "0x10", "1_000", "NaN", "Infinity", "\"1\"", "true", "null", "[]", "{}"};

inline const char* const kStrings[] = {
    "dtype", "shape", "data_offsets", "__metadata__", "\\u0064type", "\\u005f_metadata__", "dtyp\\u0065",
    "shape\\u0000", "", "\\u0000", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\ud800\\u0041", "\\\"", "\\\\",
    "\\/", "\\b\\f\\n\\r\\t", "\\x41", "\\u00", "\\uZZZZ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
    "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\x80", "\x01", "\t",
    "f32", "F8", "FLOAT32", "F32 ", " F32", "bf16", "Q4_0", "F8_E4M3FN"};

// "" stands for a single NUL byte.
inline const char* const kFragments[] = {
    " ", "\t", "\n", "\r", "\xef\xbb\xbf", "", "//", "/*x*/", ",", ",,", ":",
    "{", "}", "[", "]", "\"", "'", "\\", "null", "true", "NaN", "PK\x03\x04", "\x80\x02}q\x00."};

inline std::string pick_dtype(Rng& rng) {
  return std::string(sft::name(static_cast<sft::DType>(rng() % sft::dtype_count)));
}

inline std::string random_string_token(Rng& rng) {
  std::string s(1, '"');
  switch (rng() % 3) {
    case 0: s += pick_dtype(rng); break;
    case 1: s += kStrings[rng() % std::size(kStrings)]; break;
    default:
      s += 't';
      for (unsigned i = 0, n = static_cast<unsigned>(rng() % 6); i < n; ++i) s += static_cast<char>('a' + rng() % 26);
  }
  s += '"';
  return s;
}

// Largest `b` in every `"data_offsets":[a,b]` the text spells plainly.
inline std::uint64_t wanted_data_size(std::string_view s) {
  std::uint64_t best = 0;
  for (std::size_t at = s.find("\"data_offsets\""); at != std::string_view::npos;
       at = s.find("\"data_offsets\"", at + 1)) {
    std::size_t comma = s.find(',', at + 15);
    std::size_t close = s.find(']', at + 15);
    if (comma == std::string_view::npos || close == std::string_view::npos || close < comma) continue;
    std::uint64_t v = 0;
    bool ok = false;
    for (std::size_t i = comma + 1; i < close; ++i) {
      if (s[i] == ' ') continue;
      if (s[i] < '0' || s[i] > '9' || v > (~std::uint64_t{0} - 9) / 10) { ok = false; break; }
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
      ok = true;
    }
    if (ok) best = std::max(best, v);
  }
  return best;
}

// One structural edit of the JSON text.
inline void mutate_json(std::string& s, Rng& rng, std::size_t max_json) {
  auto toks = tokenize(s);
  auto pick = [&](Token::Kind k) -> long {
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < toks.size(); ++i)
      if (toks[i].kind == k) idx.push_back(i);
    return idx.empty() ? -1 : static_cast<long>(idx[rng() % idx.size()]);
  };
  auto replace = [&](std::size_t b, std::size_t e, const std::string& with) { s.replace(b, e - b, with); };

  switch (rng() % 13) {
    case 0:  // a number becomes a boundary value or a non-integer spelling
    case 1: {
      long t = pick(Token::number);
      if (t < 0) break;
      replace(toks[t].begin, toks[t].end, kNumbers[rng() % std::size(kNumbers)]);
      break;
    }
    case 2: {  // a number nudged by a little
      long t = pick(Token::number);
      if (t < 0) break;
      std::string_view num(s.data() + toks[t].begin, toks[t].end - toks[t].begin);
      std::uint64_t v = 0;
      for (char c : num) v = v * 10 + static_cast<unsigned>(c >= '0' && c <= '9' ? c - '0' : 0);
      static const long deltas[] = {-8, -4, -2, -1, 1, 2, 4, 8};
      v += static_cast<std::uint64_t>(deltas[rng() % std::size(deltas)]);
      if (rng() % 4 == 0) v *= 2;
      replace(toks[t].begin, toks[t].end, std::to_string(v));
      break;
    }
    case 3:  // a string (key or value) replaced
    case 4: {
      long t = pick(Token::string);
      if (t < 0) break;
      replace(toks[t].begin, toks[t].end, random_string_token(rng));
      break;
    }
    case 5: {  // an escape or odd bytes inserted into a string
      long t = pick(Token::string);
      if (t < 0 || toks[t].end - toks[t].begin < 2) break;
      std::size_t at = toks[t].begin + 1 + rng() % (toks[t].end - toks[t].begin - 1);
      s.insert(at, kStrings[8 + rng() % (std::size(kStrings) - 8)]);
      break;
    }
    case 6: {  // a member duplicated ("k": v, "k": v) — possibly with another value
      for (int tries = 0; tries < 8; ++tries) {
        long t = pick(Token::string);
        if (t < 0 || static_cast<std::size_t>(t) + 2 >= toks.size()) break;
        if (s[toks[t + 1].begin] != ':') continue;
        std::size_t e = value_end(s, toks, static_cast<std::size_t>(t) + 2);
        std::string member = s.substr(toks[t].begin, e - toks[t].begin);
        s.insert(e, "," + member);
        break;
      }
      break;
    }
    case 7: {  // a member dropped, with the comma before or after it
      for (int tries = 0; tries < 8; ++tries) {
        long t = pick(Token::string);
        if (t < 0 || static_cast<std::size_t>(t) + 2 >= toks.size()) break;
        if (s[toks[t + 1].begin] != ':') continue;
        std::size_t b = toks[t].begin;
        std::size_t e = value_end(s, toks, static_cast<std::size_t>(t) + 2);
        if (e < s.size() && s[e] == ',') ++e;
        else if (t > 0 && s[toks[t - 1].begin] == ',') b = toks[t - 1].begin;
        s.erase(b, e - b);
        break;
      }
      break;
    }
    case 8: {  // a value wrapped in deep nesting (around the 127-level limit)
      if (toks.size() < 3) break;
      std::size_t t = 1 + rng() % (toks.size() - 1);
      if (toks[t - 1].kind != Token::punct || (s[toks[t - 1].begin] != ':' && s[toks[t - 1].begin] != '[')) break;
      std::size_t e = value_end(s, toks, t);
      static const unsigned depths[] = {1, 2, 60, 120, 124, 125, 126, 127, 128, 200};
      unsigned d = depths[rng() % std::size(depths)];
      bool obj = rng() % 2;
      std::string open, close;
      for (unsigned i = 0; i < d; ++i) {
        open += obj ? "{\"a\":" : "[";
        close += obj ? "}" : "]";
      }
      if (open.size() + close.size() + s.size() > max_json) break;
      s.insert(e, close);
      s.insert(toks[t].begin, open);
      break;
    }
    case 9: {  // one value copied over another (e.g. two tensors share offsets)
      long a = pick(Token::punct), b = pick(Token::punct);
      if (a < 0 || b < 0 || a == b) break;
      if (s[toks[a].begin] != '[' || s[toks[b].begin] != '[') break;
      std::size_t ea = value_end(s, toks, a), eb = value_end(s, toks, b);
      if (toks[a].begin < eb && toks[b].begin < ea) break;  // nested or overlapping
      std::string va = s.substr(toks[a].begin, ea - toks[a].begin);
      replace(toks[b].begin, eb, va);
      break;
    }
    case 10: {  // a new tensor appended after the last one
      std::size_t close = s.rfind('}');
      if (close == std::string::npos) break;
      std::uint64_t end = wanted_data_size(s);
      std::uint64_t n = rng() % 5;
      std::string dt = pick_dtype(rng);
      std::uint64_t bytes = (n * sft::bits(*sft::parse_dtype(dt)) + 7) / 8;
      std::string entry = ",\"x" + std::to_string(rng() % 1000) + "\":{\"dtype\":\"" + dt + "\",\"shape\":[" +
                          std::to_string(n) + "],\"data_offsets\":[" + std::to_string(end) + "," +
                          std::to_string(end + bytes) + "]}";
      s.insert(close, entry);
      break;
    }
    case 11: {  // bytes around or inside the JSON: whitespace, BOM, NUL, comments, polyglots
      std::string frag = kFragments[rng() % std::size(kFragments)];
      if (frag.empty()) frag.assign(1, '\0');
      std::size_t at = rng() % 3 == 0 ? 0 : rng() % 3 == 0 ? s.size() : rng() % (s.size() + 1);
      s.insert(at, frag);
      break;
    }
    default: {  // libFuzzer's byte-level mutation of the JSON text alone
      std::size_t cap = std::max(max_json, s.size());
      std::string buf = s;
      buf.resize(cap);
      std::size_t n = LLVMFuzzerMutate(reinterpret_cast<std::uint8_t*>(buf.data()), s.size(), cap);
      buf.resize(n);
      s.swap(buf);
      break;
    }
  }
}

inline std::size_t mutate_safetensors(std::uint8_t* data, std::size_t size, std::size_t max_size, unsigned int seed) {
  Rng rng(seed ? seed : 1);
  std::string json;
  std::string payload;
  std::uint64_t n = 0;
  for (int i = 0; i < 8 && i < static_cast<int>(size); ++i) n |= std::uint64_t{data[i]} << (8 * i);
  if (size >= 8 && n <= size - 8) {
    json.assign(reinterpret_cast<const char*>(data) + 8, n);
    payload.assign(reinterpret_cast<const char*>(data) + 8 + n, size - 8 - n);
  } else if (size >= 8) {
    json.assign(reinterpret_cast<const char*>(data) + 8, size - 8);
  } else {
    json = "{}";
  }
  if (max_size <= 16) return size;

  for (unsigned i = 0, edits = 1 + static_cast<unsigned>(rng() % 3); i < edits; ++i) mutate_json(json, rng, max_size - 8);
  if (json.size() > max_size - 8) json.resize(max_size - 8);

  // The data buffer: usually exactly what the offsets ask for (filled with a
  // pattern), sometimes left alone so truncation and trailing bytes stay covered.
  if (rng() % 4 != 0) {
    std::uint64_t want = wanted_data_size(json);
    payload.resize(std::min<std::uint64_t>(want, max_size - 8 - json.size()));
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 37 + 11);
  }
  if (payload.size() > max_size - 8 - json.size()) payload.resize(max_size - 8 - json.size());

  std::uint64_t prefix = json.size();
  if (rng() % 32 == 0) prefix += rng() % 2 ? 1 : ~std::uint64_t{0};  // a lying length, now and then
  for (int i = 0; i < 8; ++i) data[i] = static_cast<std::uint8_t>(prefix >> (8 * i));
  std::memcpy(data + 8, json.data(), json.size());
  std::memcpy(data + 8 + json.size(), payload.data(), payload.size());
  const std::size_t out = 8 + json.size() + payload.size();
  FUZZ_CHECK(out <= max_size);
  return out;
}

}  // namespace sft::fuzz
