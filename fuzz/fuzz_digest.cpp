// fuzz/fuzz_digest.cpp — the embedded digest table ("sft.xxh3_128" metadata value).
//
// `sft verify` parses this value from files it distrusts. Checked: errors are
// bad_digest with an offset inside the value; an accepted table is sorted by
// name without repeats, find() returns each entry's digest, and the value sft
// itself would write for those digests parses back to the same table.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "sft/digest.hpp"

using namespace sft;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  auto t = DigestTable::parse(value);
  if (!t) {
    const Error& e = t.error();
    FUZZ_CHECK(e.code == Errc::bad_digest);
    FUZZ_CHECK(!e.message.empty());
    FUZZ_CHECK(e.offset == Error::no_offset || e.offset <= size);
    return 0;
  }
  const auto& entries = t->entries();
  std::vector<TensorDigest> digests;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i) FUZZ_CHECK(entries[i - 1].name < entries[i].name);
    const Digest128* d = t->find(entries[i].name);
    FUZZ_CHECK(d != nullptr && *d == entries[i].digest);
    FUZZ_CHECK(Digest128::from_hex(entries[i].digest.hex()) == entries[i].digest);
    digests.push_back({entries[i].name, entries[i].digest});
  }
  // Names are UTF-8 here (the value was), so sft's own spelling must parse back.
  const std::string again = format_digest_metadata(digests);
  auto back = DigestTable::parse(again);
  if (!back) {
    std::fprintf(stderr, "sft's own digest value rejected: %s\n", back.error().to_string().c_str());
    std::abort();
  }
  FUZZ_CHECK(back->size() == entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    FUZZ_CHECK(back->entries()[i].name == entries[i].name);
    FUZZ_CHECK(back->entries()[i].digest == entries[i].digest);
  }
  return 0;
}
