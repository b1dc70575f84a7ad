#include "hivemind/net/error.hpp"

#include <string>

namespace hivemind::net {
namespace {

class NetCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "hivemind.net"; }

  std::string message(int code) const override {
    switch (static_cast<NetErrc>(code)) {
      case NetErrc::kMalformedMultiaddr:
        return "malformed multiaddr";
      case NetErrc::kMalformedPeerId:
        return "malformed peer id";
      case NetErrc::kMalformedKey:
        return "malformed key";
      case NetErrc::kMalformedMessage:
        return "malformed message";
      case NetErrc::kMessageTooLarge:
        return "message exceeds size limit";
      case NetErrc::kProtocolViolation:
        return "protocol violation";
      case NetErrc::kProtocolNotSupported:
        return "protocol not supported by remote";
      case NetErrc::kHandshakeFailed:
        return "secure handshake failed";
      case NetErrc::kPeerIdMismatch:
        return "remote peer id differs from the one dialed";
      case NetErrc::kUnsupportedKeyType:
        return "unsupported key type";
      case NetErrc::kConnectionClosed:
        return "connection closed";
      case NetErrc::kConnectionRefused:
        return "connection refused";
      case NetErrc::kStreamReset:
        return "stream reset";
      case NetErrc::kStreamClosed:
        return "stream closed";
      case NetErrc::kTooManyStreams:
        return "too many streams";
      case NetErrc::kGoAway:
        return "remote sent go-away";
      case NetErrc::kTimeout:
        return "timed out";
      case NetErrc::kCancelled:
        return "cancelled";
      case NetErrc::kNoAddresses:
        return "no known addresses for peer";
      case NetErrc::kDialSelf:
        return "cannot dial self";
      case NetErrc::kRemoteError:
        return "remote handler error";
      case NetErrc::kShuttingDown:
        return "host is shutting down";
      case NetErrc::kKeyFile:
        return "key file error";
    }
    return "unknown net error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& net_category() noexcept {
  static const NetCategory category;
  return category;
}

}  // namespace hivemind::net
