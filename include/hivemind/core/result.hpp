#pragma once
/// \file
/// `Result<T>`: a value or a `std::error_code`, mirroring C++23 `std::expected<T, std::error_code>`
/// (not available with g++ 12 in C++20 mode). Expected runtime failures (peer gone, timeout,
/// malformed bytes) travel as `Result`s; exceptions are for API misuse only (see check.hpp).

#include <cassert>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace hivemind {

/// Tag wrapper used to construct a failed `Result` from an error code: `return Err(errc::kFoo);`.
struct Err {
  std::error_code code;
  /// Accepts anything convertible to std::error_code (every project error enum is).
  template <typename E>
    requires std::is_error_code_enum_v<E> || std::is_same_v<E, std::error_code>
  Err(E e) : code(make(e)) {}  // NOLINT(google-explicit-constructor)

 private:
  static std::error_code make(std::error_code e) { return e; }

  template <typename E>
  static std::error_code make(E e) {
    return make_error_code(e);
  }
};

/// A value of type T or an error. Value semantics; not thread-safe beyond what T is.
template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  /// Success. Implicit so that `return value;` works.
  template <typename U = T>
    requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::decay_t<U>, Err>) &&
             (!std::is_same_v<std::decay_t<U>, Result>)
  Result(U&& value) : data_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT

  /// Failure. Implicit so that `return Err(...);` works.
  Result(Err err) : data_(std::in_place_index<1>, err.code) {  // NOLINT
    assert(err.code && "a failed Result needs a non-zero error code");
  }

  bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// The value; precondition `has_value()`.
  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// The error; precondition `!has_value()`.
  std::error_code error() const { return std::get<1>(data_); }

  /// The value, or `fallback` on failure.
  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, std::error_code> data_;
};

/// Success-or-error with no value.
template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  Result() = default;
  Result(Err err) : error_(err.code) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const { assert(has_value()); }
  std::error_code error() const { return error_; }

 private:
  std::error_code error_;
};

/// A successful `Result<void>`.
inline Result<void> ok() { return {}; }

}  // namespace hivemind

#define HM_CONCAT_INNER_(a, b) a##b
#define HM_CONCAT_(a, b) HM_CONCAT_INNER_(a, b)

/// Evaluates `expr` (a Result); on failure returns its error from the enclosing function.
/// `HM_TRY(auto x, parse(...));` binds the value; `HM_TRY_VOID(check(...));` discards it.
#define HM_TRY(decl, expr)                                     \
  auto HM_CONCAT_(hm_try_, __LINE__) = (expr);                 \
  if (!HM_CONCAT_(hm_try_, __LINE__).has_value())              \
    return ::hivemind::Err(HM_CONCAT_(hm_try_, __LINE__).error()); \
  decl = std::move(HM_CONCAT_(hm_try_, __LINE__)).value()

#define HM_TRY_VOID(expr)                                   \
  do {                                                      \
    auto hm_try_void_ = (expr);                             \
    if (!hm_try_void_.has_value())                          \
      return ::hivemind::Err(hm_try_void_.error());         \
  } while (false)

/// Coroutine versions of HM_TRY / HM_TRY_VOID (use `co_return`).
#define HM_CO_TRY(decl, expr)                                     \
  auto HM_CONCAT_(hm_try_, __LINE__) = (expr);                    \
  if (!HM_CONCAT_(hm_try_, __LINE__).has_value())                 \
    co_return ::hivemind::Err(HM_CONCAT_(hm_try_, __LINE__).error()); \
  decl = std::move(HM_CONCAT_(hm_try_, __LINE__)).value()

#define HM_CO_TRY_VOID(expr)                                \
  do {                                                      \
    auto hm_try_void_ = (expr);                             \
    if (!hm_try_void_.has_value())                          \
      co_return ::hivemind::Err(hm_try_void_.error());      \
  } while (false)
