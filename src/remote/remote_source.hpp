// src/remote/remote_source.hpp — a File's bytes fetched over HTTP(S) (internal).
//
// The "remote" ByteSource (src/io/byte_source.hpp): File reads through it
// like through any other source, and its read_ranges() turns a batch into
// few, parallel requests.
//
// open() fetches the header with at most two range requests (the first one,
// of RemoteOptions::first_request_bytes, usually holds the 8-byte length and
// the whole header) and parses it with parse_header, exactly as a local file.
// The bytes of that first response stay cached: reads inside them cost no
// request (a small file is read entirely by its first request). Other reads go
// to the server: a batch is planned into coalesced, split range requests
// (range_plan.hpp) fetched in parallel (remote_client.hpp), straight into the
// caller's buffers.
//
// With RemoteOptions::verify_digests, every tensor that a read covers whole
// is hashed and compared with the file's embedded XXH3-128 digest
// (sft/digest.hpp) before the read returns: digest_mismatch naming the tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/byte_source.hpp"
#include "remote/remote_client.hpp"
#include "sft/digest.hpp"
#include "sft/file.hpp"
#include "sft/header.hpp"
#include "sft/limits.hpp"
#include "sft/remote.hpp"
#include "sft/result.hpp"

namespace sft::detail {

class RemoteSource final : public ByteSource {
 public:
  struct Opened;
  // Fetch and validate the header of the file at `url`. A compressed
  // checkpoint (recognised by its first bytes) comes without a header, for
  // CompressedSource to read through this source; compressed_unsupported
  // unless allow_compressed.
  static Result<Opened> open(std::string_view url, const RemoteOptions& options, const Limits& limits,
                             bool allow_compressed = true);

  std::string_view kind() const noexcept override { return "remote"; }
  std::uint64_t size() const noexcept override { return size_; }
  // invalid_argument for a range outside [0, size()).
  Result<void> read(std::uint64_t offset, std::span<std::byte> out) const override;
  // One batch: coalesced, split and fetched in parallel (see above).
  Result<void> read_ranges(std::span<const ReadRange> reads) const override;

  RemoteInfo info() const;
  const std::string& url() const noexcept { return url_; }  // redacted: safe in messages
  // The bytes of the first response (at least the whole header).
  std::span<const std::byte> head() const noexcept { return head_; }

 private:
  RemoteSource() = default;
  Result<void> verify(std::span<const ReadRange> reads) const;

  std::unique_ptr<RemoteClient> client_;
  std::string url_;
  std::uint64_t size_ = 0;
  std::vector<std::byte> head_;
  struct Expected {
    std::uint64_t begin = 0, end = 0;  // file offsets of the tensor's bytes
    Digest128 digest;
    std::string name;
  };
  std::vector<Expected> digests_;  // sorted by begin; empty unless verify_digests and the file has digests
};

struct RemoteSource::Opened {
  std::unique_ptr<RemoteSource> source;
  std::optional<Header> header;  // none for a compressed checkpoint
};

// File::open of a URL: the source above, handed to File (src/file/file_impl.hpp).
Result<File> open_remote_file(std::string_view url, const OpenOptions& options);

}  // namespace sft::detail
