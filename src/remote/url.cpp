#include "remote/url.hpp"

#include <charconv>
#include <vector>

#include "sft/checkpoint_writer.hpp"

namespace sft::detail {

namespace {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_nocase(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower(s[i]) != prefix[i]) return false;
  return true;
}

// A URL quoted in a message: control bytes escaped, at most 300 bytes.
std::string quote_for_message(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string r = "\"";
  for (std::size_t i = 0; i < s.size() && i < 300; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      r += "\\x";
      r += hex[c >> 4];
      r += hex[c & 15];
    } else {
      r += static_cast<char>(c);
    }
  }
  if (s.size() > 300) r += "...";
  return r + "\"";
}

Error bad_url(std::string_view text, std::string why) {
  return Error(Errc::remote_url, "cannot fetch " + quote_for_message(redact_text(text)) + ": " + std::move(why));
}

bool unreserved(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// RFC 3986 section 5.2.4: "a/b/../c" -> "a/c", "./" removed. Works on the
// path only (the caller splits the query off).
std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  const bool absolute = !path.empty() && path[0] == '/';
  if (absolute) i = 1;
  bool trailing = false;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view seg = path.substr(i, j - i);
    trailing = false;
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
      trailing = true;
    } else if (seg == ".") {
      trailing = true;
    } else {
      out.push_back(seg);
    }
    i = j + 1;
  }
  std::string r = absolute ? "/" : "";
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (k) r += '/';
    r += out[k];
  }
  if (trailing && (r.empty() || r.back() != '/')) r += '/';
  return r;
}

}  // namespace

bool Url::loopback() const noexcept {
  if (host == "localhost" || host == "[::1]") return true;
  // 127.0.0.0/8 as a dotted quad of decimal numbers.
  std::string_view h = host;
  if (h.substr(0, 4) != "127.") return false;
  int parts = 0;
  std::size_t i = 0;
  while (i <= h.size()) {
    std::size_t j = h.find('.', i);
    if (j == std::string_view::npos) j = h.size();
    if (j == i || j - i > 3) return false;
    unsigned v = 0;
    for (std::size_t k = i; k < j; ++k) {
      if (h[k] < '0' || h[k] > '9') return false;
      v = v * 10 + static_cast<unsigned>(h[k] - '0');
    }
    if (v > 255) return false;
    ++parts;
    i = j + 1;
  }
  return parts == 4;
}

std::string Url::authority() const { return host + ":" + std::to_string(port); }

std::string Url::text() const {
  const bool default_port = (https() && port == 443) || (!https() && port == 80);
  std::string t = scheme;
  t += "://";
  t += host;
  if (!default_port) {
    t += ':';
    t += std::to_string(port);
  }
  t += target;
  return t;
}

std::string Url::redacted() const {
  std::string t = text();
  if (auto q = t.find('?'); q != std::string::npos) t.replace(q, std::string::npos, "?...");
  return t;
}

bool looks_like_url(std::string_view s) noexcept {
  return starts_with_nocase(s, "http://") || starts_with_nocase(s, "https://");
}

std::string redact_text(std::string_view s) {
  if (!looks_like_url(s)) return std::string(s);
  const std::size_t start = s.find("://") + 3;
  std::size_t auth_end = s.find_first_of("/?#", start);
  if (auth_end == std::string_view::npos) auth_end = s.size();
  std::string out(s.substr(0, start));
  const std::string_view authority = s.substr(start, auth_end - start);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    out += "***";
    out += authority.substr(at);
  } else {
    out += authority;
  }
  std::string_view rest = s.substr(auth_end);
  rest = rest.substr(0, rest.find('#'));
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    out += rest.substr(0, q);
    out += "?...";
  } else {
    out += rest;
  }
  return out;
}

