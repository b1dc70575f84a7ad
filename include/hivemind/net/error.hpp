#pragma once
/// \file
/// Error codes of the networking layer.

#include <system_error>

namespace hivemind::net {

/// Failures reported by hivemind::net. Codecs report malformed input with kMalformed* codes;
/// connections and streams report what ended them.
enum class NetErrc {
  kMalformedMultiaddr = 1,   ///< multiaddr text or bytes do not parse
  kMalformedPeerId,          ///< peer id text or bytes do not parse
  kMalformedKey,             ///< a key (protobuf or raw) does not parse or is unsupported
  kMalformedMessage,         ///< a protocol message (protobuf, frame, line) does not parse
  kMessageTooLarge,          ///< a message or frame exceeds its size limit
  kProtocolViolation,        ///< a peer broke the protocol's state machine
  kProtocolNotSupported,     ///< multistream-select: the remote answered "na" to every proposal
  kHandshakeFailed,          ///< Noise: decryption or signature verification failed
  kPeerIdMismatch,           ///< the remote authenticated as a different peer than dialed
  kUnsupportedKeyType,       ///< the remote identity key type is not supported
  kConnectionClosed,         ///< the connection was closed (gracefully or not)
  kConnectionRefused,        ///< no listener, limits reached, or dial failed
  kStreamReset,              ///< the stream was reset by either side
  kStreamClosed,             ///< writing after close, or reading after the remote's FIN
  kTooManyStreams,           ///< a stream limit was reached
  kGoAway,                   ///< the remote session sent go-away
  kTimeout,                  ///< a deadline passed
  kCancelled,                ///< cancelled by the caller or by shutdown
  kNoAddresses,              ///< dial by peer id with no known address
  kDialSelf,                 ///< dialing our own peer id
  kRemoteError,              ///< a remote RPC handler failed; the message carries its text
  kShuttingDown,             ///< the host is stopping
  kKeyFile,                  ///< reading or writing a key file failed
};

/// The category of NetErrc ("hivemind.net"). Thread-safe singleton.
const std::error_category& net_category() noexcept;

inline std::error_code make_error_code(NetErrc e) noexcept {
  return {static_cast<int>(e), net_category()};
}

}  // namespace hivemind::net

template <>
struct std::is_error_code_enum<hivemind::net::NetErrc> : std::true_type {};
