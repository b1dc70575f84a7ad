#pragma once
/// \file
/// Error codes of the compression layer (tensor wire format and codecs).

#include <system_error>

namespace hivemind::compression {

/// Failures reported by hivemind::compression. Decoders report hostile or malformed input with
/// these codes (never exceptions); encoders report tensors a codec cannot represent.
enum class CompressionErrc {
  kMalformedMessage = 1,  ///< the bytes of a runtime.proto Tensor message do not parse
  kUnknownDtype,          ///< the dtype string is not one of the supported names
  kUnknownCompression,    ///< the compression enum value is not one of hivemind's six
  kUnsupportedDtype,      ///< the codec does not handle this dtype (e.g. FLOAT16 of int64)
  kBadShape,             ///< too many dimensions, sizes that overflow, or a shape the codec refuses
  kBufferSizeMismatch,   ///< buffer length disagrees with shape, dtype and codec layout
  kBadCodebook,          ///< a codebook or absmax count differs from what the layout requires
  kTruncatedStream,      ///< a chunk stream ended (or moved on) before its tensor was complete
  kMalformedStream,      ///< a stream part out of place (no header first, too many parts)
  kTooLarge,             ///< a configured size limit was exceeded
  kUnsupportedTensor,    ///< encode: undefined, non-CPU or non-strided tensor
  kNoCompressionForKey,  ///< a per-tensor policy has no entry for the tensor's key
  kTorchError,           ///< libtorch threw (e.g. allocation failure); detail has its message
};

/// The category of CompressionErrc ("hivemind.compression"). Thread-safe singleton.
const std::error_category& compression_category() noexcept;

inline std::error_code make_error_code(CompressionErrc e) noexcept {
  return {static_cast<int>(e), compression_category()};
}

}  // namespace hivemind::compression

template <>
struct std::is_error_code_enum<hivemind::compression::CompressionErrc> : std::true_type {};
