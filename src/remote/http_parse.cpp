#include "remote/http_parse.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace sft::detail {

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// Plain decimal digits only (no sign, no space), within 64 bits.
std::optional<std::uint64_t> decimal(std::string_view s) noexcept {
  if (s.empty() || s.size() > 20) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<int> parse_status_line(std::string_view line) noexcept {
  if (line.substr(0, 5) != "HTTP/") return std::nullopt;
  const auto sp = line.find(' ');
  if (sp == std::string_view::npos || line.size() < sp + 4) return std::nullopt;
  int code = 0;
  for (std::size_t i = sp + 1; i < sp + 4; ++i) {
    if (line[i] < '0' || line[i] > '9') return std::nullopt;
    code = code * 10 + (line[i] - '0');
  }
  if (line.size() > sp + 4 && line[sp + 4] != ' ' && line[sp + 4] != '\r' && line[sp + 4] != '\n') return std::nullopt;
  return code;
}

bool split_header(std::string_view line, std::string& name, std::string& value) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  name.clear();
  for (char c : line.substr(0, colon)) name += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  value = std::string(trim(line.substr(colon + 1)));
  return true;
}

std::optional<ContentRange> parse_content_range(std::string_view value) noexcept {
  value = trim(value);
  if (value.size() < 6 || value.substr(0, 6) != "bytes ") return std::nullopt;
  value = trim(value.substr(6));
  const auto slash = value.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view range = value.substr(0, slash), total = value.substr(slash + 1);
  ContentRange cr;
  if (total != "*") {
    cr.total = decimal(total);
    if (!cr.total) return std::nullopt;
  }
  if (range == "*") {
    if (!cr.total) return std::nullopt;  // "bytes */*" says nothing
    cr.satisfied = false;
    return cr;
  }
  const auto dash = range.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = decimal(range.substr(0, dash)), last = decimal(range.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  if (cr.total && *last >= *cr.total) return std::nullopt;
  cr.first = *first;
  cr.last = *last;
  return cr;
}

std::optional<std::time_t> parse_http_date(std::string_view v) noexcept {
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters).
  v = trim(v);
  if (v.size() != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' || v[19] != ':' ||
      v[22] != ':' || v[25] != ' ' || v.substr(26) != "GMT")
    return std::nullopt;
  static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int month = -1;
  for (int m = 0; m < 12; ++m)
    if (v.substr(8, 3) == months[m]) month = m;
  auto day = decimal(v.substr(5, 2)), year = decimal(v.substr(12, 4)), hh = decimal(v.substr(17, 2)),
       mm = decimal(v.substr(20, 2)), ss = decimal(v.substr(23, 2));
  if (month < 0 || !day || !year || !hh || !mm || !ss || *day < 1 || *day > 31 || *hh > 23 || *mm > 59 || *ss > 60)
    return std::nullopt;
  // Days from the civil date (Howard Hinnant's algorithm), no time zone involved.
  long long y = static_cast<long long>(*year) - (month < 2 ? 1 : 0);
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const long long yoe = y - era * 400;
  const long long mp = (month + 10) % 12;  // March = 0 (month is 0-based here)
  const long long doy = (153 * mp + 2) / 5 + static_cast<long long>(*day) - 1;
  const long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const long long days = era * 146097 + doe - 719468;
  return static_cast<std::time_t>(days * 86400 + static_cast<long long>(*hh) * 3600 +
                                  static_cast<long long>(*mm) * 60 + static_cast<long long>(*ss));
}

std::optional<std::uint64_t> parse_retry_after(std::string_view value, std::time_t now) noexcept {
  value = trim(value);
  if (auto secs = decimal(value)) {
    if (*secs > 1'000'000'000) return std::uint64_t{1'000'000'000} * 1000;
    return *secs * 1000;
  }
  if (auto when = parse_http_date(value)) {
    if (*when <= now) return 0;
    return static_cast<std::uint64_t>(*when - now) * 1000;
  }
  return std::nullopt;
}

bool is_strong_etag(std::string_view etag) noexcept {
  etag = trim(etag);
  return etag.size() >= 2 && etag.front() == '"' && etag.back() == '"';
}

std::uint64_t retry_delay_ms(const RetryPolicy& policy, unsigned retry, double unit,
                             std::optional<std::uint64_t> retry_after_ms) noexcept {
  std::uint64_t window = policy.initial_backoff_ms;
  for (unsigned i = 1; i < retry && window < policy.max_backoff_ms; ++i) window *= 2;
  window = std::min<std::uint64_t>(window, policy.max_backoff_ms);
  unit = std::clamp(unit, 0.0, 1.0);
  std::uint64_t delay = window / 2 + static_cast<std::uint64_t>(std::floor(static_cast<double>(window - window / 2) * unit));
  if (retry_after_ms) delay = std::max(delay, std::min<std::uint64_t>(*retry_after_ms, policy.max_retry_after_ms));
  return delay;
}

bool retryable_status(int status) noexcept {
  switch (status) {
    case 408: case 425: case 429: case 500: case 502: case 503: case 504: return true;
    default: return false;
  }
}

}  // namespace sft::detail
