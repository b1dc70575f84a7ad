// Buffer sizes of hivemind's codec layouts (docs/protocols/compression.md):
//   NONE            numel * element size (bfloat16: 2, or 4 in hivemind's legacy float32 form)
//   FLOAT16         2 * numel
//   MEANSTD_16BIT   2 * numel + 4 * rows (means) + 4 * rows (stds)
//   UNIFORM_8BIT,
//   QUANTILE_8BIT   8 (int64 codebook length) + 4 * 256 + numel
//   BLOCKWISE_8BIT  8 + 8 + 4 * ceil(numel / 4096) + 4 * 256 + numel
#include "layout.hpp"

#include "hivemind/compression/error.hpp"

namespace hivemind::compression::detail {

Result<ShapeInfo> check_shape(std::span<const std::uint32_t> size) {
  if (size.size() > kMaxTensorDims)
    return Err(CompressionErrc::kBadShape, "too many dimensions");
  constexpr std::uint64_t kMaxStrideProduct = std::uint64_t{1} << 62;
  ShapeInfo info;
  std::uint64_t nonzero_product = 1;
  bool empty = false;
  for (std::size_t i = 0; i < size.size(); ++i) {
    const std::uint64_t d = size[i];
    if (d == 0) {
      empty = true;
      continue;
    }
    // nonzero_product <= 2^62 and d < 2^32: the check below cannot overflow.
    if (nonzero_product > kMaxStrideProduct / d)
      return Err(CompressionErrc::kBadShape, "sizes overflow");
    nonzero_product *= d;
  }
  if (!empty && nonzero_product > kMaxNumel)
    return Err(CompressionErrc::kBadShape, "too many elements");
  info.numel = empty ? 0 : nonzero_product;
  if (!size.empty()) {
    const std::uint64_t last = size.back();
    // rows = product of the leading sizes; with a zero among them it is 0, with the zero last
    // it is the product of the others (hivemind still writes one mean and std per row).
    std::uint64_t rows = 1;
    for (std::size_t i = 0; i + 1 < size.size(); ++i)
      rows *= size[i];  // bounded by nonzero_product <= 2^62 unless a factor is 0
    if (last == 0 && rows > kMaxNumel)
      return Err(CompressionErrc::kBadShape, "too many rows");
    info.rows = rows;
  }
  return info;
}

bool codec_supports(CompressionType type, Dtype dtype) noexcept {
  switch (type) {
    case CompressionType::kNone:
      return true;
    case CompressionType::kFloat16:
    case CompressionType::kMeanStd16Bit:
      return dtype == Dtype::kFloat16 || dtype == Dtype::kFloat32 || dtype == Dtype::kFloat64;
    case CompressionType::kQuantile8Bit:
    case CompressionType::kUniform8Bit:
    case CompressionType::kBlockwise8Bit:
      return is_floating(dtype);
  }
  return false;
}

std::uint64_t buffer_size(CompressionType type, Dtype dtype, const ShapeInfo& shape) noexcept {
  const std::uint64_t n = shape.numel;
  switch (type) {
    case CompressionType::kNone:
      return n * dtype_size(dtype);
    case CompressionType::kFloat16:
      return 2 * n;
    case CompressionType::kMeanStd16Bit:
      return 2 * n + 8 * shape.rows;
    case CompressionType::kQuantile8Bit:
    case CompressionType::kUniform8Bit:
      return kCodebookBytes + n;
    case CompressionType::kBlockwise8Bit:
      return 16 + 4 * blockwise_blocks(n) + 4 * kCodebookSize + n;
  }
  return 0;
}

Result<CheckedHeader> check_header(CompressionType type,
                                   std::string_view dtype,
                                   std::span<const std::uint32_t> size) {
  const auto parsed = parse_dtype(dtype);
  if (!parsed)
    return Err(CompressionErrc::kUnknownDtype, "dtype '" + std::string(dtype.substr(0, 32)) + "'");
  if (!codec_supports(type, *parsed))
    return Err(
        CompressionErrc::kUnsupportedDtype,
        std::string(compression_type_name(type)) + " does not support " + std::string(dtype));
  HM_TRY(ShapeInfo shape, check_shape(size));
  if (type == CompressionType::kMeanStd16Bit && size.empty())
    return Err(CompressionErrc::kBadShape, "MEANSTD_16BIT needs at least one dimension");
  CheckedHeader h;
  h.dtype = *parsed;
  h.shape = shape;
  h.buffer.min = buffer_size(type, *parsed, shape);
  h.buffer.max = h.buffer.min;
  if (type == CompressionType::kNone && *parsed == Dtype::kBFloat16)
    h.buffer.max = 4 * shape.numel;
  return h;
}

}  // namespace hivemind::compression::detail
