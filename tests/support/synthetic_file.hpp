// tests/support/synthetic_file.hpp — safetensors files built in memory for tests.
//
// Tensors are laid out in the order given (not the reference's order), so a
// test can put a 16-bit tensor at an odd offset or a zero-size tensor between
// two others. BF16 contents follow weights' usual statistics: normal(0, 0.02)
// rounded to bfloat16.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sft/dtype.hpp"

namespace sft::test {

struct SyntheticTensor {
  std::string name;
  DType dtype;
  std::vector<std::uint64_t> shape;
};

inline std::uint16_t to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);  // round to nearest even
  return static_cast<std::uint16_t>(u >> 16);
}

// Bytes of one tensor: BF16 weights ~ normal(0, 0.02); F32 likewise; other
// dtypes pseudo-random bytes.
inline std::vector<std::byte> synthetic_bytes(DType dt, std::uint64_t bytes, std::uint32_t seed) {
  std::vector<std::byte> out(static_cast<std::size_t>(bytes));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  if (dt == DType::BF16) {
    for (std::size_t i = 0; i + 1 < out.size(); i += 2) {
      std::uint16_t v = to_bf16(normal(rng));
      std::memcpy(out.data() + i, &v, 2);
    }
  } else if (dt == DType::F32) {
    for (std::size_t i = 0; i + 3 < out.size(); i += 4) {
      float v = normal(rng);
      std::memcpy(out.data() + i, &v, 4);
    }
  } else {
    for (auto& b : out) b = static_cast<std::byte>(rng() & 0xff);
  }
  return out;
}

// A whole file: header (padded with spaces to a multiple of 8) and data.
// Header-only and free of test dependencies: the benchmarks use it too.
inline std::vector<std::byte> synthetic_file(const std::vector<SyntheticTensor>& tensors,
                                             const std::string& metadata_json = {}, std::uint32_t seed = 1) {
  // Appends only: GCC 12 warns (-Wrestrict, a false positive) on
  // `"literal" + std::string` chains at -O3.
  std::string json = "{";
  if (!metadata_json.empty()) {
    json += "\"__metadata__\":";
    json += metadata_json;
  }
  std::string data;
  for (const auto& t : tensors) {
    std::uint64_t n = 1;
    for (auto d : t.shape) n *= d;
    const std::uint64_t bytes = n * bits(t.dtype) / 8;
    auto b = synthetic_bytes(t.dtype, bytes, seed++);
    if (json.size() > 1) json += ',';
    json += '"';
    json += t.name;
    json += "\":{\"dtype\":\"";
    json += name(t.dtype);
    json += "\",\"shape\":[";
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
      if (i) json += ',';
      json += std::to_string(t.shape[i]);
    }
    json += "],\"data_offsets\":[";
    json += std::to_string(data.size());
    json += ',';
    json += std::to_string(data.size() + bytes);
    json += "]}";
    data.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
  json += "}";
  while ((8 + json.size()) % 8) json += ' ';
  std::vector<std::byte> file(8 + json.size() + data.size());
  for (int i = 0; i < 8; ++i) file[static_cast<std::size_t>(i)] = static_cast<std::byte>((json.size() >> (8 * i)) & 0xff);
  std::memcpy(file.data() + 8, json.data(), json.size());
  if (!data.empty()) std::memcpy(file.data() + 8 + json.size(), data.data(), data.size());
  return file;
}

}  // namespace sft::test
