#pragma once
// How the client's modules report failures: std::system_error carrying the Error's code, with
// its detail as the message (torch modules have no Result in their forward()).

#include <stdexcept>
#include <system_error>

#include "hivemind/core/result.hpp"

namespace hivemind::moe::client {

[[noreturn]] inline void throw_error(const Error& error) {
  throw std::system_error(error.code(), error.message());
}

/// The value of `result`, or throws its error.
template <class T>
T value_or_throw(Result<T> result) {
  if (!result)
    throw_error(result.error());
  return std::move(*result);
}

}  // namespace hivemind::moe::client
