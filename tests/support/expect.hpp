// tests/support/expect.hpp — GoogleTest predicates for sft::Result values.
//
// `EXPECT_TRUE(fails_with(r, Errc::x))` passes when r holds an error with code x
// and otherwise prints what came instead (the value, or the whole error line),
// so a failing test says exactly which rule was broken.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>

#include "sft/error.hpp"
#include "sft/result.hpp"

namespace sft {
// GoogleTest prints Errc values by name.
inline void PrintTo(Errc c, std::ostream* os) { *os << errc_name(c); }
}  // namespace sft

namespace sft::test {

template <class T>
::testing::AssertionResult succeeds(const Result<T>& r) {
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "rejected: " << r.error().to_string();
}

template <class T>
::testing::AssertionResult fails_with(const Result<T>& r, Errc code) {
  if (r.ok()) return ::testing::AssertionFailure() << "accepted, expected " << errc_name(code);
  if (r.error().code != code)
    return ::testing::AssertionFailure() << "got " << r.error().to_string() << ", expected " << errc_name(code);
  return ::testing::AssertionSuccess() << r.error().to_string();
}

// Like fails_with, for rules whose wording allows either of a few codes.
template <class T>
::testing::AssertionResult fails_with_one_of(const Result<T>& r, std::initializer_list<Errc> codes) {
  std::string want;
  for (Errc c : codes) want += std::string(want.empty() ? "" : " or ") + std::string(errc_name(c));
  if (r.ok()) return ::testing::AssertionFailure() << "accepted, expected " << want;
  for (Errc c : codes)
    if (r.error().code == c) return ::testing::AssertionSuccess() << r.error().to_string();
  return ::testing::AssertionFailure() << "got " << r.error().to_string() << ", expected " << want;
}

// The error's byte offset lies in [lo, hi].
template <class T>
::testing::AssertionResult offset_within(const Result<T>& r, std::uint64_t lo, std::uint64_t hi) {
  if (r.ok()) return ::testing::AssertionFailure() << "accepted, expected an error with an offset";
  auto off = r.error().offset;
  if (off == Error::no_offset)
    return ::testing::AssertionFailure() << "no offset in " << r.error().to_string() << ", expected one in ["
                                         << lo << ", " << hi << "]";
  if (off < lo || off > hi)
    return ::testing::AssertionFailure() << "offset " << off << " outside [" << lo << ", " << hi
                                         << "] in " << r.error().to_string();
  return ::testing::AssertionSuccess();
}

// The error names tensor `name` (raw bytes).
template <class T>
::testing::AssertionResult names_tensor(const Result<T>& r, std::string_view name) {
  if (r.ok()) return ::testing::AssertionFailure() << "accepted, expected an error naming a tensor";
  if (r.error().tensor != name)
    return ::testing::AssertionFailure() << "error names tensor \"" << r.error().tensor << "\", expected \""
                                         << name << "\": " << r.error().to_string();
  return ::testing::AssertionSuccess();
}

}  // namespace sft::test
