// fuzz/fuzz_file.cpp — a whole file from memory: File::from_memory, then every
// tensor view, its typed access, copies and a few slices (file_checks.hpp).
#include <cstddef>
#include <cstdint>

#include "file_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sft::fuzz::check_file_bytes(data, size);
  return 0;
}
