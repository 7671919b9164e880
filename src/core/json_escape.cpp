#include "sft_internal/json_escape.hpp"

#include "core/utf8.hpp"

namespace sft::detail {

namespace {

// Escape a run of valid UTF-8: only ASCII bytes ever need escaping.
void append_valid(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  while (!s.empty()) {
    const std::size_t bad = find_invalid_utf8(reinterpret_cast<const unsigned char*>(s.data()), s.size());
    if (bad == utf8_ok) {
      append_valid(out, s);
      break;
    }
    append_valid(out, s.substr(0, bad));
    out += "\xEF\xBF\xBD";  // U+FFFD for the first byte of the invalid sequence
    s.remove_prefix(bad + 1);
  }
  out += '"';
}

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

}  // namespace sft::detail
