#include "hivemind/core/error.hpp"

namespace hivemind {
namespace {

class CoreCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "hivemind.core"; }

  std::string message(int code) const override {
    switch (static_cast<CoreErrc>(code)) {
      case CoreErrc::kTruncated:
        return "input truncated";
      case CoreErrc::kOverflow:
        return "numeric overflow";
      case CoreErrc::kNonMinimal:
        return "non-minimal encoding";
      case CoreErrc::kTooLarge:
        return "size limit exceeded";
      case CoreErrc::kInvalidArgument:
        return "invalid argument";
      case CoreErrc::kTimeout:
        return "timed out";
      case CoreErrc::kCancelled:
        return "cancelled";
      case CoreErrc::kIo:
        return "i/o error";
    }
    return "unknown core error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& core_category() noexcept {
  static const CoreCategory category;
  return category;
}

}  // namespace hivemind
