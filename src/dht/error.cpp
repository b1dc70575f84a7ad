#include "hivemind/dht/error.hpp"

#include <string>

namespace hivemind::dht {
namespace {

class DhtCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "hivemind.dht"; }

  std::string message(int code) const override {
    switch (static_cast<DhtErrc>(code)) {
      case DhtErrc::kMalformedMsgpack:
        return "malformed msgpack";
      case DhtErrc::kMalformedValue:
        return "malformed value";
      case DhtErrc::kMalformedRequest:
        return "malformed DHT request";
      case DhtErrc::kTooManyKeys:
        return "too many keys in one request";
      case DhtErrc::kValueTooLarge:
        return "value exceeds size limit";
      case DhtErrc::kBadExpiration:
        return "expiration time out of range";
      case DhtErrc::kRejected:
        return "record rejected by storage";
      case DhtErrc::kValidationFailed:
        return "record failed validation";
      case DhtErrc::kBootstrapFailed:
        return "bootstrap failed: none of the initial peers responded";
      case DhtErrc::kNotFound:
        return "not found";
      case DhtErrc::kShuttingDown:
        return "DHT is shutting down";
    }
    return "unknown DHT error";
  }
};

}  // namespace

const std::error_category& dht_category() noexcept {
  static const DhtCategory category;
  return category;
}

}  // namespace hivemind::dht
