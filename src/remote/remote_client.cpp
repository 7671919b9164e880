// The HTTP side of remote files: ranged GETs over libcurl's multi interface,
// every response checked against its request (see sft/remote.hpp for the rules).
//
// Redirects are followed here, not by libcurl: each hop's URL is parsed and
// checked like the first (scheme, credentials, plain http), and the bearer
// token, a custom Authorization header that libcurl would forward to any host
// a redirect names, is added per request only while the chain of hops has
// stayed on the origin's host and port, and only over https.
#include "remote/remote_client.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "remote/http_parse.hpp"
#include "sft_internal/guard.hpp"

#if SFT_HAVE_CURL
#include <curl/curl.h>
#endif

namespace sft::detail {

bool remote_built_with_curl() noexcept {
#if SFT_HAVE_CURL
  return true;
#else
  return false;
#endif
}

#if !SFT_HAVE_CURL

struct RemoteClient::State {};
RemoteClient::RemoteClient(std::unique_ptr<State> state) noexcept : s_(std::move(state)) {}
RemoteClient::~RemoteClient() = default;
Result<std::unique_ptr<RemoteClient>> RemoteClient::create(std::string_view text, const RemoteOptions& options) {
  // The URL rules first, so that a refused URL gets the same error in every build.
  SFT_TRY_ASSIGN(Url url, parse_url(text));
  SFT_TRY(check_scheme(url, options.allow_http));
  return Error(Errc::remote_unsupported,
               "cannot fetch " + url.redacted() + ": this sft was built without libcurl (SFT_WITH_CURL)");
}
Result<std::size_t> RemoteClient::open(std::span<std::byte>) { return Error(Errc::remote_unsupported, "no libcurl"); }
Result<void> RemoteClient::fetch_growing(std::uint64_t, std::uint64_t, std::vector<std::byte>&) {
  return Error(Errc::remote_unsupported, "no libcurl");
}
Result<void> RemoteClient::fetch(std::span<const RangeRequest>) { return Error(Errc::remote_unsupported, "no libcurl"); }
Result<std::string> RemoteClient::get_whole(std::uint64_t) { return Error(Errc::remote_unsupported, "no libcurl"); }
std::uint64_t RemoteClient::size() const noexcept { return 0; }
const Url& RemoteClient::url() const noexcept {
  static const Url none;
  return none;
}
std::string RemoteClient::effective_url() const { return {}; }
RemoteStats RemoteClient::stats() const noexcept { return {}; }
const RemoteOptions& RemoteClient::options() const noexcept {
  static const RemoteOptions none;
  return none;
}
const std::string& RemoteClient::etag() const noexcept {
  static const std::string none;
  return none;
}
const std::string& RemoteClient::last_modified() const noexcept { return etag(); }

#else  // SFT_HAVE_CURL

namespace {

using Clock = std::chrono::steady_clock;

Result<void> global_init() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK)
    return Error(Errc::remote_connection, std::string("libcurl failed to initialise: ") + curl_easy_strerror(rc));
  return {};
}

// A transfer engine: a multi handle (which owns its connection cache) and
// the easy handles it has used, reused across calls by one thread at a time.
struct Engine {
  CURLM* multi = nullptr;
  std::vector<CURL*> idle;
  ~Engine() {
    for (CURL* e : idle) curl_easy_cleanup(e);
    if (multi) curl_multi_cleanup(multi);
  }
};

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto l = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (l(a[i]) != l(b[i])) return false;
  }
  return true;
}

std::string text_of(std::string_view header_value) {
  // A server's header value quoted in a message: printable ASCII only, bounded.
  std::string s;
  for (char c : header_value.substr(0, 200)) s += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (header_value.size() > 200) s += "...";
  return s;
}

double jitter_unit() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

enum class Mode { open, range, whole };
enum class Outcome { none, redirect, empty_file };

}  // namespace

struct RemoteClient::State {
  Url origin;
  RemoteOptions options;
  std::string token;  // resolved: the option, else HF_TOKEN
  CURLSH* share = nullptr;
  std::mutex share_locks[CURL_LOCK_DATA_LAST];

  std::mutex mutex;  // guards `engines`
  std::vector<std::unique_ptr<Engine>> engines;

  // Learned by the opening request, read-only afterwards.
  bool size_known = false;
  std::uint64_t size = 0;
  std::string etag;           // a strong ETag, pinned with If-Match
  std::string last_modified;  // pinned with If-Unmodified-Since when there is no strong ETag
  Url effective;              // where open()'s redirects led
  bool token_to_effective = true;

