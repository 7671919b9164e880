// tests/support/require.hpp — what the test command requires to be present.
//
// A test that cannot run here (a GPU backend with no device, the shared
// fixtures absent) skips and says why: a developer's machine may lack them.
// scripts/test.sh (and so CI) states what must be present, so that a missing
// OpenCL runtime or an unmounted fixtures directory fails the run instead of
// quietly turning tests into skips:
//   SFT_REQUIRE_BACKENDS=cpu,opencl   these backends must open
//   SFT_REQUIRE_FIXTURES=1            ../shared/fixtures must be there
// Header-only, for the GoogleTest suites and the small test drivers alike.
#pragma once

#include <cstdlib>
#include <string_view>

namespace sft::test {

// True when `backend` is listed in SFT_REQUIRE_BACKENDS (comma-separated).
inline bool backend_required(std::string_view backend) {
  const char* env = std::getenv("SFT_REQUIRE_BACKENDS");
  std::string_view list = env ? env : "";
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == backend) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// True when SFT_REQUIRE_FIXTURES=1.
inline bool fixtures_required() {
  const char* env = std::getenv("SFT_REQUIRE_FIXTURES");
  return env && std::string_view(env) == "1";
}

}  // namespace sft::test

// In a GoogleTest body: when `present` is false, skip with `why`, or fail if
// the fixtures are required.
#define SFT_FIXTURES_OR_SKIP(present, why)                                                     \
  do {                                                                                         \
    if (!(present)) {                                                                          \
      if (::sft::test::fixtures_required())                                                    \
        GTEST_FAIL() << why << " (SFT_REQUIRE_FIXTURES=1: the shared fixtures must be present)"; \
      GTEST_SKIP() << why;                                                                     \
    }                                                                                          \
  } while (0)
