// Embedded digests: parsing the "sft.xxh3_128" metadata value and verifying tensors against it.
#include <algorithm>
#include <string>

#include "header/json_syntax.hpp"
#include "sft/digest.hpp"
#include "sft/file.hpp"
#include "core/utf8.hpp"

namespace sft {

namespace {

Error bad(std::string what, std::uint64_t at, std::string tensor = {}) {
  return Error(Errc::bad_digest, "metadata \"sft.xxh3_128\": " + what, at, std::move(tensor));
}

}  // namespace

Result<DigestTable> DigestTable::parse(std::string_view value) {
  const char* p = value.data();
  const std::size_t n = value.size();
  if (!detail::is_valid_utf8(p, n)) return bad("not valid UTF-8", 0);
  if (auto r = detail::check_json_syntax(p, n, 2, 0); !r)
    return bad("not a flat JSON object: " + r.error().message, r.error().offset);
  // The syntax is valid from here on: the walk only has to check the shape.
  std::size_t i = 0;
  auto ws = [&] {
    while (i < n && detail::is_json_ws(p[i])) ++i;
  };
  ws();
  if (p[i] != '{') return bad("not a JSON object", i);
  ++i;
  ws();
  DigestTable t;
  if (p[i] == '}') return t;
  for (;;) {
    Entry e;
    i = detail::unescape_json_string(p, n, i, e.name);
    ws();
    ++i;  // ':'
    ws();
    if (p[i] != '"') return bad("the digest of a tensor is not a string", i, e.name);
    std::string hex;
    const std::size_t value_at = i;
    i = detail::unescape_json_string(p, n, i, hex);
    auto d = Digest128::from_hex(hex);
    if (!d) return bad("the digest of a tensor is not 32 hex digits", value_at, e.name);
    e.digest = *d;
    t.entries_.push_back(std::move(e));
    ws();
    if (p[i] == '}') break;
    ++i;  // ','
    ws();
  }
  std::sort(t.entries_.begin(), t.entries_.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  for (std::size_t k = 1; k < t.entries_.size(); ++k)
    if (t.entries_[k].name == t.entries_[k - 1].name)
      return bad("a tensor is listed twice", Error::no_offset, t.entries_[k].name);
  return t;
}

Result<DigestTable> DigestTable::of(const Header& header) {
  const std::string* v = header.metadata_value(digest_metadata_key);
  if (!v) return Error(Errc::no_digest, "the file carries no digests (no \"sft.xxh3_128\" metadata)");
  return parse(*v);
}

const Digest128* DigestTable::find(std::string_view name) const noexcept {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                             [](const Entry& e, std::string_view n) { return e.name < n; });
  return it != entries_.end() && it->name == name ? &it->digest : nullptr;
}

Result<VerifyReport> check_digests(const File& file, const HashOptions& options) {
  auto table = DigestTable::of(file.header());
  SFT_TRY(table);
  auto hashes = hash_tensors(file, options);
  SFT_TRY(hashes);
  VerifyReport rep;
  for (const TensorDigest& h : *hashes) {
    const Digest128* want = table->find(h.name);
    if (!want) {
      rep.unlisted.emplace_back(h.name);
      continue;
    }
    ++rep.checked;
    if (*want != h.digest) rep.mismatched.emplace_back(h.name);
  }
  for (const auto& e : table->entries())
    if (!file.header().find(e.name)) rep.absent.push_back(e.name);
  return rep;
}

Result<void> verify(const File& file, const HashOptions& options) {
  auto rep = check_digests(file, options);
  SFT_TRY(rep);
  if (!rep->mismatched.empty())
    return Error(Errc::digest_mismatch,
                 std::to_string(rep->mismatched.size()) + " tensor(s) do not match their digests",
                 Error::no_offset, rep->mismatched.front());
  if (!rep->absent.empty())
    return Error(Errc::digest_mismatch, "a digest names a tensor the file does not hold", Error::no_offset,
                 rep->absent.front());
  if (!rep->unlisted.empty())
    return Error(Errc::no_digest, std::to_string(rep->unlisted.size()) + " tensor(s) have no digest",
                 Error::no_offset, rep->unlisted.front());
  return {};
}

Result<void> verify(const File& file, const DigestTable& table, std::string_view name) {
  const TensorInfo* info = file.header().find(name);
  if (!info) return Error(Errc::not_found, "no tensor of that name", Error::no_offset, std::string(name));
  const Digest128* want = table.find(name);
  if (!want) return Error(Errc::no_digest, "no digest recorded for this tensor", Error::no_offset, std::string(name));
  auto got = hash_tensor(file, *info);
  SFT_TRY(got);
  if (*got != *want)
    return Error(Errc::digest_mismatch, "XXH3-128 is " + got->hex() + ", the recorded digest is " + want->hex(),
                 Error::no_offset, std::string(name));
  return {};
}

Result<void> verify(const File& file, std::string_view name) {
  auto table = DigestTable::of(file.header());
  if (!table) {
    Error e = std::move(table).error();
    e.tensor = std::string(name);
    return e;
  }
  return verify(file, *table, name);
}

}  // namespace sft
