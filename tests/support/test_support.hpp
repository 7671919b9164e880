// tests/support/test_support.hpp — helpers shared by the unit tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace sft::test {

// Bytes of a file: 8-byte little-endian length of `json`, `json`, then `data`.
std::vector<std::byte> make_file(std::string_view json, std::string_view data = {});
std::vector<std::byte> make_file(std::string_view json, std::size_t data_bytes);
// Same with an explicit (possibly lying) length prefix.
std::vector<std::byte> make_file_with_length(std::uint64_t n, std::string_view json, std::string_view data = {});

std::vector<std::byte> read_all(const std::filesystem::path& p);
void write_all(const std::filesystem::path& p, const std::vector<std::byte>& bytes);

// A fresh, empty directory for one test (under SFT_TEST_TMP or the system temp dir).
std::filesystem::path temp_dir(std::string_view test_name);

std::filesystem::path fixtures_dir();          // ../shared/fixtures
std::string sha256_hex(const std::byte* p, std::size_t n);

}  // namespace sft::test