  std::atomic<std::uint64_t> requests{0}, bytes{0}, retries{0}, redirects{0};

  ~State() {
    engines.clear();
    if (share) curl_share_cleanup(share);
  }

  Engine* acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!engines.empty()) {
        Engine* e = engines.back().release();
        engines.pop_back();
        return e;
      }
    }
    auto e = std::make_unique<Engine>();
    e->multi = curl_multi_init();
    if (!e->multi) return nullptr;
    const long conns = static_cast<long>(options.connections);
    curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, conns);
    curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, options.http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING);
    return e.release();
  }
  void release(Engine* e) {
    std::unique_ptr<Engine> owned(e);
    std::lock_guard<std::mutex> lock(mutex);
    engines.push_back(std::move(owned));
  }
};

namespace {

using State = RemoteClient::State;

// One ranged GET (or the whole resource) as it makes its way through
// redirects and retries. Callbacks run on the thread driving the multi handle.
struct Job {
  State* s = nullptr;
  Mode mode = Mode::range;
  std::uint64_t begin = 0, end = 0;  // the range asked for (open: [0, n) of a file of unknown size)
  std::span<const RangePiece> pieces;
  std::vector<std::byte>* grow = nullptr;  // or append here
  std::string* text = nullptr;             // Mode::whole
  std::uint64_t limit = 0;                 // Mode::whole: at most this many bytes

  std::uint64_t cursor = 0;   // the next file byte wanted
  std::size_t piece = 0;      // first piece not yet filled
  Url url;                    // this hop
  bool token_ok = true;       // the chain of hops has stayed on the origin
  unsigned hops = 0;
  unsigned retries = 0;
  Clock::time_point not_before{};
  Clock::time_point last_progress{};

  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {};

  // The current response.
  int status = 0;
  std::string location, content_range, content_encoding, transfer_encoding, etag, last_modified, retry_after;
  std::optional<std::uint64_t> content_length;
  bool in_body = false;
  std::uint64_t body_end = 0;  // file offset one past the body's last byte
  Outcome outcome = Outcome::none;
  bool failed = false, fatal = false;
  Error error;
  std::optional<std::uint64_t> retry_after_ms;

  void reset_response() {
    status = 0;
    location.clear();
    content_range.clear();
    content_encoding.clear();
    transfer_encoding.clear();
    etag.clear();
    last_modified.clear();
    retry_after.clear();
    content_length.reset();
    in_body = false;
    body_end = 0;
    outcome = Outcome::none;
    failed = fatal = false;
    error = Error();
    retry_after_ms.reset();
  }

  std::string what() const {
    std::string w = "GET " + url.redacted();
    if (mode != Mode::whole) {
      w += " bytes " + std::to_string(begin) + "-";
      w += end > begin ? std::to_string(end - 1) : std::string("?");
    }
    return w;
  }
  Error make_error(Errc code, const std::string& why) const {
    return Error(code, what() + ": " + why, mode == Mode::whole ? Error::no_offset : cursor);
  }
  // Record a failure; false so that a callback can `return fail(...)` to abort the transfer.
  bool fail(Errc code, const std::string& why, bool is_fatal) {
    if (!failed) {
      failed = true;
      fatal = is_fatal;
      error = make_error(code, why);
    }
    return false;
  }

  std::string range_text() const {
    return "bytes " + std::to_string(cursor) + "-" + std::to_string(end - 1);
  }

  bool accept();
  bool end_of_headers();
  bool deliver(const char* data, std::size_t len);
};

bool Job::end_of_headers() {
  if (status >= 100 && status < 200) {  // an interim response; the real one follows
    reset_response();
    return true;
  }
  if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
    outcome = Outcome::redirect;
    return false;  // the body of a redirect is not wanted
  }
  if (status == 200 || status == 206) return accept();
  if (status == 412)
    return fail(Errc::remote_changed,
                "the file changed on the server (412 Precondition Failed: its ETag or Last-Modified no longer "
                "matches the one pinned when it was opened)",
                true);
  if (status == 416 && mode == Mode::open) {
    auto cr = parse_content_range(content_range);
    if (cr && !cr->satisfied && cr->total && *cr->total == 0) {
      // An empty file: nothing to read; the header rules will say header_too_small.
      s->size_known = true;
      s->size = 0;
      end = 0;
      outcome = Outcome::empty_file;
      return false;  // the 416's body is not wanted
    }
  }
  std::string why = "the server answered " + std::to_string(status);
  if (retryable_status(status)) {
    if (!retry_after.empty()) retry_after_ms = parse_retry_after(retry_after, std::time(nullptr));
    return fail(Errc::remote_http, why + " (transient)", false);
  }
  if (status == 401 || status == 403) {
    why += status == 401 ? " (unauthorized)" : " (forbidden)";
    if (s->token.empty()) why += "; no token was given (RemoteOptions::token or HF_TOKEN)";
    else if (!url.https()) why += "; the token is never sent over plain http";
    else if (!token_ok) why += "; the token is not sent to a host a redirect led to";
  } else if (status == 404 || status == 410) {
    why += " (not found)";
  }
  return fail(Errc::remote_http, why, true);
}

