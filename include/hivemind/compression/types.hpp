#pragma once
/// \file
/// Vocabulary of the tensor wire format: hivemind's compression types (runtime.proto
/// `CompressionType`, same values) and the element types that travel in `Tensor.dtype`, with
/// their wire names. Torch-free; pure functions, thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hivemind::compression {

/// runtime.proto `CompressionType`; the numeric values are hivemind's and go on the wire.
enum class CompressionType : std::int32_t {
  kNone = 0,           ///< raw little-endian element bytes
  kMeanStd16Bit = 1,   ///< per-row (last axis) mean/std scaling, then float16
  kFloat16 = 2,        ///< float16 with clamping to +-65504
  kQuantile8Bit = 3,   ///< 8-bit indices into a 256-entry codebook, borders at quantiles
  kUniform8Bit = 4,    ///< 8-bit indices into a 256-entry codebook, uniform +-3 sigma grid
  kBlockwise8Bit = 5,  ///< 8-bit indices into a dynamic code, scaled by per-4096-block absmax
};

/// All six types in enum order (the order of hivemind's benchmark).
inline constexpr std::array<CompressionType, 6> kAllCompressionTypes = {
    CompressionType::kNone,
    CompressionType::kMeanStd16Bit,
    CompressionType::kFloat16,
    CompressionType::kQuantile8Bit,
    CompressionType::kUniform8Bit,
    CompressionType::kBlockwise8Bit};

/// hivemind's enum name: "NONE", "MEANSTD_16BIT", "FLOAT16", "QUANTILE_8BIT", "UNIFORM_8BIT",
/// "BLOCKWISE_8BIT".
std::string_view compression_type_name(CompressionType type) noexcept;

/// The type with this enum name (as above), or nullopt.
std::optional<CompressionType> parse_compression_type(std::string_view name) noexcept;

/// The type with this wire value (0..5), or nullopt for any other value.
std::optional<CompressionType> compression_type_from_wire(std::int64_t value) noexcept;

/// Element types that hivemind and libtorch share (complex types are not supported).
enum class Dtype : std::uint8_t {
  kFloat32,
  kFloat16,
  kBFloat16,
  kFloat64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUInt8,
  kBool,
};

/// Wire name in `Tensor.dtype`, as hivemind writes it (`str(torch dtype)` without "torch.", the
/// same as numpy's name): "float32", "float16", "bfloat16", "float64", "int8", "int16", "int32",
/// "int64", "uint8", "bool".
std::string_view dtype_name(Dtype dtype) noexcept;

/// The dtype with this wire name (exact match), or nullopt.
std::optional<Dtype> parse_dtype(std::string_view name) noexcept;

/// Bytes per element in memory and in a NONE buffer (bool: 1; bfloat16: 2).
std::size_t dtype_size(Dtype dtype) noexcept;

/// True for float16, bfloat16, float32 and float64.
bool is_floating(Dtype dtype) noexcept;

/// Bits per element as hivemind's `get_num_bits` counts them (bool: 8).
int dtype_bits(Dtype dtype) noexcept;

/// Elements per absmax block of BLOCKWISE_8BIT (hivemind `_BLOCKWISE_QUANTIZATION_BLOCKSIZE`).
inline constexpr std::int64_t kBlockwiseBlockSize = 4096;
/// Entries of every 8-bit codebook (UNIFORM_8BIT, QUANTILE_8BIT, BLOCKWISE_8BIT code).
inline constexpr std::int64_t kCodebookSize = 256;
/// Most dimensions a decoded tensor may have.
inline constexpr std::size_t kMaxTensorDims = 64;

}  // namespace hivemind::compression
