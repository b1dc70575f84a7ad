#pragma once
/// \file
/// `Result<T>`: a value or a `std::error_code`, mirroring C++23 `std::expected<T, std::error_code>`
/// (not available with g++ 12 in C++20 mode). Expected runtime failures (peer gone, timeout,
/// malformed bytes) travel as `Result`s; exceptions are for API misuse only (see check.hpp).

#include <cassert>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace hivemind {

struct Err;

namespace detail {
template <typename E>
concept ErrorEnum = std::is_error_code_enum_v<E>;
template <typename E>
concept ErrorCodeLike = std::is_error_code_enum_v<E> || std::is_convertible_v<E, std::error_code>;
/// U can initialize the value of a Result<T> (and is neither an Err nor the Result itself).
template <typename U, typename T, typename Self>
concept ValueFor = std::is_constructible_v<T, U&&> &&(!std::is_same_v<std::decay_t<U>, Err>)&&(
    !std::is_same_v<std::decay_t<U>, Self>);
}  // namespace detail

/// An error code plus an optional human-readable detail ("port 70000 out of range", a remote
/// handler's message). Compares equal to error enums exactly like std::error_code; `message()`
/// returns the detail when there is one, else the category's text. Cheap to copy.
class Error : public std::error_code {
 public:
  Error() = default;

  Error(std::error_code code) : std::error_code(code) {}  // NOLINT(google-explicit-constructor)

  template <detail::ErrorEnum E>
  Error(E e) : std::error_code(make_error_code(e)) {}  // NOLINT(google-explicit-constructor)

  Error(std::error_code code, std::string detail)
      : std::error_code(code), detail_(std::make_shared<const std::string>(std::move(detail))) {}

  /// The code alone.
  const std::error_code& code() const noexcept { return *this; }

  /// The detail if set, else the category's message for the code.
  std::string message() const { return detail_ ? *detail_ : std::error_code::message(); }

  /// True when a detail was given.
  bool has_detail() const noexcept { return detail_ != nullptr; }

 private:
  std::shared_ptr<const std::string> detail_;
};

/// Tag wrapper used to construct a failed `Result`: `return Err(NetErrc::kFoo, "detail");`.
struct Err {
  Error error;

  /// Accepts an error enum, a std::error_code or an Error; `detail` is optional context.
  template <detail::ErrorCodeLike E>
  Err(E e) : error(to_error(e)) {}  // NOLINT(google-explicit-constructor)

  template <detail::ErrorCodeLike E>
  Err(E e, std::string detail) : error(to_error(e).code(), std::move(detail)) {}

 private:
  template <typename E>
  static Error to_error(const E& e) {
    if constexpr (std::is_same_v<E, Error>) {
      return e;
    } else if constexpr (std::is_error_code_enum_v<E>) {
      return Error(make_error_code(e));
    } else {
      return Error(static_cast<std::error_code>(e));
    }
  }
};

/// A value of type T or an error. Value semantics; not thread-safe beyond what T is.
template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  /// Success. Implicit so that `return value;` works.
  template <detail::ValueFor<T, Result> U = T>
  Result(U&& value)  // NOLINT(google-explicit-constructor,bugprone-forwarding-reference-overload)
      : data_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT

  /// Failure. Implicit so that `return Err(...);` works.
  Result(Err err) : data_(std::in_place_index<1>, std::move(err.error)) {  // NOLINT
    assert(std::get<1>(data_) && "a failed Result needs a non-zero error code");
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
  const Error& error() const { return std::get<1>(data_); }

  /// The value, or `fallback` on failure.
  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Error> data_;
};

/// Success-or-error with no value.
template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  Result() = default;

  Result(Err err) : error_(std::move(err.error)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const noexcept { return !error_; }

  explicit operator bool() const noexcept { return has_value(); }

  void value() const { assert(has_value()); }

  const Error& error() const { return error_; }

 private:
  Error error_;
};

/// A successful `Result<void>`.
inline Result<void> ok() {
  return {};
}

}  // namespace hivemind

#define HM_CONCAT_INNER_(a, b) a##b
#define HM_CONCAT_(a, b) HM_CONCAT_INNER_(a, b)

/// Evaluates `expr` (a Result); on failure returns its error from the enclosing function.
/// `HM_TRY(auto x, parse(...));` binds the value; `HM_TRY_VOID(check(...));` discards it.
#define HM_TRY(decl, expr)                                         \
  auto HM_CONCAT_(hm_try_, __LINE__) = (expr);                     \
  if (!HM_CONCAT_(hm_try_, __LINE__).has_value())                  \
    return ::hivemind::Err(HM_CONCAT_(hm_try_, __LINE__).error()); \
  decl = std::move(HM_CONCAT_(hm_try_, __LINE__)).value() /* NOLINT(bugprone-macro-parentheses) */

#define HM_TRY_VOID(expr)                           \
  do {                                              \
    auto hm_try_void_ = (expr);                     \
    if (!hm_try_void_.has_value())                  \
      return ::hivemind::Err(hm_try_void_.error()); \
  } while (false)

/// Coroutine versions of HM_TRY / HM_TRY_VOID (use `co_return`).
#define HM_CO_TRY(decl, expr)                                         \
  auto HM_CONCAT_(hm_try_, __LINE__) = (expr);                        \
  if (!HM_CONCAT_(hm_try_, __LINE__).has_value())                     \
    co_return ::hivemind::Err(HM_CONCAT_(hm_try_, __LINE__).error()); \
  decl = std::move(HM_CONCAT_(hm_try_, __LINE__)).value() /* NOLINT(bugprone-macro-parentheses) */

#define HM_CO_TRY_VOID(expr)                           \
  do {                                                 \
    auto hm_try_void_ = (expr);                        \
    if (!hm_try_void_.has_value())                     \
      co_return ::hivemind::Err(hm_try_void_.error()); \
  } while (false)
