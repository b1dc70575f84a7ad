#include "hivemind/compression/error.hpp"

#include <string>

namespace hivemind::compression {
namespace {

class CompressionCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "hivemind.compression"; }

  std::string message(int code) const override {
    switch (static_cast<CompressionErrc>(code)) {
      case CompressionErrc::kMalformedMessage:
        return "malformed Tensor message";
      case CompressionErrc::kUnknownDtype:
        return "unknown dtype";
      case CompressionErrc::kUnknownCompression:
        return "unknown compression type";
      case CompressionErrc::kUnsupportedDtype:
        return "dtype not supported by this compression";
      case CompressionErrc::kBadShape:
        return "invalid tensor shape";
      case CompressionErrc::kBufferSizeMismatch:
        return "buffer size does not match shape, dtype and compression";
      case CompressionErrc::kBadCodebook:
        return "invalid codebook";
      case CompressionErrc::kTruncatedStream:
        return "tensor stream ended before the tensor was complete";
      case CompressionErrc::kMalformedStream:
        return "malformed tensor stream";
      case CompressionErrc::kTooLarge:
        return "tensor exceeds size limit";
      case CompressionErrc::kUnsupportedTensor:
        return "tensor cannot be serialized (undefined, not on CPU or not strided)";
      case CompressionErrc::kNoCompressionForKey:
        return "no compression configured for this tensor key";
      case CompressionErrc::kTorchError:
        return "libtorch error";
    }
    return "unknown compression error";
  }
};

}  // namespace

const std::error_category& compression_category() noexcept {
  static const CompressionCategory category;
  return category;
}

}  // namespace hivemind::compression