bool Job::accept() {
  if (!content_encoding.empty() && !iequals(content_encoding, "identity"))
    return fail(Errc::remote_encoding,
                "the server sent Content-Encoding: " + text_of(content_encoding) +
                    " although identity was asked for; sft never decodes a body (the bytes would not be the file's)",
                true);
  if (!transfer_encoding.empty()) {
    // Only chunked framing (and identity) is acceptable: a compressed transfer coding would change the bytes.
    std::string_view te = transfer_encoding;
    while (!te.empty()) {
      auto comma = te.find(',');
      std::string_view tok = te.substr(0, comma);
      while (!tok.empty() && tok.front() == ' ') tok.remove_prefix(1);
      while (!tok.empty() && tok.back() == ' ') tok.remove_suffix(1);
      if (!tok.empty() && !iequals(tok, "chunked") && !iequals(tok, "identity"))
        return fail(Errc::remote_encoding, "the server sent Transfer-Encoding: " + text_of(transfer_encoding), true);
      te = comma == std::string_view::npos ? std::string_view() : te.substr(comma + 1);
    }
  }

  if (mode == Mode::whole) {
    if (status != 200)
      return fail(Errc::remote_range, "the server answered 206 to a request without a Range", true);
    if (content_length && *content_length > limit)
      return fail(Errc::remote_too_large,
                  "the server sends " + std::to_string(*content_length) + " bytes, more than the limit of " +
                      std::to_string(limit),
                  true);
    text->clear();
    cursor = 0;
    body_end = content_length ? *content_length : ~std::uint64_t{0};
    in_body = true;
    return true;
  }

  const bool learning = !s->size_known;  // the opening request's first answer
  std::uint64_t total = 0;
  if (status == 206) {
    auto cr = parse_content_range(content_range);
    if (!cr || !cr->satisfied)
      return fail(Errc::remote_range,
                  content_range.empty() ? "206 without a Content-Range"
                                        : "206 with an unusable Content-Range: " + text_of(content_range),
                  true);
    if (!cr->total)
      return fail(Errc::remote_range,
                  "the Content-Range does not give the file's size: " + text_of(content_range), true);
    total = *cr->total;
    if (!learning && total != s->size)
      return fail(Errc::remote_changed,
                  "the file changed on the server: its size is now " + std::to_string(total) + " bytes, not " +
                      std::to_string(s->size),
                  true);
    const std::uint64_t want_last = std::min(end, total) - 1;  // total > 0 here: a 206 has a range
    if (cr->first != cursor || cr->last != want_last)
      return fail(Errc::remote_range,
                  "asked for " + range_text() + ", the server sent " + text_of(content_range), true);
    if (content_length && *content_length != cr->last - cr->first + 1)
      return fail(Errc::remote_range,
                  "Content-Length " + std::to_string(*content_length) + " disagrees with " + text_of(content_range),
                  true);
    body_end = cr->last + 1;
  } else {  // 200: the whole file, from byte 0
    if (!content_length)
      return fail(Errc::remote_range,
                  "the server answered a range request with 200 and no Content-Length: it ignores ranges", true);
    total = *content_length;
    if (learning) {
      if (total > end)
        return fail(Errc::remote_range,
                    "the server ignores range requests: it answered " + range_text() + " with the whole file (" +
                        std::to_string(total) + " bytes); sft reads only what it needs and refuses to download it",
                    true);
    } else if (cursor != 0 || end != s->size) {
      return fail(Errc::remote_range,
                  "the server answered " + range_text() + " with 200 (the whole file) instead of 206", true);
    } else if (total != s->size) {
      return fail(Errc::remote_changed,
                  "the file changed on the server: its size is now " + std::to_string(total) + " bytes, not " +
                      std::to_string(s->size),
                  true);
    }
    body_end = total;
  }

  if (learning) {
    s->size_known = true;
    s->size = total;
    end = std::min(end, total);
    if (is_strong_etag(etag)) s->etag = etag;
    s->last_modified = last_modified;
  } else {
    if (!s->etag.empty() && !etag.empty() && etag != s->etag)
      return fail(Errc::remote_changed,
                  "the file changed on the server: its ETag is now " + text_of(etag) + ", not " + text_of(s->etag),
                  true);
    if (!s->last_modified.empty() && !last_modified.empty() && last_modified != s->last_modified)
      return fail(Errc::remote_changed,
                  "the file changed on the server: Last-Modified is now " + text_of(last_modified) + ", not " +
                      text_of(s->last_modified),
                  true);
  }
  in_body = true;
  return true;
}

