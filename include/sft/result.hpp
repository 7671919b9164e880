// sft/result.hpp — Result<T>: a value or an Error, never an exception.
//
// Every fallible call in sft returns Result<T>. Test it with ok() or `if (r)`,
// then read value() / *r / r->; or read error(). value() on an error (and error()
// on a value) is a programming error: it aborts in debug builds and is undefined
// in release builds, exactly like std::optional::operator*.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "sft/error.hpp"

namespace sft {

// True for types whose member functions hand out views into themselves (File,
// Checkpoint): Result<T>::operator-> is then deleted on a temporary Result.
template <class T>
inline constexpr bool result_owns_views = false;

template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { assert(ok()); return *std::get_if<0>(&v_); }
  const T& value() const& { assert(ok()); return *std::get_if<0>(&v_); }
  T&& value() && { assert(ok()); return std::move(*std::get_if<0>(&v_)); }

  const Error& error() const& { assert(!ok()); return *std::get_if<1>(&v_); }
  Error&& error() && { assert(!ok()); return std::move(*std::get_if<1>(&v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() & { return &value(); }
  const T* operator->() const& { return &value(); }
  T* operator->() && requires(!result_owns_views<T>) { return &value(); }
  // Not on a temporary owner of views: `File::open(p)->tensor("w")` would
  // hand out a view of a File destroyed at the end of the statement. Name the
  // Result first: `auto f = File::open(p); f->tensor("w")`.
  T* operator->() && requires(result_owns_views<T>) = delete;
  const T* operator->() const&& requires(result_owns_views<T>) = delete;

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  Result() = default;
  Result(Error error) : err_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return err_.code == Errc::ok; }
  explicit operator bool() const noexcept { return ok(); }
  void value() const { assert(ok()); }
  const Error& error() const& { assert(!ok()); return err_; }
  Error&& error() && { assert(!ok()); return std::move(err_); }

 private:
  Error err_;
};

}  // namespace sft
