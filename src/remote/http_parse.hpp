// src/remote/http_parse.hpp — the pieces of HTTP responses sft checks (internal, no curl).
//
// Kept apart from the transfer code so that every rule is unit-tested
// without a server (tests/remote_unit_test.cpp).
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "sft/remote.hpp"

namespace sft::detail {

// "HTTP/1.1 206 Partial Content", "HTTP/2 200": the status code, or nullopt
// when the line is not a status line.
std::optional<int> parse_status_line(std::string_view line) noexcept;

// One "Name: value" header line: the name lower-cased, the value without the
// surrounding whitespace and line end. False for a line without a colon.
bool split_header(std::string_view line, std::string& name, std::string& value);

// Content-Range of a 206 ("bytes FIRST-LAST/TOTAL", TOTAL possibly "*") or of
// a 416 ("bytes */TOTAL"). nullopt when malformed (not "bytes", LAST < FIRST,
// a number that is not plain decimal digits or overflows 64 bits).
struct ContentRange {
  bool satisfied = true;       // false for "bytes */TOTAL"
  std::uint64_t first = 0;     // inclusive
  std::uint64_t last = 0;      // inclusive
  std::optional<std::uint64_t> total;
};
std::optional<ContentRange> parse_content_range(std::string_view value) noexcept;

// Retry-After: delta-seconds, or an HTTP-date (IMF-fixdate, e.g.
// "Sun, 06 Nov 1994 08:49:37 GMT") taken relative to `now`. Milliseconds to
// wait (0 for a date in the past), or nullopt when unparseable.
std::optional<std::uint64_t> parse_retry_after(std::string_view value, std::time_t now) noexcept;

// An HTTP-date (IMF-fixdate) as seconds since the epoch.
std::optional<std::time_t> parse_http_date(std::string_view value) noexcept;

// A strong entity tag ("abc"), the only kind If-Match can compare: weak ones
// (W/"abc") never match under If-Match's strong comparison.
bool is_strong_etag(std::string_view etag) noexcept;

// The wait before retry number `retry` (1 for the first retry): capped
// exponential backoff, initial * 2^(retry-1) up to max_backoff_ms, with
// "equal jitter" (the upper half of that window chosen by `unit`, a number in
// [0, 1)), then raised to a server's Retry-After (ms, capped by
// max_retry_after_ms) when one was given.
std::uint64_t retry_delay_ms(const RetryPolicy& policy, unsigned retry, double unit,
                             std::optional<std::uint64_t> retry_after_ms) noexcept;

// Transient statuses retried with backoff: 408, 425, 429, 500, 502, 503, 504.
bool retryable_status(int status) noexcept;

}  // namespace sft::detail
