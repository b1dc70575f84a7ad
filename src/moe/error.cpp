#include "hivemind/moe/error.hpp"

#include <string>

namespace hivemind::moe {
namespace {

class MoeCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "hivemind.moe"; }

  std::string message(int code) const override {
    switch (static_cast<MoeErrc>(code)) {
      case MoeErrc::kInvalidUid:
        return "invalid expert uid";
      case MoeErrc::kInvalidPattern:
        return "invalid expert pattern";
      case MoeErrc::kUnknownExpert:
        return "unknown expert";
      case MoeErrc::kUnknownExpertClass:
        return "unknown expert class";
      case MoeErrc::kDuplicateExpertClass:
        return "expert class already registered";
      case MoeErrc::kSchemaMismatch:
        return "tensors do not match the expert's schema";
      case MoeErrc::kNonFinite:
        return "input contains NaN or Inf";
      case MoeErrc::kEmptyBatch:
        return "batch should contain more than 0 samples";
      case MoeErrc::kBatchTooLarge:
        return "batch larger than max_batch_size";
      case MoeErrc::kQueueFull:
        return "expert queue is full";
      case MoeErrc::kExpertFailed:
        return "expert failed";
      case MoeErrc::kCancelled:
        return "task cancelled";
      case MoeErrc::kShuttingDown:
        return "shutting down";
      case MoeErrc::kCheckpointError:
        return "checkpoint error";
      case MoeErrc::kBadRequest:
        return "malformed request";
      case MoeErrc::kBadConfig:
        return "invalid configuration";
      case MoeErrc::kBadResponse:
        return "malformed expert response";
      case MoeErrc::kNoExpertsFound:
        return "no experts found";
      case MoeErrc::kTooFewExperts:
        return "too few experts answered";
      case MoeErrc::kAnomaly:
        return "non-finite values";
    }
    return "unknown moe error";
  }
};

}  // namespace

const std::error_category& moe_category() noexcept {
  static const MoeCategory category;
  return category;
}

}  // namespace hivemind::moe
