// src/remote/remote_client.hpp — ranged GETs of one remote file over libcurl (internal).
//
// A RemoteClient is bound to one URL. open() sends the first request, learns
// the file's size from the Content-Range, pins its validator (ETag or
// Last-Modified) and remembers where redirects led; fetch() then reads any set
// of byte ranges, all of them or an error, in parallel. Every rule of
// sft/remote.hpp (response checks, validator, retries, redirects, token,
// bounds) is enforced here; nothing above this layer talks HTTP.
//
// Thread safety: fetch() may be called from several threads at once. Each call
// borrows a transfer engine (a curl multi handle with its connections) from a
// pool and gives it back, so connections are reused across calls but never
// shared by two threads; DNS answers and TLS sessions are shared by all.
//
// No curl type appears here: the library is built without libcurl when
// SFT_WITH_CURL is off, and then create() returns remote_unsupported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "remote/url.hpp"
#include "sft/remote.hpp"
#include "sft/result.hpp"

namespace sft::detail {

// Where the bytes of one range go: file bytes [offset, offset + size) to dst.
struct RangePiece {
  std::uint64_t offset = 0;
  std::byte* dst = nullptr;
  std::size_t size = 0;
};

// One ranged GET: file bytes [begin, end), delivered to `pieces` (sorted by
// offset, inside the range, not overlapping); bytes no piece covers (the gap
// between two coalesced ranges) are discarded.
struct RangeRequest {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::vector<RangePiece> pieces;
};

// True when the library was built with libcurl.
bool remote_built_with_curl() noexcept;

class RemoteClient {
 public:
  // Check the URL against the rules (scheme, credentials, http) and prepare;
  // nothing is sent yet.
  static Result<std::unique_ptr<RemoteClient>> create(std::string_view url, const RemoteOptions& options);
  ~RemoteClient();
  RemoteClient(const RemoteClient&) = delete;
  RemoteClient& operator=(const RemoteClient&) = delete;

  // The opening request: bytes [0, out.size()) of a file of unknown size.
  // Learns the size, pins the validator and the final URL of the redirects.
  // Returns how many bytes arrived: out.size(), or the whole file when it is
  // shorter.
  Result<std::size_t> open(std::span<std::byte> out);

  // After open(): bytes [begin, begin + out.size()) appended to `out`, which
  // grows only as bytes arrive (a server claiming a large header and sending
  // little costs little memory).
  Result<void> fetch_growing(std::uint64_t begin, std::uint64_t size, std::vector<std::byte>& out);

  // After open(): every request, in parallel (RemoteOptions::connections at a
  // time). All succeed, or the first error is returned (the others are
  // cancelled; what they wrote to the pieces is unspecified).
  Result<void> fetch(std::span<const RangeRequest> requests);

  // A whole small resource (an index.json): a GET without Range, 200
  // expected, at most max_bytes (remote_too_large beyond). No validator.
  Result<std::string> get_whole(std::uint64_t max_bytes);

  std::uint64_t size() const noexcept;
  const Url& url() const noexcept;      // as given
  std::string effective_url() const;    // where the redirects of open() led (redacted)
  RemoteStats stats() const noexcept;
  const RemoteOptions& options() const noexcept;
  const std::string& etag() const noexcept;           // pinned by open(); empty without a strong ETag
  const std::string& last_modified() const noexcept;  // of open()'s response; may be empty

  struct State;  // defined in remote_client.cpp

 private:
  explicit RemoteClient(std::unique_ptr<State> state) noexcept;
  std::unique_ptr<State> s_;
};

}  // namespace sft::detail