bool Job::deliver(const char* data, std::size_t len) {
  if (!in_body) return fail(Errc::remote_http, "a body where none was expected", true);
  if (len > body_end - cursor)
    return fail(Errc::remote_range,
                "the server sent more bytes than the " + std::to_string(body_end - begin) + " it declared", true);
  const std::uint64_t total = s->bytes.fetch_add(len, std::memory_order_relaxed) + len;
  if (s->options.max_bytes && total > s->options.max_bytes)
    return fail(Errc::remote_too_large,
                "more than max_bytes (" + std::to_string(s->options.max_bytes) + ") fetched from this file", true);
  const auto* src = reinterpret_cast<const std::byte*>(data);
  if (mode == Mode::whole) {
    if (text->size() + len > limit)
      return fail(Errc::remote_too_large, "the body exceeds the limit of " + std::to_string(limit) + " bytes", true);
    text->append(data, len);
  } else if (grow) {
    grow->insert(grow->end(), src, src + len);
  } else {
    const std::uint64_t lo = cursor, hi = cursor + len;
    while (piece < pieces.size() && pieces[piece].offset + pieces[piece].size <= lo) ++piece;
    for (std::size_t k = piece; k < pieces.size() && pieces[k].offset < hi; ++k) {
      const auto& p = pieces[k];
      const std::uint64_t a = std::max(lo, p.offset), b = std::min(hi, p.offset + p.size);
      if (a < b) std::memcpy(p.dst + (a - p.offset), src + (a - lo), static_cast<std::size_t>(b - a));
    }
  }
  cursor += len;
  return true;
}

std::size_t on_header_line(Job& j, char* data, std::size_t len);

// libcurl's callbacks: no exception may unwind through C code, so an
// allocation failure fails the transfer (out_of_memory) instead.
std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  Job& j = *static_cast<Job*>(user);
  try {
    return on_header_line(j, data, size * n);
  } catch (...) {
    j.failed = j.fatal = true;
    j.error = Error(Errc::out_of_memory, "out of memory while reading a response's headers");
    return 0;
  }
}

std::size_t on_header_line(Job& j, char* data, std::size_t len) {
  std::string_view line(data, len);
  j.last_progress = Clock::now();
  if (auto st = parse_status_line(line)) {
    j.reset_response();
    j.status = *st;
    return len;
  }
  if (line == "\r\n" || line == "\n") return j.end_of_headers() ? len : 0;
  std::string name, value;
  if (!split_header(line, name, value)) return len;
  if (value.size() > 16384) return j.fail(Errc::remote_http, "a response header longer than 16 KiB", true) ? len : 0;
  if (name == "location") j.location = value;
  else if (name == "content-range") j.content_range = value;
  else if (name == "content-encoding") j.content_encoding = value;
  else if (name == "transfer-encoding") j.transfer_encoding = value;
  else if (name == "etag") j.etag = value;
  else if (name == "last-modified") j.last_modified = value;
  else if (name == "retry-after") j.retry_after = value;
  else if (name == "content-length") {
    std::uint64_t v = 0;
    bool ok = !value.empty() && value.size() <= 20;
    for (char c : value) {
      if (c < '0' || c > '9') ok = false;
      else if (ok) v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (!ok) return j.fail(Errc::remote_http, "a malformed Content-Length: " + text_of(value), true) ? len : 0;
    j.content_length = v;
  }
  return len;
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  Job& j = *static_cast<Job*>(user);
  j.last_progress = Clock::now();
  try {
    return j.deliver(data, size * n) ? size * n : 0;
  } catch (...) {
    j.failed = j.fatal = true;
    j.error = Error(Errc::out_of_memory, "out of memory while receiving a body");
    return 0;
  }
}

// What a libcurl error means for the transfer: its code and whether it is retried.
void classify(Job& j, CURLcode rc) {
  std::string detail = j.errbuf[0] ? std::string(j.errbuf) : std::string(curl_easy_strerror(rc));
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      j.fail(Errc::remote_timeout, "timed out: " + detail, false);
      return;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      j.fail(Errc::remote_connection, detail, false);
      return;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
      j.fail(Errc::remote_tls, "TLS failed (certificates are always verified): " + detail, true);
      return;
    case CURLE_OUT_OF_MEMORY:
      j.fail(Errc::out_of_memory, "libcurl ran out of memory", true);
      return;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      j.fail(Errc::remote_url, detail, true);
      return;
    case CURLE_WEIRD_SERVER_REPLY:
      j.fail(Errc::remote_http, "a malformed response: " + detail, true);
      return;
    default:
      j.fail(Errc::remote_connection, detail, true);
      return;
  }
}

