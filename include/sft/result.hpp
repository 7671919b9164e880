// sft/result.hpp — Result<T>: a value or an Error, never an exception.
//
// Every fallible call in sft returns Result<T>. Test it with ok() or `if (r)`,
// then read value() / *r / r->; or read error(). value() on an error (and error()
// on a value) is a programming error: it aborts in debug builds and is undefined
// in release builds, exactly like std::optional::operator*.
//
// Composing results:
//
//   SFT_TRY(file.read(info, out));                 // return the error, if any
//   SFT_TRY_ASSIGN(auto header, parse(bytes));      // declare from the value, or return the error
//   SFT_TRY(file.read(info, out).with_tensor(name)); // ... naming the tensor on the way out
//   auto n = count(x).value_or(0);
//   auto bytes = open(p).and_then([](File f) { ... return Result<U>; });
//   auto size = open(p).transform([](const File& f) { return f.size(); });
//
// An Error inside a Result always has a code other than ok: constructing one
// from an Error whose code is ok yields Errc::internal (a bug in the caller,
// reported rather than mistaken for success).
#pragma once

#include <cassert>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "sft/error.hpp"

namespace sft {

template <class T> class Result;

namespace detail {
template <class R> struct is_result : std::false_type {};
template <class T> struct is_result<Result<T>> : std::true_type {};

// An Error fit to be held by a Result: never one with code ok.
inline Error checked_error(Error e) {
  if (e.code == Errc::ok) {
    e.code = Errc::internal;
    e.message = "an error with code ok was returned as a failure" + (e.message.empty() ? std::string() : ": " + e.message);
  }
  return e;
}
}  // namespace detail

// True for types whose member functions hand out views into themselves (File,
// Checkpoint): Result<T>::operator-> is then deleted on a temporary Result.
template <class T>
inline constexpr bool result_owns_views = false;

template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, detail::checked_error(std::move(error))) {}  // NOLINT

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

  // The value, or `fallback` when this holds an error.
  template <class U>
  T value_or(U&& fallback) const& {
    return ok() ? value() : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  T value_or(U&& fallback) && {
    return ok() ? std::move(*this).value() : static_cast<T>(std::forward<U>(fallback));
  }

  // f(value) -> Result<U>; an error passes through untouched.
  template <class F>
  auto and_then(F&& f) & { return and_then_impl(*this, std::forward<F>(f)); }
  template <class F>
  auto and_then(F&& f) const& { return and_then_impl(*this, std::forward<F>(f)); }
  template <class F>
  auto and_then(F&& f) && { return and_then_impl(std::move(*this), std::forward<F>(f)); }

  // f(value) -> U, giving Result<U> (Result<void> when f returns nothing).
  template <class F>
  auto transform(F&& f) & { return transform_impl(*this, std::forward<F>(f)); }
  template <class F>
  auto transform(F&& f) const& { return transform_impl(*this, std::forward<F>(f)); }
  template <class F>
  auto transform(F&& f) && { return transform_impl(std::move(*this), std::forward<F>(f)); }

  // The same result, its error (if any) naming `name` / prefixed with `context`.
  Result with_tensor(std::string_view name) && {
    if (!ok()) return std::move(*this).error().with_tensor(name);
    return std::move(*this);
  }
  Result with_context(std::string_view context) && {
    if (!ok()) return std::move(*this).error().with_context(context);
    return std::move(*this);
  }

 private:
  template <class Self, class F>
  static auto and_then_impl(Self&& self, F&& f) {
    using R = std::remove_cvref_t<decltype(std::forward<F>(f)(std::forward<Self>(self).value()))>;
    static_assert(detail::is_result<R>::value, "and_then needs a function returning a Result");
    if (!self.ok()) return R(std::forward<Self>(self).error());
    return std::forward<F>(f)(std::forward<Self>(self).value());
  }
  template <class Self, class F>
  static auto transform_impl(Self&& self, F&& f) {
    using U = std::remove_cvref_t<decltype(std::forward<F>(f)(std::forward<Self>(self).value()))>;
    if (!self.ok()) return Result<U>(std::forward<Self>(self).error());
    if constexpr (std::is_void_v<U>) {
      std::forward<F>(f)(std::forward<Self>(self).value());
      return Result<U>();  // U, not void: a dependent name, so clang looks it up after Result<void> is declared
    } else {
      return Result<U>(std::forward<F>(f)(std::forward<Self>(self).value()));
    }
  }

  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  Result() = default;
  Result(Error error) : err_(detail::checked_error(std::move(error))) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return err_.code == Errc::ok; }
  explicit operator bool() const noexcept { return ok(); }
  void value() const { assert(ok()); }
  const Error& error() const& { assert(!ok()); return err_; }
  Error&& error() && { assert(!ok()); return std::move(err_); }

  // f() -> Result<U>, called only on success.
  template <class F>
  auto and_then(F&& f) const {
    using R = std::remove_cvref_t<decltype(std::forward<F>(f)())>;
    static_assert(detail::is_result<R>::value, "and_then needs a function returning a Result");
    if (!ok()) return R(err_);
    return std::forward<F>(f)();
  }
  // f() -> U, giving Result<U>.
  template <class F>
  auto transform(F&& f) const {
    using U = std::remove_cvref_t<decltype(std::forward<F>(f)())>;
    if (!ok()) return Result<U>(err_);
    if constexpr (std::is_void_v<U>) {
      std::forward<F>(f)();
      return Result<void>();
    } else {
      return Result<U>(std::forward<F>(f)());
    }
  }

  Result with_tensor(std::string_view name) && {
    if (!ok()) return std::move(err_).with_tensor(name);
    return {};
  }
  Result with_context(std::string_view context) && {
    if (!ok()) return std::move(err_).with_context(context);
    return {};
  }

 private:
  Error err_;
};

}  // namespace sft

// Propagate an error: evaluate `expr` (a Result); if it failed, return its
// error from the enclosing function (whose return type is any Result).
#define SFT_TRY(expr)                                            \
  do {                                                           \
    auto&& sft_try_result_ = (expr);                             \
    if (!sft_try_result_) return std::move(sft_try_result_).error(); \
  } while (0)

#define SFT_DETAIL_CONCAT2(a, b) a##b
#define SFT_DETAIL_CONCAT(a, b) SFT_DETAIL_CONCAT2(a, b)

// Declare (or assign) `lhs` from the value of `expr`, or return its error:
//   SFT_TRY_ASSIGN(auto file, File::open(path));
//   SFT_TRY_ASSIGN(size, read_size(fd));
#define SFT_TRY_ASSIGN(lhs, expr) SFT_DETAIL_TRY_ASSIGN(SFT_DETAIL_CONCAT(sft_try_tmp_, __LINE__), lhs, expr)
#define SFT_DETAIL_TRY_ASSIGN(tmp, lhs, expr)                 \
  auto tmp = (expr);                                          \
  if (!tmp) return std::move(tmp).error();                    \
  lhs = std::move(tmp).value()
