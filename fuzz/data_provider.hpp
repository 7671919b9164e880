// fuzz/data_provider.hpp — the part of libFuzzer's FuzzedDataProvider that the
// targets use, for builds where clang's header is not installed. It decodes
// bytes in its own way (integers from the front, in little-endian order), so
// an input does not decode to the same values as under the LLVM header; the
// replay of a corpus still exercises every path of the target.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

class FuzzedDataProvider {
 public:
  FuzzedDataProvider(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}

  std::size_t remaining_bytes() const { return n_; }

  template <class T>
  T ConsumeIntegralInRange(T lo, T hi) {
    static_assert(std::is_integral_v<T>);
    if (lo >= hi) return lo;
    using U = std::make_unsigned_t<T>;
    const std::uint64_t span = static_cast<std::uint64_t>(static_cast<U>(hi) - static_cast<U>(lo));
    std::uint64_t v = 0;
    for (std::size_t used = 0; used < sizeof(T) && n_ > 0 && (span >> (8 * used)) != 0; ++used) {
      v |= std::uint64_t{*p_} << (8 * used);
      ++p_;
      --n_;
    }
    if (span != ~std::uint64_t{0}) v %= span + 1;
    return static_cast<T>(static_cast<U>(static_cast<U>(lo) + static_cast<U>(v)));
  }

  bool ConsumeBool() { return (ConsumeIntegralInRange<std::uint8_t>(0, 255) & 1) != 0; }

  // Up to max_length bytes; a backslash followed by anything but a backslash
  // ends the string (the convention libFuzzer's provider uses as well).
  std::string ConsumeRandomLengthString(std::size_t max_length) {
    std::string s;
    while (s.size() < max_length && n_ > 0) {
      char c = static_cast<char>(*p_++);
      --n_;
      if (c == '\\' && n_ > 0) {
        char d = static_cast<char>(*p_++);
        --n_;
        if (d != '\\') break;
      }
      s += c;
    }
    return s;
  }

  template <class T>
  std::vector<T> ConsumeBytes(std::size_t count) {
    static_assert(sizeof(T) == 1);
    count = std::min(count, n_);
    std::vector<T> out(count);
    for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<T>(p_[i]);
    p_ += count;
    n_ -= count;
    return out;
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};