// Drives a set of jobs to completion on one engine.
class Runner {
 public:
  // At most max_active transfers at once; stops early once *cancel is set
  // (another runner of the same batch failed).
  Runner(State& s, Engine& e, unsigned max_active, const std::atomic<bool>& cancel)
      : s_(s), e_(e), max_active_(std::max(1u, max_active)), cancel_(cancel) {}

  Result<void> run(std::span<Job* const> jobs) {
    std::deque<Job*> waiting(jobs.begin(), jobs.end());
    std::size_t finished = 0;
    const std::size_t max_active = max_active_;
    std::optional<Error> failure;
    while (!failure && finished < jobs.size()) {
      if (cancel_.load(std::memory_order_relaxed)) {
        failure = Error(Errc::internal, "cancelled");
        break;
      }
      auto now = Clock::now();
      for (auto it = waiting.begin(); it != waiting.end() && active_.size() < max_active;) {
        if ((*it)->not_before > now) {
          ++it;
          continue;
        }
        if (auto r = start(**it); !r) {
          failure = std::move(r).error();
          break;
        }
        it = waiting.erase(it);
      }
      if (failure) break;
      int running = 0;
      curl_multi_perform(e_.multi, &running);
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(e_.multi, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        Job* j = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&j));
        const CURLcode rc = m->data.result;
        stop(*j);
        switch (finish(*j, rc)) {
          case Next::done: ++finished; break;
          case Next::again: waiting.push_back(j); break;
          case Next::failed: failure = j->error; break;
        }
        if (failure) break;
      }
      if (failure || finished == jobs.size()) break;
      // Transfers that went quiet: abandon and retry them.
      now = Clock::now();
      const auto idle = std::chrono::milliseconds(s_.options.idle_timeout_ms);
      for (std::size_t k = 0; k < active_.size() && !failure;) {
        Job* j = active_[k];
        if (now - j->last_progress < idle) {
          ++k;
          continue;
        }
        stop(*j);
        j->fail(Errc::remote_timeout, "no data for " + std::to_string(s_.options.idle_timeout_ms) + " ms", false);
        if (retry_or_fail(*j) == Next::again) waiting.push_back(j);
        else failure = j->error;
      }
      if (failure) break;
      // Wait for sockets, the next scheduled retry or the next idle check.
      auto wait = std::chrono::milliseconds(50);
      if (!waiting.empty() && active_.size() < max_active) {
        auto soonest = waiting.front()->not_before;
        for (Job* j : waiting) soonest = std::min(soonest, j->not_before);
        auto until = std::chrono::duration_cast<std::chrono::milliseconds>(soonest - now);
        wait = std::clamp(until, std::chrono::milliseconds(0), wait);
      }
      // With nothing running, curl_multi_poll simply sleeps for `wait`.
      if (wait.count() > 0) curl_multi_poll(e_.multi, nullptr, 0, static_cast<int>(wait.count()), nullptr);
    }
    while (!active_.empty()) stop(*active_.back());
    if (failure) return *failure;
    return {};
  }

 private:
  enum class Next { done, again, failed };

  Result<void> start(Job& j) {
    CURL* easy = nullptr;
    if (!e_.idle.empty()) {
      easy = e_.idle.back();
      e_.idle.pop_back();
      curl_easy_reset(easy);
    } else {
      easy = curl_easy_init();
    }
    if (!easy) return Error(Errc::out_of_memory, "libcurl could not create a transfer");
    j.easy = easy;
    j.reset_response();
    j.errbuf[0] = 0;
    j.piece = 0;
    const auto& o = s_.options;
    const std::string url = j.url.text();
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_SHARE, s_.share);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &j);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &j);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &j);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, j.errbuf);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!o.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, o.ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout_ms));
    if (o.request_timeout_ms) curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(o.request_timeout_ms));
    if (o.low_speed_bytes_per_s) {
      curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(o.low_speed_bytes_per_s));
      curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(o.low_speed_time_s));
    }
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, o.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    if (o.http2) curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
    // A large receive buffer: fewer callbacks and copies per byte (on loopback, 2 MiB read about
    // 40% faster than 512 KiB; bench/RESULTS-remote.md).
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 2L * 1024 * 1024);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "sft/0.1");

    curl_slist* h = nullptr;
    auto add = [&](const std::string& line) { h = curl_slist_append(h, line.c_str()); };
    if (j.mode != Mode::whole) {
      std::string range = "Range: bytes=" + std::to_string(j.cursor) + "-" + std::to_string(j.end - 1);
      add(range);
    }
    add("Accept-Encoding: identity");
    if (j.mode != Mode::whole && s_.size_known) {
      if (!s_.etag.empty()) add("If-Match: " + s_.etag);
      else if (!s_.last_modified.empty()) add("If-Unmodified-Since: " + s_.last_modified);
    }
    if (!s_.token.empty() && j.token_ok && j.url.https()) add("Authorization: Bearer " + s_.token);
    j.headers = h;
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);

    j.last_progress = Clock::now();
    s_.requests.fetch_add(1, std::memory_order_relaxed);
    if (curl_multi_add_handle(e_.multi, easy) != CURLM_OK) {
      stop_handle(j);
      return Error(Errc::internal, "libcurl refused a transfer");
    }
    active_.push_back(&j);
    return {};
  }

  // Remove the job's transfer from the engine (if running) and recycle its handle.
  void stop(Job& j) {
    auto it = std::find(active_.begin(), active_.end(), &j);
    if (it == active_.end()) return;
    active_.erase(it);
    curl_multi_remove_handle(e_.multi, j.easy);
    stop_handle(j);
  }
  void stop_handle(Job& j) {
    if (j.easy) e_.idle.push_back(j.easy);
    j.easy = nullptr;
    if (j.headers) curl_slist_free_all(j.headers);
    j.headers = nullptr;
  }

  Next finish(Job& j, CURLcode rc) {
    if (j.outcome == Outcome::redirect) return redirect(j);
    if (j.outcome == Outcome::empty_file) return Next::done;
    if (!j.failed && rc != CURLE_OK) classify(j, rc);
    if (!j.failed) {
      if (!j.in_body) j.fail(Errc::remote_connection, "the response ended before its headers did", false);
      else if (j.cursor < j.body_end && !(j.mode == Mode::whole && j.body_end == ~std::uint64_t{0}))
        j.fail(Errc::remote_connection,
               "the body ended after " + std::to_string(j.cursor - j.begin) + " of " +
                   std::to_string(j.body_end - j.begin) + " bytes",
               false);
    }
    if (!j.failed) return Next::done;
    return retry_or_fail(j);
  }

  Next retry_or_fail(Job& j) {
    if (j.fatal) return Next::failed;
    if (j.retries >= s_.options.retry.max_retries) {
      j.error.message += " (gave up after " + std::to_string(j.retries) + " retries)";
      return Next::failed;
    }
    ++j.retries;
    s_.retries.fetch_add(1, std::memory_order_relaxed);
    const auto delay = retry_delay_ms(s_.options.retry, j.retries, jitter_unit(), j.retry_after_ms);
    j.not_before = Clock::now() + std::chrono::milliseconds(delay);
    if (j.mode == Mode::whole) {
      j.text->clear();
      j.cursor = 0;
    }
    return Next::again;
  }

  Next redirect(Job& j) {
    s_.redirects.fetch_add(1, std::memory_order_relaxed);
    if (++j.hops > s_.options.max_redirects) {
      j.error = j.make_error(Errc::remote_redirect,
                             "more than " + std::to_string(s_.options.max_redirects) + " redirects (a redirect loop?)");
      return Next::failed;
    }
    auto next = resolve_location(j.url, j.location);
    if (!next) {
      j.error = j.make_error(Errc::remote_redirect, "a redirect to an unusable Location: " + next.error().message);
      return Next::failed;
    }
    if (auto ok = check_scheme(*next, s_.options.allow_http); !ok) {
      j.error = j.make_error(Errc::remote_redirect, "a redirect to a refused URL: " + ok.error().message);
      return Next::failed;
    }
    // Once a hop leaves the origin (another host, port or scheme), the token stays behind for good.
    if (next->authority() != s_.origin.authority() || next->scheme != s_.origin.scheme) j.token_ok = false;
    j.url = std::move(*next);
    j.not_before = Clock::now();
    return Next::again;
  }

  State& s_;
  Engine& e_;
  unsigned max_active_;
  const std::atomic<bool>& cancel_;
  std::vector<Job*> active_;
};

