// The rules of remote files that need no server (src/remote/): URLs, redirect
// targets, shard URLs, HTTP response parsing, retry delays, range planning,
// options by name. Transfers against a real server and a fault-injecting
// proxy are tested by tests/remote/remote_tests.py (tests/remote.cmake).
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "expect.hpp"
#include "remote/http_parse.hpp"
#include "remote/range_plan.hpp"
#include "remote/url.hpp"
#include "sft/remote.hpp"

namespace {

using namespace sft;
using namespace sft::detail;
using sft::test::fails_with;
using sft::test::succeeds;

TEST(RemoteUrl, ParsesSchemeHostPortTarget) {
  auto u = parse_url("HTTPS://Example.COM:8443/a/b.safetensors?x=1#frag");
  ASSERT_TRUE(succeeds(u));
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/a/b.safetensors?x=1");
  EXPECT_EQ(u->text(), "https://example.com:8443/a/b.safetensors?x=1");
  EXPECT_EQ(u->redacted(), "https://example.com:8443/a/b.safetensors?...");

  auto d = parse_url("http://host");
  ASSERT_TRUE(succeeds(d));
  EXPECT_EQ(d->port, 80);
  EXPECT_EQ(d->target, "/");
  EXPECT_EQ(d->text(), "http://host/");

  auto v6 = parse_url("http://[::1]:9000/x");
  ASSERT_TRUE(succeeds(v6));
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_TRUE(v6->loopback());
}

TEST(RemoteUrl, EncodesSpacesAndNonAscii) {
  auto u = parse_url("https://h/a b/\xc3\xa9.safetensors");
  ASSERT_TRUE(succeeds(u));
  EXPECT_EQ(u->target, "/a%20b/%C3%A9.safetensors");
}

TEST(RemoteUrl, RefusesWhatItMustNotFetch) {
  EXPECT_TRUE(fails_with(parse_url("ftp://h/x"), Errc::remote_url));
  EXPECT_TRUE(fails_with(parse_url("file:///etc/passwd"), Errc::remote_url));
  EXPECT_TRUE(fails_with(parse_url("/local/path"), Errc::remote_url));
  EXPECT_TRUE(fails_with(parse_url("https://user:secret@h/x"), Errc::remote_url));
  EXPECT_TRUE(fails_with(parse_url("https://token@h/x"), Errc::remote_url));
  EXPECT_TRUE(fails_with(parse_url("https:///x"), Errc::remote_url));
  EXPECT_TRUE(fails_with(parse_url("https://h:0/x"), Errc::remote_url));
  EXPECT_TRUE(fails_with(parse_url("https://h:65536/x"), Errc::remote_url));
  EXPECT_TRUE(fails_with(parse_url("https://h:/x"), Errc::remote_url));
  EXPECT_TRUE(fails_with(parse_url("https://h:12a/x"), Errc::remote_url));
  EXPECT_TRUE(fails_with(parse_url("https://h/x\r\nInjected: 1"), Errc::remote_url));
  EXPECT_TRUE(fails_with(parse_url("https://h\x01/x"), Errc::remote_url));
  EXPECT_TRUE(fails_with(parse_url("https://[::1/x"), Errc::remote_url));
  // The refusal never repeats the password.
  auto cred = parse_url("https://user:hunter2@h/x");
  ASSERT_FALSE(cred);
  EXPECT_EQ(cred.error().message.find("hunter2"), std::string::npos);
}

TEST(RemoteUrl, RedactsCredentialsAndQueries) {
  EXPECT_EQ(redact_url("https://user:pw@h:1/a/b?X-Amz-Signature=abc#frag"), "https://***@h:1/a/b?...");
  EXPECT_EQ(redact_url("http://h/a"), "http://h/a");
  EXPECT_EQ(redact_url("http://h?x=1"), "http://h?...");
  EXPECT_EQ(redact_url("model.safetensors?x"), "model.safetensors?x");  // not a URL: unchanged
  auto bad = parse_url("https://h:99999/x?token=abc");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.find("token=abc"), std::string::npos) << bad.error().message;
}

