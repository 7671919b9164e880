// sft/remote.hpp — safetensors files read over HTTP(S) with range requests.
//
// File::open and Checkpoint::open take an http:// or https:// URL wherever
// they take a path (docs/remote.md). Opening fetches only the header: one
// ranged GET of RemoteOptions::first_request_bytes that usually holds the
// 8-byte length and the whole header, and a second one for the rest of the
// header when it is longer; the header is then checked by exactly the rules
// of a local file (parse_header). Tensor reads are ranged GETs into the
// caller's buffer: neighbouring ranges are coalesced, large ones split into
// parts, and the parts fetched in parallel over a pool of connections
// (HTTP/2 multiplexing where the server offers it).
//
// What a remote read guarantees:
//   * every response is checked against its request: the status (206, or 200
//     only when the whole file was asked for and the size matches), the
//     Content-Range, the number of body bytes;
//   * the file's validator is pinned: the strong ETag of the first response
//     goes in If-Match on every later request (If-Unmodified-Since with its
//     Last-Modified when there is no strong ETag), and every response's
//     validator and size are compared with the pinned ones; a file replaced
//     on the server is remote_changed, never a mix of two files;
//   * transient failures (connection reset or refused, a body cut short, an
//     idle or request timeout, 408/425/429/5xx) are retried with capped
//     exponential backoff and jitter, honouring Retry-After up to a cap, at
//     most RetryPolicy::max_retries times per range; then an error naming the
//     URL and the byte range;
//   * a Content-Encoding other than identity is refused (sft asks for
//     identity and never decodes: a gzip body would be wrong bytes);
//   * total bytes fetched (max_bytes), redirects per request (max_redirects)
//     and the bytes of every response are bounded; a header's buffer grows
//     with the bytes that really arrive, never from the length a server claims.
//
// Security rules (not options):
//   * TLS certificates and host names are always verified; ca_file replaces
//     the system's trust store, nothing turns verification off;
//   * only http and https, also on every redirect hop; plain http only with
//     allow_http or for a loopback host (localhost, 127.0.0.0/8, ::1);
//   * a URL with credentials in it (user:pass@host) is refused;
//   * the bearer token (token, or HF_TOKEN from the environment) is sent only
//     over https, only to the host (and port) of the URL as given, and is
//     dropped for good once a redirect leaves that host. sft follows redirects
//     itself so that this holds whatever libcurl's defaults are. The token is
//     never part of an error message; a URL's query (a CDN's signature) is
//     shown as "?...".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sft/result.hpp"

namespace sft {

// How transient failures are retried. A retry after a body was cut short asks
// only for the bytes still missing.
struct RetryPolicy {
  unsigned max_retries = 5;                 // per range, after the first attempt
  std::uint32_t initial_backoff_ms = 200;   // the first retry waits 100..200 ms
  std::uint32_t max_backoff_ms = 10'000;    // the window stops doubling here
  std::uint32_t max_retry_after_ms = 60'000;  // a server's Retry-After is honoured up to this
};

struct RemoteOptions {
  // Sent as "Authorization: Bearer TOKEN" under the rules above. When empty
  // and token_from_env is true, the environment variable HF_TOKEN is used.
  std::string token;
  bool token_from_env = true;
  // A PEM file of trusted certificates used instead of the system store
  // (a private CA, a test server).
  std::string ca_file;
  // Fetch plain http:// URLs of hosts other than loopback ones.
  bool allow_http = false;

  std::uint32_t connect_timeout_ms = 10'000;  // TCP + TLS handshake
  // A transfer that receives no byte for this long is abandoned (and retried).
  std::uint32_t idle_timeout_ms = 30'000;
  // A transfer slower than low_speed_bytes_per_s over low_speed_time_s is
  // abandoned (and retried): a server that trickles bytes forever.
  std::uint32_t low_speed_bytes_per_s = 1024;
  std::uint32_t low_speed_time_s = 60;
  // Upper bound on one request (one range part), 0 for none.
  std::uint32_t request_timeout_ms = 0;
  RetryPolicy retry{};

