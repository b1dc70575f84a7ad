#pragma once
// Private: the byte layouts of hivemind's codecs as sizes (docs/protocols/compression.md), and
// header validation shared by the decoder and the stream assembler. Torch-free.

#include <cstdint>
#include <span>
#include <string_view>

#include "hivemind/compression/types.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::compression::detail {

/// Elements above this are refused (far beyond any memory), so size arithmetic cannot overflow.
inline constexpr std::uint64_t kMaxNumel = std::uint64_t{1} << 56;

/// Bytes of the codebook-length prefix plus a 256-entry float32 codebook.
inline constexpr std::uint64_t kCodebookBytes = 8 + 4 * kCodebookSize;

/// A validated shape: element count and, for MEANSTD_16BIT, the number of rows (product of all
/// dimensions but the last).
struct ShapeInfo {
  std::uint64_t numel = 1;
  std::uint64_t rows = 1;
};

/// Element count of `size` (1 for 0-d). kBadShape when it has more than kMaxTensorDims entries,
/// when the element count exceeds kMaxNumel, or when the product of the non-zero sizes exceeds
/// 2^62 (strides would overflow even if a zero size makes the tensor empty).
Result<ShapeInfo> check_shape(std::span<const std::uint32_t> size);

/// True when `type` can encode or decode `dtype`: NONE every dtype; FLOAT16 and MEANSTD_16BIT
/// float16/32/64 (not bfloat16, like hivemind); the 8-bit codecs every floating dtype.
bool codec_supports(CompressionType type, Dtype dtype) noexcept;

/// The buffer lengths a layout allows: exactly `min` bytes, or also `max` (only NONE of
/// bfloat16, which may carry float32 values, hivemind's legacy format, or raw bfloat16).
struct BufferSize {
  std::uint64_t min = 0;
  std::uint64_t max = 0;

  bool allows(std::uint64_t n) const noexcept { return n == min || n == max; }
};

/// Validated header of one serialized tensor.
struct CheckedHeader {
  Dtype dtype = Dtype::kFloat32;
  ShapeInfo shape;
  BufferSize buffer;
};

/// Parses `dtype`, checks that `type` supports it and that the shape is valid for the codec
/// (MEANSTD_16BIT needs at least one dimension), and computes the buffer sizes it allows.
/// Errors: kUnknownDtype, kUnsupportedDtype, kBadShape.
Result<CheckedHeader> check_header(CompressionType type,
                                   std::string_view dtype,
                                   std::span<const std::uint32_t> size);

/// Number of absmax entries (blocks) of a BLOCKWISE_8BIT buffer for `numel` elements.
inline std::uint64_t blockwise_blocks(std::uint64_t numel) noexcept {
  const auto block = static_cast<std::uint64_t>(kBlockwiseBlockSize);
  return (numel + block - 1) / block;
}

/// Buffer size of `type` for a valid shape (for NONE: the exact raw size, bfloat16 as 2 bytes).
std::uint64_t buffer_size(CompressionType type, Dtype dtype, const ShapeInfo& shape) noexcept;

}  // namespace hivemind::compression::detail
