#pragma once
/// \file
/// Error codes of the core layer and a helper to define error categories for other layers.

#include <string>
#include <system_error>

namespace hivemind {

/// Failures reported by core utilities (codecs, buffers, task groups).
enum class CoreErrc {
  kTruncated = 1,    ///< input ended before a complete item
  kOverflow,         ///< a number does not fit its type (e.g. a varint above 2^63)
  kNonMinimal,       ///< a varint or length was not minimally encoded
  kTooLarge,         ///< an item exceeds a configured size limit
  kInvalidArgument,  ///< a value outside its documented domain
  kTimeout,          ///< a deadline passed
  kCancelled,        ///< the operation was cancelled by its owner
  kIo,               ///< file system failure
};

/// The category of CoreErrc ("hivemind.core"). Thread-safe singleton.
const std::error_category& core_category() noexcept;

/// Enables `std::error_code ec = CoreErrc::kTruncated;`.
inline std::error_code make_error_code(CoreErrc e) noexcept {
  return {static_cast<int>(e), core_category()};
}

}  // namespace hivemind

template <>
struct std::is_error_code_enum<hivemind::CoreErrc> : std::true_type {};
