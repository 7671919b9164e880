// src/remote/url.hpp — the URLs sft fetches, parsed and checked (internal, no curl).
//
// Only absolute http:// and https:// URLs are accepted, with a host, an
// optional port and a path (plus query); a fragment is dropped (it never
// reaches a server). Refused with remote_url:
//   * any other scheme, or a relative reference where an absolute URL is needed;
//   * user information (user:pass@host): credentials in a URL end up in logs,
//     shell histories and error messages; tokens go in RemoteOptions::token;
//   * control characters, spaces, or a malformed host or port.
// Plain http is refused unless RemoteOptions::allow_http or the host is a
// loopback name (localhost, 127.0.0.0/8, ::1), and a bearer token is never
// sent over it (see remote_client.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sft/result.hpp"

namespace sft::detail {

struct Url {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // lower case; an IPv6 literal keeps its brackets: "[::1]"
  std::uint16_t port = 0;  // explicit or the scheme's default
  std::string target;  // path and query, starting with '/'

  bool https() const noexcept { return scheme == "https"; }
  bool loopback() const noexcept;
  // scheme://host[:port]/target, the port only when not the default.
  std::string text() const;
  // The same with the query replaced by "?..." so that signed URLs (a CDN's
  // X-Amz-Signature, a token in a query) never reach an error message or a log.
  std::string redacted() const;
  // host:port, what the token rule and connection reuse compare.
  std::string authority() const;
};

// True when `s` starts with http:// or https:// (scheme in any case): what
// File::open and Checkpoint::open take for a URL rather than a path.
bool looks_like_url(std::string_view s) noexcept;

// sft::redact_url: user information as "***", the query as "?...", no fragment.
std::string redact_text(std::string_view s);

// Parse an absolute http(s) URL (see the rules above).
Result<Url> parse_url(std::string_view text);

// A Location header's value resolved against the URL it answered: absolute,
// scheme-relative ("//host/path"), absolute-path ("/path") or relative
// ("file", "../file") references. The result is checked by parse_url.
Result<Url> resolve_location(const Url& base, std::string_view location);

// May sft fetch `url` under these rules (scheme / loopback / allow_http)?
// remote_url naming the URL when not.
Result<void> check_scheme(const Url& url, bool allow_http);

// The URL of shard `name` of the index at `index`: the index's directory
// (its path up to the last '/', query dropped) plus `name` percent-encoded,
// after shard_name_problem(name) accepted it (shard_path otherwise). The
// name cannot leave the directory (it holds no '/', and '%', '?', '#' are
// encoded) nor change the host.
Result<Url> shard_url(const Url& index, std::string_view name);

// Every byte outside A-Z a-z 0-9 - . _ ~ as %XX (upper-case hex).
std::string percent_encode(std::string_view s);

}  // namespace sft::detail