// Run jobs on an engine borrowed from the pool; given back afterwards.
// Run `jobs` on one engine borrowed from the pool (given back afterwards).
Result<void> run_on_engine(State& s, std::span<Job* const> jobs, unsigned max_active, std::atomic<bool>& cancel) {
  Engine* e = s.acquire();
  if (!e) return Error(Errc::out_of_memory, "libcurl could not create a transfer engine");
  Result<void> r = detail::guarded([&] { return Runner(s, *e, max_active, cancel).run(jobs); });
  s.release(e);
  if (!r) cancel.store(true, std::memory_order_relaxed);
  return r;
}

// A batch large enough is spread over several threads, each driving its own
// engine: receiving, TLS decryption and copying then use more than one core
// (one thread tops out well below what a loopback or a fast link delivers
// over TLS). A thread is worth starting for two parts or more; the transfers
// in flight stay RemoteOptions::connections in all.
Result<void> run_jobs(State& s, std::span<Job> jobs) {
  std::vector<Job*> all;
  all.reserve(jobs.size());
  std::uint64_t bytes = 0;
  for (auto& j : jobs) {
    all.push_back(&j);
    bytes += j.end > j.cursor ? j.end - j.cursor : 0;
  }
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  std::uint64_t threads = s.options.threads ? s.options.threads : std::min(hw, 4u);
  threads = std::min<std::uint64_t>({threads, jobs.size(), s.options.connections, bytes / (2 * s.options.part_bytes)});
  std::atomic<bool> cancel{false};
  if (threads <= 1) return run_on_engine(s, all, s.options.connections, cancel);

  // Jobs dealt round-robin, so that every thread works from the front of the batch.
  const auto n = static_cast<std::size_t>(threads);
  std::vector<std::vector<Job*>> groups(n);
  for (std::size_t i = 0; i < all.size(); ++i) groups[i % n].push_back(all[i]);
  const auto per_thread = static_cast<unsigned>((s.options.connections + n - 1) / n);
  std::vector<Result<void>> results(n);
  std::vector<std::thread> pool;
  pool.reserve(n - 1);
  std::size_t started = 1;
  for (; started < n; ++started) {
    try {
      // An exception on the thread (bad_alloc) becomes its Error, never std::terminate.
      pool.emplace_back([&, k = started] {
        results[k] = detail::guarded([&] { return run_on_engine(s, groups[k], per_thread, cancel); });
        if (!results[k]) cancel.store(true);
      });
    } catch (...) {
      break;  // out of threads: the ones running and this one share what is left
    }
  }
  for (std::size_t k = started; k < n; ++k) groups[0].insert(groups[0].end(), groups[k].begin(), groups[k].end());
  results[0] = run_on_engine(s, groups[0], per_thread, cancel);
  for (auto& t : pool) t.join();
  // The first real error; "cancelled" only says another runner failed first.
  for (std::size_t k = 0; k < started; ++k)
    if (!results[k] && results[k].error().message != "cancelled") return results[k];
  for (std::size_t k = 0; k < started; ++k)
    if (!results[k]) return results[k];
  return {};
}

