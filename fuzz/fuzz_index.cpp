// fuzz/fuzz_index.cpp — the sharded checkpoint index (model.safetensors.index.json).
//
// The index is untrusted JSON like the header. Checked: errors are bad_index or
// duplicate_key with an offset inside the input; an accepted index maps each
// tensor name exactly once, to one of its distinct shards.
#include <cstddef>
#include <cstdint>
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
  // Tensors sorted and each once, one shard per tensor, shards sorted and
  // distinct, and every shard named first by a tensor that maps to it.
  FUZZ_CHECK(idx->tensor_shard.size() == idx->tensors.size());
  FUZZ_CHECK(idx->shard_first.size() == idx->shards.size());
  for (std::size_t i = 1; i < idx->tensors.size(); ++i) FUZZ_CHECK(idx->tensors[i - 1] < idx->tensors[i]);
  for (std::size_t i = 1; i < idx->shards.size(); ++i) FUZZ_CHECK(idx->shards[i - 1] < idx->shards[i]);
  for (std::uint32_t s : idx->tensor_shard) FUZZ_CHECK(s < idx->shards.size());
  for (std::size_t s = 0; s < idx->shards.size(); ++s)
    FUZZ_CHECK(idx->shard_first[s] < idx->tensors.size() && idx->tensor_shard[idx->shard_first[s]] == s);
  return 0;
}
