// RemoteOptions by name (sft/remote.hpp), for the CLI and the Python bindings.
#include <charconv>
#include <string>

#include "remote/remote_client.hpp"
#include "remote/url.hpp"
#include "sft_internal/guard.hpp"
#include "sft/remote.hpp"

namespace sft {

bool is_url(std::string_view s) noexcept { return detail::looks_like_url(s); }
bool remote_supported() noexcept { return detail::remote_built_with_curl(); }

std::string redact_url(std::string_view s) { return detail::redact_text(s); }

namespace {

Error bad_value(std::string_view key, std::string_view value, std::string_view want) {
  return Error(Errc::invalid_argument,
               "remote option " + std::string(key) + "=" + std::string(value) + ": expected " + std::string(want));
}

bool parse_u64(std::string_view s, std::uint64_t& v) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

namespace {

Result<void> set_option(RemoteOptions& o, std::string_view key, std::string_view value) {
  if (key == "token") {
    o.token = std::string(value);
    return {};
  }
  if (key == "ca_file") {
    o.ca_file = std::string(value);
    return {};
  }
  bool* flag = key == "allow_http"       ? &o.allow_http
               : key == "token_from_env" ? &o.token_from_env
               : key == "http2"          ? &o.http2
               : key == "verify_digests" ? &o.verify_digests
                                         : nullptr;
  if (flag) {
    if (value == "true" || value == "1") *flag = true;
    else if (value == "false" || value == "0") *flag = false;
    else return bad_value(key, value, "true, false, 1 or 0");
    return {};
  }
  struct U32 { std::string_view name; std::uint32_t* field; std::uint64_t min, max; };
  unsigned* connections = &o.connections;
  unsigned* redirects = &o.max_redirects;
  unsigned* retries = &o.retry.max_retries;
  const U32 u32[] = {
      {"connect_timeout_ms", &o.connect_timeout_ms, 1, 3'600'000},
      {"idle_timeout_ms", &o.idle_timeout_ms, 1, 3'600'000},
      {"request_timeout_ms", &o.request_timeout_ms, 0, 86'400'000},
      {"low_speed_bytes_per_s", &o.low_speed_bytes_per_s, 0, 1u << 30},
      {"low_speed_time_s", &o.low_speed_time_s, 1, 86'400},
      {"initial_backoff_ms", &o.retry.initial_backoff_ms, 0, 3'600'000},
      {"max_backoff_ms", &o.retry.max_backoff_ms, 0, 3'600'000},
      {"max_retry_after_ms", &o.retry.max_retry_after_ms, 0, 3'600'000},
  };
  std::uint64_t v = 0;
  for (const auto& f : u32) {
    if (key != f.name) continue;
    if (!parse_u64(value, v) || v < f.min || v > f.max)
      return bad_value(key, value, "an integer from " + std::to_string(f.min) + " to " + std::to_string(f.max));
    *f.field = static_cast<std::uint32_t>(v);
    return {};
  }
  struct Uns { std::string_view name; unsigned* field; std::uint64_t min, max; };
  const Uns uns[] = {{"connections", connections, 1, 64}, {"max_redirects", redirects, 0, 100},
                     {"max_retries", retries, 0, 100}, {"threads", &o.threads, 0, 64}};
  for (const auto& f : uns) {
    if (key != f.name) continue;
    if (!parse_u64(value, v) || v < f.min || v > f.max)
      return bad_value(key, value, "an integer from " + std::to_string(f.min) + " to " + std::to_string(f.max));
    *f.field = static_cast<unsigned>(v);
    return {};
  }
  struct U64 { std::string_view name; std::uint64_t* field; std::uint64_t min; };
  const U64 u64[] = {{"max_bytes", &o.max_bytes, 0},
                     {"first_request_bytes", &o.first_request_bytes, 8},
                     {"part_bytes", &o.part_bytes, 4096},
                     {"coalesce_gap_bytes", &o.coalesce_gap_bytes, 0}};
  for (const auto& f : u64) {
    if (key != f.name) continue;
    if (!parse_u64(value, v) || v < f.min)
      return bad_value(key, value, "an integer of at least " + std::to_string(f.min));
    *f.field = v;
    return {};
  }
  return Error(Errc::invalid_argument, "unknown remote option \"" + std::string(key) + "\" (docs/remote.md lists them)");
}

}  // namespace

Result<std::string> fetch_text(std::string_view url, const RemoteOptions& options, std::uint64_t max_bytes) {
  return detail::guarded([&]() -> Result<std::string> {
    SFT_TRY_ASSIGN(auto client, detail::RemoteClient::create(url, options));
    return client->get_whole(max_bytes);
  });
}

Result<void> set_remote_option(RemoteOptions& options, std::string_view key, std::string_view value) {
  return detail::guarded([&] { return set_option(options, key, value); });
}

Result<void> set_remote_options(RemoteOptions& options, std::string_view list) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos)
      return Error(Errc::invalid_argument, "remote option \"" + std::string(item) + "\" is not KEY=VALUE");
    SFT_TRY(set_remote_option(options, item.substr(0, eq), item.substr(eq + 1)));
  }
  return {};
}

}  // namespace sft