void lock_share(CURL*, curl_lock_data data, curl_lock_access, void* user) {
  static_cast<State*>(user)->share_locks[data].lock();
}
void unlock_share(CURL*, curl_lock_data data, void* user) { static_cast<State*>(user)->share_locks[data].unlock(); }

}  // namespace

RemoteClient::RemoteClient(std::unique_ptr<State> state) noexcept : s_(std::move(state)) {}
RemoteClient::~RemoteClient() = default;

Result<std::unique_ptr<RemoteClient>> RemoteClient::create(std::string_view text, const RemoteOptions& options) {
  SFT_TRY_ASSIGN(Url url, parse_url(text));
  SFT_TRY(check_scheme(url, options.allow_http));
  if (options.connections < 1 || options.connections > 64)
    return Error(Errc::invalid_argument, "RemoteOptions::connections must be 1..64");
  if (options.first_request_bytes < 8)
    return Error(Errc::invalid_argument, "RemoteOptions::first_request_bytes must be at least 8");
  SFT_TRY(global_init());
  auto s = std::make_unique<State>();
  s->origin = url;
  s->effective = url;
  s->options = options;
  s->token = options.token;
  if (s->token.empty() && options.token_from_env)
    if (const char* env = std::getenv("HF_TOKEN")) s->token = env;
  for (char c : s->token)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return Error(Errc::invalid_argument, "the token holds a control character");
  s->share = curl_share_init();
  if (!s->share) return Error(Errc::out_of_memory, "libcurl could not create a share handle");
  curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, lock_share);
  curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, unlock_share);
  curl_share_setopt(s->share, CURLSHOPT_USERDATA, s.get());
  curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return std::unique_ptr<RemoteClient>(new RemoteClient(std::move(s)));
}

