// sft/digest.hpp — XXH3-128 digests of tensors and files, embedded and verified.
//
// Hashing. xxh3_128() and Xxh3Hasher compute XXH3-128 (xxHash 0.8, seed 0);
// hash_tensor / hash_tensors / hash_file / hash_all apply it to a File's
// tensors (each tensor's bytes exactly) and to the whole file. They work in
// every File mode; for a compressed checkpoint "the whole file" means the
// decompressed safetensors file, so a checkpoint and its compressed form hash
// alike. hash_tensors hashes independent tensors on several threads.
//
// Embedding. A file can carry its tensors' digests in `__metadata__` under the
// reserved key "sft.xxh3_128" (digest_metadata_key). Its value is a JSON
// object, written compactly as a string: tensor name -> 32 lower-case hex
// digits, e.g.
//     "__metadata__": {"sft.xxh3_128": "{\"w\":\"0f3c...\",\"b\":\"91aa...\"}"}
// Metadata values must be strings, so the file stays an ordinary safetensors
// file that every reader accepts; `json.loads(metadata["sft.xxh3_128"])` reads
// the digests back in Python. Digests are keyed by name, not by position, so
// they survive tools that reorder tensors and keep metadata. They cover tensor
// bytes, not the header: a header edit that still validates (a renamed or
// reshaped tensor of the same size) is not caught.
//
// Verification is lazy: nothing is hashed when a File is opened; verify(file)
// hashes every tensor, verify(file, name) only that one. Errors:
// digest_mismatch (bytes differ from their digest, or a digest names a tensor
// the file lacks), no_digest (no "sft.xxh3_128" key, or no digest for that
// tensor), bad_digest (the value is not a JSON object of 32-hex-digit strings,
// or names a tensor twice). The library never prints; `sft verify` reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sft/header.hpp"
#include "sft/result.hpp"

namespace sft {

class File;

// A 128-bit XXH3 digest. hex() is xxHash's canonical form (the high 64 bits,
// then the low 64 bits, big-endian): what `xxhsum -H2` / `xxh128sum` print.
struct Digest128 {
  std::uint64_t high = 0;
  std::uint64_t low = 0;

  std::string hex() const;
  // Exactly 32 hex digits (either case); nullopt otherwise.
  static std::optional<Digest128> from_hex(std::string_view hex) noexcept;
  friend bool operator==(const Digest128&, const Digest128&) = default;
};

// One-shot XXH3-128 of `bytes` (AVX2 where the CPU has it).
Digest128 xxh3_128(std::span<const std::byte> bytes) noexcept;

// Streaming XXH3-128: update() any number of times; the digest equals the
// one-shot digest of everything passed in. No allocation: the xxHash state
// lives inside the object (checked against xxhash.h when sft is built).
class Xxh3Hasher {
 public:
  Xxh3Hasher() noexcept;
  void reset() noexcept;
  void update(std::span<const std::byte> bytes) noexcept;
  Digest128 digest() const noexcept;

  static constexpr std::size_t state_bytes = 640;

 private:
  alignas(64) unsigned char state_[state_bytes];
};

struct HashOptions {
  // Threads for hash_tensors / hash_all / verify on mapped files; 0 = one
  // per hardware thread.
  unsigned threads = 0;
};

struct TensorDigest {
  std::string_view name;  // views the File's header
  Digest128 digest;
};

struct FileDigests {
  Digest128 file;                     // the whole file (decompressed, for a compressed checkpoint)
  std::vector<TensorDigest> tensors;  // in data order
};

// One tensor of `file` (info must come from file.header()).
Result<Digest128> hash_tensor(const File& file, const TensorInfo& info);
// Every tensor, in data order. A mapped file's tensors are hashed on
// options.threads threads; a pread-mode or compressed file is read (or
// decompressed, frames in parallel) once, in order.
Result<std::vector<TensorDigest>> hash_tensors(const File& file, const HashOptions& options = {});
// The whole file.
Result<Digest128> hash_file(const File& file);
// The whole file and every tensor. A mapped file of 8 MiB or more with
// threads > 1 hashes the file on one thread and the tensors on the others;
// otherwise (and always for pread-mode and compressed files, whose bytes are
// read or decompressed once) one pass feeds both hashes.
Result<FileDigests> hash_all(const File& file, const HashOptions& options = {});

// The reserved metadata key for embedded digests.
inline constexpr std::string_view digest_metadata_key = "sft.xxh3_128";

// The metadata value for `digests`: a compact JSON object, names escaped as
// the writer escapes them, in the order given.
std::string format_digest_metadata(std::span<const TensorDigest> digests);

// The digests embedded in a file, parsed.
class DigestTable {
 public:
  // Parse a "sft.xxh3_128" value; bad_digest (offset: byte within the value).
  static Result<DigestTable> parse(std::string_view value);
  // The table of `header`'s metadata; no_digest when the key is absent.
  static Result<DigestTable> of(const Header& header);

  // The digest recorded for `name`, or nullptr.
  const Digest128* find(std::string_view name) const noexcept;
  std::size_t size() const noexcept { return entries_.size(); }
  // Entries sorted by name bytes.
  struct Entry {
    std::string name;
    Digest128 digest;
  };
  const std::vector<Entry>& entries() const noexcept { return entries_; }

 private:
  std::vector<Entry> entries_;
};

// What verification found. Names are the raw tensor names.
struct VerifyReport {
  std::size_t checked = 0;              // tensors hashed and compared
  std::vector<std::string> mismatched;  // hash differs from the recorded digest
  std::vector<std::string> unlisted;    // tensors with no recorded digest
  std::vector<std::string> absent;      // digests of tensors the file does not hold
  bool ok() const noexcept { return mismatched.empty() && unlisted.empty() && absent.empty(); }
};

// Hash every tensor and compare; the report lists every problem. Errors only
// for what stops the check: no_digest, bad_digest, read errors.
Result<VerifyReport> check_digests(const File& file, const HashOptions& options = {});

// ok when every tensor matches its digest and every digest names a tensor;
// otherwise the first problem: digest_mismatch (naming the tensor), no_digest.
Result<void> verify(const File& file, const HashOptions& options = {});
// Only one tensor: not_found, no_digest (file or tensor), digest_mismatch.
// Parses the metadata each call; for many names, parse a DigestTable once.
Result<void> verify(const File& file, std::string_view name);
Result<void> verify(const File& file, const DigestTable& table, std::string_view name);

// Write a copy of `in` to `out` (atomically) whose metadata carries the
// digests of every tensor; any previous "sft.xxh3_128" entry is replaced and
// the other metadata kept. Tensors keep their order and bytes.
Result<void> embed_digests(const File& in, const std::filesystem::path& out, const HashOptions& options = {});

}  // namespace sft