TEST(RemoteUrl, Loopback) {
  for (const char* s : {"http://localhost/x", "http://127.0.0.1/x", "http://127.255.3.4:81/x", "http://[::1]/x"}) {
    auto u = parse_url(s);
    ASSERT_TRUE(succeeds(u)) << s;
    EXPECT_TRUE(u->loopback()) << s;
    EXPECT_TRUE(succeeds(check_scheme(*u, false))) << s;
  }
  for (const char* s : {"http://128.0.0.1/x", "http://127.0.0/x", "http://127.0.0.1.evil.com/x",
                        "http://localhost.evil.com/x", "http://1270.0.0.1/x", "http://127.0.0.256/x"}) {
    auto u = parse_url(s);
    ASSERT_TRUE(succeeds(u)) << s;
    EXPECT_FALSE(u->loopback()) << s;
    EXPECT_TRUE(fails_with(check_scheme(*u, false), Errc::remote_url)) << s;
    EXPECT_TRUE(succeeds(check_scheme(*u, true))) << s;
  }
  EXPECT_TRUE(succeeds(check_scheme(*parse_url("https://example.com/x"), false)));
}

TEST(RemoteUrl, ResolvesRedirectLocations) {
  auto base = *parse_url("https://hub.example/org/model/resolve/main/model.safetensors?download=1");
  auto abs = resolve_location(base, "https://cdn.example/blob/abc?sig=1");
  ASSERT_TRUE(succeeds(abs));
  EXPECT_EQ(abs->text(), "https://cdn.example/blob/abc?sig=1");
  EXPECT_EQ(resolve_location(base, "//cdn.example/x")->text(), "https://cdn.example/x");
  EXPECT_EQ(resolve_location(base, "/other/path")->text(), "https://hub.example/other/path");
  EXPECT_EQ(resolve_location(base, "sibling.safetensors")->text(),
            "https://hub.example/org/model/resolve/main/sibling.safetensors");
  EXPECT_EQ(resolve_location(base, "../../x")->text(), "https://hub.example/org/model/x");
  EXPECT_EQ(resolve_location(base, "../../../../../../x")->text(), "https://hub.example/x");
  EXPECT_EQ(resolve_location(base, "  /spaced  ")->text(), "https://hub.example/spaced");
  EXPECT_TRUE(fails_with(resolve_location(base, ""), Errc::remote_redirect));
  EXPECT_TRUE(fails_with(resolve_location(base, "ftp://h/x"), Errc::remote_url));
  EXPECT_TRUE(fails_with(resolve_location(base, "javascript:alert(1)"), Errc::remote_url));
  EXPECT_TRUE(fails_with(resolve_location(base, "https://u:p@cdn/x"), Errc::remote_url));
}

TEST(RemoteUrl, ShardUrlsStayInTheIndexDirectory) {
  auto index = *parse_url("https://h:8443/repo/resolve/main/model.safetensors.index.json?download=true");
  auto s = shard_url(index, "model-00001-of-00002.safetensors");
  ASSERT_TRUE(succeeds(s));
  EXPECT_EQ(s->text(), "https://h:8443/repo/resolve/main/model-00001-of-00002.safetensors");
  // Characters a server would decode or treat specially are encoded.
  EXPECT_EQ(shard_url(index, "a%2e%2e b?#.safetensors")->target,
            "/repo/resolve/main/a%252e%252e%20b%3F%23.safetensors");
  for (const char* bad : {"../x.safetensors", "/etc/x.safetensors", "a/b.safetensors", "..", "x.bin",
                          "c:x.safetensors", "a\\b.safetensors", ""})
    EXPECT_TRUE(fails_with(shard_url(index, bad), Errc::shard_path)) << bad;
}

TEST(RemoteHttp, StatusLines) {
  EXPECT_EQ(parse_status_line("HTTP/1.1 206 Partial Content\r\n"), 206);
  EXPECT_EQ(parse_status_line("HTTP/2 200 \r\n"), 200);
  EXPECT_EQ(parse_status_line("HTTP/2 416\r\n"), 416);
  EXPECT_FALSE(parse_status_line("Content-Length: 5\r\n"));
  EXPECT_FALSE(parse_status_line("HTTP/1.1 2x6 OK\r\n"));
  EXPECT_FALSE(parse_status_line("HTTP/1.1 2066 OK\r\n"));
}

