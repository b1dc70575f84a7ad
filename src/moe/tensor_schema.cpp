// Schema checks of request tensors (hivemind checks shapes only on the client and lets a bad
// server-side batch fail inside torch; we check every request before it is batched, so one bad
// client cannot fail a whole merged batch).
#include "hivemind/moe/tensor_schema.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include <ATen/ATen.h>

#include "hivemind/compression/serialization.hpp"
#include "hivemind/core/check.hpp"

namespace hivemind::moe {
namespace {

std::string sizes_string(at::IntArrayRef sizes) {
  std::string out = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (i > 0)
      out += ", ";
    out += std::to_string(sizes[i]);
  }
  return out + "]";
}

std::string dtype_text(c10::ScalarType type) {
  const auto dtype = compression::dtype_from_scalar_type(type);
  return dtype ? std::string(compression::dtype_name(*dtype)) : std::string(c10::toString(type));
}

/// True when no element of `n` IEEE values stored at `data` has an all-ones exponent (Inf or
/// NaN): one read pass, no allocation. Blocks of 64 with a fixed trip count let g++ -O2 vectorize
/// the max-reduction; memcpy into a local block reads the floats' bits without aliasing UB.
template <class Bits, Bits kAbsMask, Bits kExponentMask>
bool all_finite_bits(const unsigned char* data, std::int64_t n) {
  constexpr std::int64_t kBlock = 64;
  Bits block[kBlock];
  std::int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    std::memcpy(block, data + i * static_cast<std::int64_t>(sizeof(Bits)), sizeof(block));
    Bits largest = 0;
    for (std::int64_t j = 0; j < kBlock; ++j)
      largest = std::max<Bits>(largest, block[j] & kAbsMask);
    if (largest >= kExponentMask)
      return false;
  }
  for (; i < n; ++i) {
    Bits bits;
    std::memcpy(&bits, data + i * static_cast<std::int64_t>(sizeof(Bits)), sizeof(Bits));
    if ((bits & kAbsMask) >= kExponentMask)
      return false;
  }
  return true;
}

/// at::isfinite(t).all() in one pass for contiguous CPU float32/float64 (the common case:
/// at::isfinite makes several passes and allocates a bool tensor of t's size).
bool all_finite(const at::Tensor& t) {
  if (t.device().is_cpu() && t.is_contiguous()) {
    const auto* data = static_cast<const unsigned char*>(t.data_ptr());
    if (t.scalar_type() == at::kFloat)
      return all_finite_bits<std::uint32_t, 0x7fffffffu, 0x7f800000u>(data, t.numel());
    if (t.scalar_type() == at::kDouble)
      return all_finite_bits<std::uint64_t, 0x7fffffffffffffffu, 0x7ff0000000000000u>(data,
                                                                                      t.numel());
  }
  return at::isfinite(t).all().item<bool>();
}

}  // namespace

std::string shape_string(const TensorSchema& schema) {
  std::string out = "[*";
  for (std::int64_t d : schema.shape)
    out += ", " + std::to_string(d);
  return out + "]";
}

Result<std::int64_t> check_batch(const std::vector<TensorSchema>& schema,
                                 const std::vector<at::Tensor>& tensors,
                                 bool check_finite,
                                 std::string_view what) {
  const std::string name(what);
  if (tensors.size() != schema.size())
    return Err(MoeErrc::kSchemaMismatch,
               "expected " + std::to_string(schema.size()) + " " + name + "s, got "
                   + std::to_string(tensors.size()));
  std::int64_t batch = -1;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i];
    const TensorSchema& s = schema[i];
    const std::string label = name + " " + std::to_string(i);
    if (!t.defined())
      return Err(MoeErrc::kSchemaMismatch, label + ": undefined tensor");
    if (compression::dtype_from_scalar_type(t.scalar_type()) != s.dtype)
      return Err(MoeErrc::kSchemaMismatch,
                 label + ": expected dtype " + std::string(compression::dtype_name(s.dtype))
                     + ", got " + dtype_text(t.scalar_type()));
    const auto sizes = t.sizes();
    bool shape_ok = sizes.size() == s.shape.size() + 1;
    for (std::size_t d = 0; shape_ok && d < s.shape.size(); ++d)
      shape_ok = sizes[d + 1] == s.shape[d];
    if (!shape_ok)
      return Err(MoeErrc::kSchemaMismatch,
                 label + ": expected shape " + shape_string(s) + ", got " + sizes_string(sizes));
    if (batch < 0)
      batch = sizes[0];
    else if (sizes[0] != batch)
      return Err(MoeErrc::kSchemaMismatch,
                 label + ": batch size " + std::to_string(sizes[0]) + " differs from "
                     + std::to_string(batch));
  }
  if (batch <= 0)
    return Err(MoeErrc::kEmptyBatch, "batch should contain more than 0 samples");
  if (check_finite) {
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const at::Tensor& t = tensors[i];
      if (t.is_floating_point() && !all_finite(t))
        return Err(MoeErrc::kNonFinite, name + " " + std::to_string(i) + " holds NaN or Inf");
    }
  }
  return batch;
}

TensorSchema schema_of(const at::Tensor& tensor) {
  HM_CHECK(tensor.defined() && tensor.dim() >= 1, "schema_of needs a batched tensor");
  const auto dtype = compression::dtype_from_scalar_type(tensor.scalar_type());
  HM_CHECK(dtype.has_value(), "schema_of: unsupported dtype");
  TensorSchema schema;
  schema.shape.assign(tensor.sizes().begin() + 1, tensor.sizes().end());
  schema.dtype = *dtype;
  return schema;
}

}  // namespace hivemind::moe
