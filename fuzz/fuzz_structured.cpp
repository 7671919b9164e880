// fuzz/fuzz_structured.cpp — structure-aware fuzzing of the JSON header.
//
// LLVMFuzzerCustomMutator edits the header as JSON (json_mutator.hpp) and keeps
// the 8-byte length consistent; each input then gets fuzz_file's checks.
#include <cstddef>
#include <cstdint>

#include "file_checks.hpp"
#include "json_mutator.hpp"

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
  return sft::fuzz::mutate_safetensors(data, size, max_size, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sft::fuzz::check_file_bytes(data, size);
  return 0;
}