TEST(RemoteHttp, HeaderLines) {
  std::string n, v;
  ASSERT_TRUE(split_header("ETag:  \"abc\" \r\n", n, v));
  EXPECT_EQ(n, "etag");
  EXPECT_EQ(v, "\"abc\"");
  EXPECT_FALSE(split_header("no colon here\r\n", n, v));
}

TEST(RemoteHttp, ContentRange) {
  auto a = parse_content_range("bytes 0-99/1000");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->satisfied);
  EXPECT_EQ(a->first, 0u);
  EXPECT_EQ(a->last, 99u);
  EXPECT_EQ(a->total, 1000u);
  auto unknown = parse_content_range("bytes 5-9/*");
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(unknown->total);
  auto empty = parse_content_range("bytes */0");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->satisfied);
  EXPECT_EQ(empty->total, 0u);
  auto big = parse_content_range("bytes 0-18446744073709551614/18446744073709551615");
  ASSERT_TRUE(big);
  for (const char* bad : {"", "bytes", "items 0-1/2", "bytes 9-5/10", "bytes 0-10/10", "bytes -1-5/10",
                          "bytes 0-5", "bytes */*", "bytes 0-5/1x", "bytes 0-18446744073709551616/1",
                          "bytes +1-5/10", "bytes 0 - 5/10"})
    EXPECT_FALSE(parse_content_range(bad)) << bad;
}

TEST(RemoteHttp, RetryAfter) {
  const std::time_t now = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), now);
  EXPECT_EQ(parse_retry_after("3", now), 3000u);
  EXPECT_EQ(parse_retry_after(" 0 ", now), 0u);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), 10000u);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:27 GMT", now), 0u);  // in the past
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now));  // obsolete forms are not read
}

TEST(RemoteHttp, StrongEtags) {
  EXPECT_TRUE(is_strong_etag("\"6b12dc0c-3cd20\""));
  EXPECT_FALSE(is_strong_etag("W/\"6b12dc0c-3cd20\""));
  EXPECT_FALSE(is_strong_etag("unquoted"));
  EXPECT_FALSE(is_strong_etag(""));
}

TEST(RemoteHttp, RetryDelaysAreCappedExponentialWithJitterAndHonourRetryAfter) {
  RetryPolicy p;
  p.initial_backoff_ms = 100;
  p.max_backoff_ms = 1000;
  p.max_retry_after_ms = 5000;
  // Equal jitter: the upper half of the window.
  EXPECT_EQ(retry_delay_ms(p, 1, 0.0, std::nullopt), 50u);
  EXPECT_EQ(retry_delay_ms(p, 1, 0.999999, std::nullopt), 99u);
  EXPECT_EQ(retry_delay_ms(p, 2, 0.0, std::nullopt), 100u);
  EXPECT_EQ(retry_delay_ms(p, 4, 0.0, std::nullopt), 400u);
  EXPECT_EQ(retry_delay_ms(p, 5, 0.0, std::nullopt), 500u);   // window capped at 1000
  EXPECT_EQ(retry_delay_ms(p, 60, 0.0, std::nullopt), 500u);  // no overflow however many retries
  EXPECT_EQ(retry_delay_ms(p, 1, 0.0, 2000), 2000u);          // Retry-After honoured
  EXPECT_EQ(retry_delay_ms(p, 1, 0.0, 60000), 5000u);         // ... up to its cap
  EXPECT_EQ(retry_delay_ms(p, 4, 0.0, 10), 400u);             // never below the backoff
  EXPECT_TRUE(retryable_status(503));
  EXPECT_TRUE(retryable_status(429));
  EXPECT_FALSE(retryable_status(404));
  EXPECT_FALSE(retryable_status(412));
}

