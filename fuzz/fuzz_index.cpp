// fuzz/fuzz_index.cpp — the sharded checkpoint index (model.safetensors.index.json).
//
// The index is untrusted JSON like the header. Checked: errors are bad_index or
// duplicate_key with an offset inside the input; an accepted index maps each
// tensor name exactly once.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "checkpoint/checkpoint_index.hpp"
#include "fuzz_common.hpp"

using namespace sft;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto idx = detail::parse_index(json);
  if (!idx) {
    const Error& e = idx.error();
    FUZZ_CHECK(e.code == Errc::bad_index || e.code == Errc::duplicate_key);
    FUZZ_CHECK(!e.message.empty());
    FUZZ_CHECK(e.offset == Error::no_offset || e.offset <= size);
    return 0;
  }
  std::set<std::string_view> names;
  for (const auto& [tensor, shard] : idx->weight_map) FUZZ_CHECK(names.insert(tensor).second);
  return 0;
}