Result<Url> parse_url(std::string_view text) {
  Url u;
  std::string_view rest;
  if (starts_with_nocase(text, "https://")) {
    u.scheme = "https";
    u.port = 443;
    rest = text.substr(8);
  } else if (starts_with_nocase(text, "http://")) {
    u.scheme = "http";
    u.port = 80;
    rest = text.substr(7);
  } else {
    const auto colon = text.find(':');
    if (colon != std::string_view::npos && colon > 0 && text.find('/') > colon)
      return bad_url(text, "only http:// and https:// URLs are fetched, not " + std::string(text.substr(0, colon)) + ":");
    return bad_url(text, "not an absolute http:// or https:// URL");
  }
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return bad_url(text, "the URL holds a control character");

  const std::size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos)
    return Error(Errc::remote_url,
                 "cannot fetch a URL with credentials in it (user:password@host): they would end up in logs and "
                 "messages; give a token with RemoteOptions::token or HF_TOKEN instead");
  std::string_view host, port;
  if (!authority.empty() && authority[0] == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad_url(text, "an IPv6 host without its closing ']'");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad_url(text, "unexpected characters after the IPv6 host");
      port = after.substr(1);
    }
    for (char c : host.substr(1, host.size() - 2))
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
        return bad_url(text, "a malformed IPv6 host");
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    for (char c : host)
      if (!(unreserved(static_cast<unsigned char>(c)) ))
        return bad_url(text, "the host holds a character that is not allowed in a host name");
  }
  if (host.empty() || host == "[]") return bad_url(text, "the URL names no host");
  for (char c : host) u.host += lower(c);
  if (!port.empty() || (authority.size() > host.size() && authority.back() == ':')) {
    unsigned v = 0;
    auto r = std::from_chars(port.data(), port.data() + port.size(), v);
    if (port.empty() || r.ec != std::errc() || r.ptr != port.data() + port.size() || v == 0 || v > 65535)
      return bad_url(text, "the port is not a number from 1 to 65535");
    u.port = static_cast<std::uint16_t>(v);
  }

  if (auto hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (tail.empty() || tail[0] == '?') u.target = "/";
  // Spaces and non-ASCII bytes are percent-encoded; everything else is sent as given.
  static constexpr char hex[] = "0123456789ABCDEF";
  for (unsigned char c : tail) {
    if (c == ' ' || c >= 0x80) {
      u.target += '%';
      u.target += hex[c >> 4];
      u.target += hex[c & 15];
    } else {
      u.target += static_cast<char>(c);
    }
  }
  return u;
}

Result<Url> resolve_location(const Url& base, std::string_view location) {
  // Trim the optional whitespace a header value may carry.
  while (!location.empty() && (location.front() == ' ' || location.front() == '\t')) location.remove_prefix(1);
  while (!location.empty() && (location.back() == ' ' || location.back() == '\t')) location.remove_suffix(1);
  if (location.empty()) return Error(Errc::remote_redirect, "a redirect without a Location");
  // A scheme: letters, digits, + - . before the first ':' that precedes any '/', '?' or '#'.
  const auto colon = location.find(':');
  if (colon != std::string_view::npos && colon < location.find_first_of("/?#")) {
    bool scheme = colon > 0;
    for (std::size_t i = 0; i < colon; ++i) {
      const char c = location[i];
      scheme &= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && ((c >= '0' && c <= '9') || c == '+' ||
                                                                                 c == '-' || c == '.'));
    }
    if (scheme) return parse_url(location);
  }
  if (location.size() >= 2 && location[0] == '/' && location[1] == '/')
    return parse_url(base.scheme + ":" + std::string(location));

  Url u = base;
  std::string_view path = location, query;
  if (auto q = location.find_first_of("?#"); q != std::string_view::npos) {
    path = location.substr(0, q);
    query = location.substr(q);
  }
  std::string base_path = base.target.substr(0, base.target.find('?'));
  std::string merged;
  if (path.empty()) merged = base_path;
  else if (path[0] == '/') merged = std::string(path);
  else merged = base_path.substr(0, base_path.rfind('/') + 1) + std::string(path);
  // Re-parse the whole URL so that the target gets the same checks and encoding.
  const std::string authority = u.host + ":" + std::to_string(u.port);
  return parse_url(u.scheme + "://" + authority + remove_dot_segments(merged) + std::string(query));
}

Result<void> check_scheme(const Url& url, bool allow_http) {
  if (url.https() || allow_http || url.loopback()) return {};
  return Error(Errc::remote_url, "plain http is refused for " + url.redacted() +
                                     " (not a loopback host): use https, or allow http explicitly "
                                     "(RemoteOptions::allow_http, sft --allow-http)");
}

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string r;
  r.reserve(s.size());
  for (unsigned char c : s) {
    if (unreserved(c)) {
      r += static_cast<char>(c);
    } else {
      r += '%';
      r += hex[c >> 4];
      r += hex[c & 15];
    }
  }
  return r;
}

Result<Url> shard_url(const Url& index, std::string_view name) {
  if (auto why = shard_name_problem(name); !why.empty())
    return Error(Errc::shard_path, why + ": \"" + std::string(name) + "\"");
  Url u = index;
  std::string path = index.target.substr(0, index.target.find('?'));
  u.target = path.substr(0, path.rfind('/') + 1) + percent_encode(name);
  return u;
}

}  // namespace sft::detail