TEST(RemoteRanges, CoalescesNeighboursAndSplitsLargeRanges) {
  std::vector<std::byte> buf(1000);
  std::vector<RangePiece> wants = {
      {500, buf.data() + 500, 100},  // given out of order
      {100, buf.data() + 100, 100},
      {210, buf.data() + 210, 50},   // 10-byte gap: coalesced
      {900, buf.data() + 900, 10},   // far: its own request
  };
  auto plan = plan_ranges(wants, 16, 1 << 20);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].begin, 100u);
  EXPECT_EQ(plan[0].end, 260u);
  ASSERT_EQ(plan[0].pieces.size(), 2u);
  EXPECT_EQ(plan[1].begin, 500u);
  EXPECT_EQ(plan[2].begin, 900u);

  auto split = plan_ranges(std::vector<RangePiece>{{0, buf.data(), 1000}}, 0, 300);
  ASSERT_EQ(split.size(), 4u);  // 250 bytes each
  std::uint64_t at = 0;
  for (const auto& r : split) {
    EXPECT_EQ(r.begin, at);
    EXPECT_LE(r.end - r.begin, 300u);
    ASSERT_EQ(r.pieces.size(), 1u);
    EXPECT_EQ(r.pieces[0].dst, buf.data() + r.begin);
    at = r.end;
  }
  EXPECT_EQ(at, 1000u);
}

TEST(RemoteRanges, EveryByteOfEveryReadIsCoveredExactlyOnce) {
  // Random reads, some overlapping, some empty: the plan's pieces cover each
  // read's bytes and nothing else.
  std::vector<std::byte> dst(1 << 16);
  std::vector<RangePiece> wants;
  std::uint64_t x = 12345;
  auto next = [&] { return x = x * 6364136223846793005ull + 1442695040888963407ull, x >> 33; };
  std::size_t at = 0;
  for (int i = 0; i < 200 && at < dst.size(); ++i) {
    const std::uint64_t off = next() % 100000;
    const std::size_t len = std::min<std::size_t>(next() % 700, dst.size() - at);
    wants.push_back({off, dst.data() + at, len});
    at += len;
  }
  auto plan = plan_ranges(wants, 64, 1000);
  std::vector<int> filled(dst.size(), 0);
  for (const auto& r : plan) {
    EXPECT_LE(r.end - r.begin, 1000u + 64u);
    for (const auto& p : r.pieces) {
      EXPECT_GE(p.offset, r.begin);
      EXPECT_LE(p.offset + p.size, r.end);
      for (std::size_t k = 0; k < p.size; ++k) ++filled[static_cast<std::size_t>(p.dst - dst.data()) + k];
      // The piece maps file offset to the same place as the read it came from.
      bool found = false;
      for (const auto& w : wants)
        if (p.dst >= w.dst && p.dst + p.size <= w.dst + w.size &&
            static_cast<std::uint64_t>(p.dst - w.dst) == p.offset - w.offset)
          found = true;
      EXPECT_TRUE(found);
    }
  }
  for (std::size_t i = 0; i < at; ++i) ASSERT_EQ(filled[i], 1) << "byte " << i;
}

TEST(RemoteOptionsByName, SetsAndRefuses) {
  RemoteOptions o;
  ASSERT_TRUE(succeeds(set_remote_options(o, "connections=4,allow_http=true,max_retries=0,part_bytes=65536,ca_file=/x.pem")));
  EXPECT_EQ(o.connections, 4u);
  EXPECT_TRUE(o.allow_http);
  EXPECT_EQ(o.retry.max_retries, 0u);
  EXPECT_EQ(o.part_bytes, 65536u);
  EXPECT_EQ(o.ca_file, "/x.pem");
  ASSERT_TRUE(succeeds(set_remote_option(o, "initial_backoff_ms", "5")));
  EXPECT_EQ(o.retry.initial_backoff_ms, 5u);
  EXPECT_TRUE(fails_with(set_remote_option(o, "connections", "0"), Errc::invalid_argument));
  EXPECT_TRUE(fails_with(set_remote_option(o, "connections", "65"), Errc::invalid_argument));
  EXPECT_TRUE(fails_with(set_remote_option(o, "first_request_bytes", "7"), Errc::invalid_argument));
  EXPECT_TRUE(fails_with(set_remote_option(o, "allow_http", "yes"), Errc::invalid_argument));
  EXPECT_TRUE(fails_with(set_remote_option(o, "verify_tls", "false"), Errc::invalid_argument));  // no such thing
  EXPECT_TRUE(fails_with(set_remote_options(o, "connections"), Errc::invalid_argument));
  EXPECT_TRUE(is_url("HTTPS://x/y"));
  EXPECT_TRUE(is_url("http://x"));
  EXPECT_FALSE(is_url("https:/x"));
  EXPECT_FALSE(is_url("model.safetensors"));
}

}  // namespace