Result<std::size_t> RemoteClient::open(std::span<std::byte> out) {
  if (out.size() < 8) return Error(Errc::invalid_argument, "the opening request must ask for at least 8 bytes");
  const RangePiece piece{0, out.data(), out.size()};
  Job j;
  j.s = s_.get();
  j.mode = Mode::open;
  j.begin = 0;
  j.end = out.size();
  j.pieces = {&piece, 1};
  j.url = s_->origin;
  SFT_TRY(run_jobs(*s_, {&j, 1}));
  s_->effective = j.url;
  s_->token_to_effective = j.token_ok;
  return static_cast<std::size_t>(j.cursor);
}

Result<void> RemoteClient::fetch_growing(std::uint64_t begin, std::uint64_t size, std::vector<std::byte>& out) {
  if (!s_->size_known || begin > s_->size || size > s_->size - begin)
    return Error(Errc::invalid_argument, "a range outside the remote file");
  if (size == 0) return {};
  Job j;
  j.s = s_.get();
  j.mode = Mode::range;
  j.begin = j.cursor = begin;
  j.end = begin + size;
  j.grow = &out;
  j.url = s_->effective;
  j.token_ok = s_->token_to_effective;
  return run_jobs(*s_, {&j, 1});
}

Result<void> RemoteClient::fetch(std::span<const RangeRequest> requests) {
  std::vector<Job> jobs;
  jobs.reserve(requests.size());
  for (const auto& r : requests) {
    if (r.end <= r.begin) continue;
    if (!s_->size_known || r.end > s_->size) return Error(Errc::invalid_argument, "a range outside the remote file");
    Job& j = jobs.emplace_back();
    j.s = s_.get();
    j.mode = Mode::range;
    j.begin = j.cursor = r.begin;
    j.end = r.end;
    j.pieces = r.pieces;
    j.url = s_->effective;
    j.token_ok = s_->token_to_effective;
  }
  if (jobs.empty()) return {};
  return run_jobs(*s_, jobs);
}

Result<std::string> RemoteClient::get_whole(std::uint64_t max_bytes) {
  std::string text;
  Job j;
  j.s = s_.get();
  j.mode = Mode::whole;
  j.text = &text;
  j.limit = max_bytes;
  j.url = s_->origin;
  SFT_TRY(run_jobs(*s_, {&j, 1}));
  return text;
}

std::uint64_t RemoteClient::size() const noexcept { return s_->size; }
const Url& RemoteClient::url() const noexcept { return s_->origin; }
std::string RemoteClient::effective_url() const { return s_->effective.redacted(); }
const RemoteOptions& RemoteClient::options() const noexcept { return s_->options; }
const std::string& RemoteClient::etag() const noexcept { return s_->etag; }
const std::string& RemoteClient::last_modified() const noexcept { return s_->last_modified; }
RemoteStats RemoteClient::stats() const noexcept {
  RemoteStats st;
  st.requests = s_->requests.load(std::memory_order_relaxed);
  st.bytes = s_->bytes.load(std::memory_order_relaxed);
  st.retries = s_->retries.load(std::memory_order_relaxed);
  st.redirects = s_->redirects.load(std::memory_order_relaxed);
  return st;
}

#endif  // SFT_HAVE_CURL

}  // namespace sft::detail
