#pragma once
/// \file
/// Error codes of the DHT layer.

#include <system_error>

namespace hivemind::dht {

/// Failures reported by hivemind::dht. Decoders report malformed input with kMalformed* codes;
/// node operations report why a request could not be served.
enum class DhtErrc {
  kMalformedMsgpack = 1,  ///< msgpack bytes do not parse, nest too deep or exceed a size limit
  kMalformedValue,        ///< a value decodes as msgpack but not as the expected type
  kMalformedRequest,      ///< a DHT request or response violates dht.proto semantics
  kTooManyKeys,           ///< a request carries more keys than the limit allows
  kValueTooLarge,         ///< a value exceeds the configured maximum size
  kBadExpiration,         ///< an expiration time is NaN, already past or too far ahead
  kRejected,              ///< storage refused the record (older than what is stored, or invalid)
  kValidationFailed,      ///< a record validator rejected the record
  kBootstrapFailed,       ///< none of the initial peers answered
  kNotFound,              ///< no value for the key
  kShuttingDown,          ///< the node is stopping
};

/// The category of DhtErrc ("hivemind.dht"). Thread-safe singleton.
const std::error_category& dht_category() noexcept;

inline std::error_code make_error_code(DhtErrc e) noexcept {
  return {static_cast<int>(e), dht_category()};
}

}  // namespace hivemind::dht

template <>
struct std::is_error_code_enum<hivemind::dht::DhtErrc> : std::true_type {};