  // Bytes this file may fetch in all (bodies, over every request), 0 for no
  // limit: remote_too_large once reached.
  std::uint64_t max_bytes = 0;
  unsigned max_redirects = 10;  // per request; each hop's URL is checked again
  // Transfers in flight at once for one read (1..64).
  unsigned connections = 8;
  // Threads that drive the transfers of one large read (0: up to 4, one per
  // hardware thread), each with its own connections: receiving and TLS then
  // use several cores. A read of fewer than two parts per thread uses fewer.
  unsigned threads = 0;
  // Offer HTTP/2 over TLS and multiplex the transfers of a read over one
  // connection when the server accepts it.
  bool http2 = true;

  // The opening request: bytes [0, first_request_bytes) (at least 8). 64 KiB
  // holds most headers whole, and never fetches more than 64 KiB past a header.
  std::uint64_t first_request_bytes = 64 * 1024;
  // Reads larger than this are split into parts fetched in parallel.
  std::uint64_t part_bytes = 8 * 1024 * 1024;
  // Ranges of one read closer than this are fetched by one request, the
  // bytes between them discarded.
  std::uint64_t coalesce_gap_bytes = 256 * 1024;

  // Check each tensor read whole (File::read, or any read covering whole
  // tensors) against its embedded XXH3-128 digest (sft/digest.hpp) when the
  // file carries them: digest_mismatch otherwise. Partial reads are not checked.
  bool verify_digests = false;
};

// Counters of one remote file (File::remote_stats).
struct RemoteStats {
  std::uint64_t requests = 0;   // transfers started (redirect hops and retries included)
  std::uint64_t bytes = 0;      // body bytes received
  std::uint64_t retries = 0;    // transfers retried after a transient failure
  std::uint64_t redirects = 0;  // redirect hops followed
};

// True for the codes of failed remote reads (160..179: transport, server and
// URL problems), which say nothing about the file's format. Command-line
// tools report them as "unreadable", like io_error.
constexpr bool is_remote_error(Errc code) noexcept {
  return static_cast<int>(code) >= 160 && static_cast<int>(code) < 180;
}

// True for a string File::open / Checkpoint::open treat as a URL: it starts
// with http:// or https:// (scheme in any case).
bool is_url(std::string_view s) noexcept;

class File;

// What a File opened from a URL knows about its server side.
struct RemoteInfo {
  std::string url;            // as given (query shown as "?...")
  std::string effective_url;  // where the opening request's redirects led (query shown as "?...")
  std::uint64_t size = 0;     // bytes in the file
  std::string etag;           // the pinned strong ETag, or empty
  std::string last_modified;  // the Last-Modified of the first response, or empty
  RemoteStats stats;          // so far
};

// invalid_argument unless `file` was opened from a URL.
Result<RemoteInfo> remote_info(const File& file);

// The whole body of a small resource (an index.json) under the same rules as
// a remote file's reads (TLS, redirects, token, retries, timeouts): one GET
// answered with 200; remote_too_large beyond max_bytes.
Result<std::string> fetch_text(std::string_view url, const RemoteOptions& options, std::uint64_t max_bytes);

// `s` fit to be shown: for a URL, user information replaced by "***" and the
// query by "?..." (a CDN's signature, a token in a query), the fragment
// dropped; anything else unchanged.
std::string redact_url(std::string_view s);

// True when this sft was built with libcurl (SFT_WITH_CURL); otherwise every
// URL is refused with remote_unsupported.
bool remote_supported() noexcept;

// Set one option by name, for command lines and language bindings:
//   token, ca_file                        strings
//   allow_http, token_from_env, http2,
//   verify_digests                        true/false/1/0
//   connect_timeout_ms, idle_timeout_ms, request_timeout_ms, low_speed_bytes_per_s,
//   low_speed_time_s, max_retries, initial_backoff_ms, max_backoff_ms,
//   max_retry_after_ms, max_redirects, connections, threads   unsigned integers
//   max_bytes, first_request_bytes, part_bytes, coalesce_gap_bytes   unsigned 64-bit integers
// invalid_argument for an unknown key or a value out of its range.
Result<void> set_remote_option(RemoteOptions& options, std::string_view key, std::string_view value);

// Apply a comma-separated list "key=value,key=value" with set_remote_option.
Result<void> set_remote_options(RemoteOptions& options, std::string_view list);

}  // namespace sft
