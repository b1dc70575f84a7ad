#include "hivemind/compression/types.hpp"

namespace hivemind::compression {
namespace {

struct DtypeInfo {
  Dtype dtype;
  std::string_view name;
  std::size_t size;
  bool floating;
};

constexpr std::array<DtypeInfo, 10> kDtypes = {{
    {Dtype::kFloat32, "float32", 4, true},
    {Dtype::kFloat16, "float16", 2, true},
    {Dtype::kBFloat16, "bfloat16", 2, true},
    {Dtype::kFloat64, "float64", 8, true},
    {Dtype::kInt8, "int8", 1, false},
    {Dtype::kInt16, "int16", 2, false},
    {Dtype::kInt32, "int32", 4, false},
    {Dtype::kInt64, "int64", 8, false},
    {Dtype::kUInt8, "uint8", 1, false},
    {Dtype::kBool, "bool", 1, false},
}};

constexpr std::array<std::string_view, 6> kCompressionNames = {
    "NONE", "MEANSTD_16BIT", "FLOAT16", "QUANTILE_8BIT", "UNIFORM_8BIT", "BLOCKWISE_8BIT"};

const DtypeInfo& info(Dtype dtype) noexcept {
  return kDtypes[static_cast<std::size_t>(dtype)];
}

}  // namespace

std::string_view compression_type_name(CompressionType type) noexcept {
  const auto index = static_cast<std::size_t>(type);
  return index < kCompressionNames.size() ? kCompressionNames[index] : std::string_view("?");
}

std::optional<CompressionType> parse_compression_type(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kCompressionNames.size(); ++i) {
    if (kCompressionNames[i] == name)
      return static_cast<CompressionType>(i);
  }
  return std::nullopt;
}

std::optional<CompressionType> compression_type_from_wire(std::int64_t value) noexcept {
  if (value < 0 || value >= static_cast<std::int64_t>(kCompressionNames.size()))
    return std::nullopt;
  return static_cast<CompressionType>(value);
}

std::string_view dtype_name(Dtype dtype) noexcept {
  return info(dtype).name;
}

std::optional<Dtype> parse_dtype(std::string_view name) noexcept {
  for (const auto& d : kDtypes) {
    if (d.name == name)
      return d.dtype;
  }
  return std::nullopt;
}

std::size_t dtype_size(Dtype dtype) noexcept {
  return info(dtype).size;
}

bool is_floating(Dtype dtype) noexcept {
  return info(dtype).floating;
}

int dtype_bits(Dtype dtype) noexcept {
  return static_cast<int>(info(dtype).size * 8);
}

}  // namespace hivemind::compression
