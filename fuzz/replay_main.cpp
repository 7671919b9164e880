// fuzz/replay_main.cpp — a main() for fuzz targets built without libFuzzer.
//
// Runs LLVMFuzzerTestOneInput once over every regular file named on the
// command line or found (recursively, in sorted order) under a directory named
// there, so that a gcc build replays the seed corpus and every saved crash as a
// ctest test. A target that crashes, trips a sanitizer or aborts fails the test;
// the name of the input is printed first so the culprit is known.
//
// Arguments starting with '-' are libFuzzer flags and ignored, except
// -mutate=N: additionally apply the target's LLVMFuzzerCustomMutator N times
// (seeded, deterministic) starting from the inputs, running each result.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));
extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) __attribute__((weak));

namespace {

// libFuzzer's own byte-level mutator, which custom mutators may call. Without
// libFuzzer a crude stand-in: flip, insert or erase one byte.
std::uint64_t g_state = 0x9e3779b97f4a7c15ull;
std::uint64_t next_random() {
  g_state ^= g_state << 13;
  g_state ^= g_state >> 7;
  g_state ^= g_state << 17;
  return g_state;
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return {c.begin(), c.end()};
}

void run_one(const std::string& label, const std::vector<std::uint8_t>& bytes) {
  std::fprintf(stderr, "replay: %s (%zu bytes)\n", label.c_str(), bytes.size());
  // An exact-size heap copy, so ASan sees any read past the end of the input.
  auto* copy = static_cast<std::uint8_t*>(std::malloc(bytes.empty() ? 1 : bytes.size()));
  if (!bytes.empty()) std::memcpy(copy, bytes.data(), bytes.size());
  LLVMFuzzerTestOneInput(copy, bytes.size());
  std::free(copy);
}

}  // namespace

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size) {
  std::uint64_t r = next_random();
  switch (r % 3) {
    case 0:
      if (size > 0) data[(r >> 8) % size] ^= static_cast<std::uint8_t>(1u << ((r >> 40) % 8));
      return size;
    case 1:
      if (size < max_size) {
        std::size_t at = size == 0 ? 0 : (r >> 8) % (size + 1);
        std::memmove(data + at + 1, data + at, size - at);
        data[at] = static_cast<std::uint8_t>(r >> 48);
        return size + 1;
      }
      return size;
    default:
      if (size > 0) {
        std::size_t at = (r >> 8) % size;
        std::memmove(data + at, data + at + 1, size - at - 1);
        return size - 1;
      }
      return size;
  }
}

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  long mutate_runs = 0;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.rfind("-mutate=", 0) == 0) {
      mutate_runs = std::strtol(argv[i] + 8, nullptr, 10);
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;  // a libFuzzer flag
    std::filesystem::path p(a);
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::filesystem::path> found;
      for (auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file()) found.push_back(e.path());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
      return 2;
    }
  }

  std::vector<std::vector<std::uint8_t>> inputs;
  for (const auto& f : files) {
    inputs.push_back(read_file(f));
    run_one(f.string(), inputs.back());
  }
  std::fprintf(stderr, "replay: %zu inputs ran\n", files.size());

  if (mutate_runs > 0) {
    if (!LLVMFuzzerCustomMutator) {
      std::fprintf(stderr, "replay: -mutate given but the target has no custom mutator\n");
      return 2;
    }
    if (inputs.empty()) inputs.emplace_back();
    constexpr std::size_t max_size = 1 << 16;
    std::vector<std::uint8_t> buf(max_size);
    for (long i = 0; i < mutate_runs; ++i) {
      const auto& seed = inputs[static_cast<std::size_t>(i) % inputs.size()];
      std::size_t n = std::min(seed.size(), max_size);
      std::copy_n(seed.begin(), n, buf.begin());
      // Several mutations in a row, as libFuzzer stacks them.
      int depth = 1 + static_cast<int>(next_random() % 4);
      for (int d = 0; d < depth; ++d)
        n = LLVMFuzzerCustomMutator(buf.data(), n, max_size, static_cast<unsigned>(next_random()));
      if (n > max_size) {
        std::fprintf(stderr, "replay: custom mutator returned %zu > max_size\n", n);
        std::abort();
      }
      run_one("mutant " + std::to_string(i), std::vector<std::uint8_t>(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n)));
    }
    std::fprintf(stderr, "replay: %ld mutants ran\n", mutate_runs);
  }
  return 0;
}
