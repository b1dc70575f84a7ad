// Encoding side of serialization.hpp: tensor -> codec buffer, either into a SerializedTensor or
// straight into the bytes of a Tensor message. The codecs (codecs.hpp) read contiguous float32;
// other floating dtypes are converted once by libtorch, as hivemind converts with .float().
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>

#include <ATen/ops/from_blob.h>

#include "codecs.hpp"
#include "hivemind/compression/error.hpp"
#include "hivemind/compression/serialization.hpp"
#include "layout.hpp"
#include "memory.hpp"
#include "parallel.hpp"
#include "wire.hpp"

namespace hivemind::compression {
namespace {

// A tensor checked and made ready for one codec.
struct Prepared {
  at::Tensor source;  // NONE: the detached input; other codecs: contiguous float32
  Dtype dtype = Dtype::kFloat32;
  std::vector<std::uint32_t> size;
  bool requires_grad = false;
  CompressionType type = CompressionType::kNone;
  detail::ShapeInfo shape;
  bool bfloat16_as_float32 = false;  // NONE of bfloat16 in hivemind's legacy form
  std::uint64_t buffer_size = 0;
};

Result<Prepared> prepare(const at::Tensor& tensor, CompressionType type, const CodecOptions& o) {
  if (!tensor.defined())
    return Err(CompressionErrc::kUnsupportedTensor, "undefined tensor");
  if (!tensor.device().is_cpu() || tensor.layout() != c10::kStrided)
    return Err(CompressionErrc::kUnsupportedTensor, "only strided CPU tensors are serialized");
  const auto dtype = dtype_from_scalar_type(tensor.scalar_type());
  if (!dtype)
    return Err(CompressionErrc::kUnknownDtype, std::string(c10::toString(tensor.scalar_type())));
  if (!detail::codec_supports(type, *dtype))
    return Err(CompressionErrc::kUnsupportedDtype,
               std::string(compression_type_name(type)) + " does not support "
                   + std::string(dtype_name(*dtype)));
  Prepared p;
  p.dtype = *dtype;
  p.type = type;
  p.requires_grad = tensor.requires_grad();
  for (const std::int64_t d : tensor.sizes()) {
    if (d > std::numeric_limits<std::uint32_t>::max())
      return Err(CompressionErrc::kBadShape, "a size above 2^32-1 does not fit runtime.proto");
    p.size.push_back(static_cast<std::uint32_t>(d));
  }
  HM_TRY(p.shape, detail::check_shape(p.size));
  if (type == CompressionType::kMeanStd16Bit && p.size.empty())
    return Err(CompressionErrc::kBadShape, "MEANSTD_16BIT needs at least one dimension");
  const at::Tensor detached = tensor.detach();
  if (type == CompressionType::kNone) {
    p.source = detached;
    p.bfloat16_as_float32 = *dtype == Dtype::kBFloat16 && o.legacy_bfloat16;
    p.buffer_size = p.shape.numel * (p.bfloat16_as_float32 ? 4 : dtype_size(*dtype));
  } else {
    p.source = detached.to(at::kFloat).contiguous();
    p.buffer_size = detail::buffer_size(type, *dtype, p.shape);
  }
  return p;
}

// Writes the codec's buffer (p.buffer_size bytes) to `out` (any alignment).
void write_buffer(const Prepared& p, std::uint8_t* out, WorkerPool* pool) {
  const std::uint64_t n = p.shape.numel;
  if (p.type == CompressionType::kNone) {
    if (n == 0)
      return;
    const at::ScalarType wire_type = p.bfloat16_as_float32 ? at::kFloat : p.source.scalar_type();
    if (p.source.is_contiguous() && p.source.scalar_type() == wire_type) {
      detail::copy_bytes(
          static_cast<const std::uint8_t*>(p.source.data_ptr()), out, p.buffer_size, pool);
      return;
    }
    const std::size_t elem = p.buffer_size / n;
    if (reinterpret_cast<std::uintptr_t>(out) % elem == 0) {
      // One pass: libtorch gathers the strided input (and widens bfloat16) straight into `out`.
      at::from_blob(out, p.source.sizes(), at::TensorOptions().dtype(wire_type)).copy_(p.source);
      return;
    }
    const at::Tensor dense = p.source.to(wire_type).contiguous();
    detail::copy_bytes(
        static_cast<const std::uint8_t*>(dense.data_ptr()), out, p.buffer_size, pool);
    return;
  }
  const float* in = p.source.data_ptr<float>();
  switch (p.type) {
    case CompressionType::kFloat16:
      detail::encode_float16(in, n, out, pool);
      break;
    case CompressionType::kMeanStd16Bit: {
      const std::uint64_t cols = p.size.back();
      detail::encode_meanstd(in, p.shape.rows, cols, out, pool);
      break;
    }
    case CompressionType::kUniform8Bit:
      detail::encode_uniform8(in, n, out, pool);
      break;
    case CompressionType::kQuantile8Bit:
      detail::encode_quantile8(in, n, out, pool);
      break;
    case CompressionType::kBlockwise8Bit:
      detail::encode_blockwise8(in, n, out, pool);
      break;
    case CompressionType::kNone:
      break;
  }
}

detail::TensorHeader header_of(const Prepared& p) {
  return {p.size, p.requires_grad, dtype_name(p.dtype), p.type, 0};
}

}  // namespace

std::optional<Dtype> dtype_from_scalar_type(c10::ScalarType type) noexcept {
  switch (type) {
    case at::kFloat:
      return Dtype::kFloat32;
    case at::kHalf:
      return Dtype::kFloat16;
    case at::kBFloat16:
      return Dtype::kBFloat16;
    case at::kDouble:
      return Dtype::kFloat64;
    case at::kChar:
      return Dtype::kInt8;
    case at::kShort:
      return Dtype::kInt16;
    case at::kInt:
      return Dtype::kInt32;
    case at::kLong:
      return Dtype::kInt64;
    case at::kByte:
      return Dtype::kUInt8;
    case at::kBool:
      return Dtype::kBool;
    default:
      return std::nullopt;
  }
}

c10::ScalarType scalar_type_of(Dtype dtype) noexcept {
  switch (dtype) {
    case Dtype::kFloat32:
      return at::kFloat;
    case Dtype::kFloat16:
      return at::kHalf;
    case Dtype::kBFloat16:
      return at::kBFloat16;
    case Dtype::kFloat64:
      return at::kDouble;
    case Dtype::kInt8:
      return at::kChar;
    case Dtype::kInt16:
      return at::kShort;
    case Dtype::kInt32:
      return at::kInt;
    case Dtype::kInt64:
      return at::kLong;
    case Dtype::kUInt8:
      return at::kByte;
    case Dtype::kBool:
      return at::kBool;
  }
  return at::kFloat;
}

CompressionInfo compression_info(const at::Tensor& tensor, TensorKey key, TensorRole role) {
  CompressionInfo info;
  info.key = std::move(key);
  info.role = role;
  info.numel = tensor.defined() ? tensor.numel() : 0;
  info.dtype = tensor.defined()
                   ? dtype_from_scalar_type(tensor.scalar_type()).value_or(Dtype::kFloat32)
                   : Dtype::kFloat32;
  return info;
}

Result<SerializedTensor> serialize_tensor(const at::Tensor& tensor,
                                          CompressionType type,
                                          const CodecOptions& options) {
  try {
    HM_TRY(Prepared p, prepare(tensor, type, options));
    SerializedTensor out;
    detail::resize_fresh(out.buffer, static_cast<std::size_t>(p.buffer_size));
    write_buffer(p, out.buffer.data(), options.pool);
    out.size = std::move(p.size);
    out.requires_grad = p.requires_grad;
    out.dtype = std::string(dtype_name(p.dtype));
    out.compression = type;
    return out;
  } catch (const std::exception& e) {
    return Err(CompressionErrc::kTorchError, e.what());
  }
}

Result<SerializedTensor> serialize_tensor(const at::Tensor& tensor,
                                          const Compression& policy,
                                          const CompressionInfo& info,
                                          const CodecOptions& options) {
  HM_TRY(CompressionType type, policy.choose(info));
  return serialize_tensor(tensor, type, options);
}

Result<void> serialize_tensor_message(const at::Tensor& tensor,
                                      CompressionType type,
                                      Bytes& out,
                                      const CodecOptions& options) {
  // The message is [field 1 key and length][codec buffer][fields 2..6]; the two small parts are
  // built aside and the codec writes straight into `out` between them (no second copy).
  auto encode = [&]() -> Result<void> {
    HM_TRY(Prepared p, prepare(tensor, type, options));
    const auto buffer_size = static_cast<std::size_t>(p.buffer_size);
    Bytes head;
    detail::append_buffer_key(head, buffer_size);
    Bytes tail;
    detail::append_header_fields(tail, header_of(p));
    detail::resize_for_overwrite(out, head.size() + buffer_size + tail.size());
    std::uint8_t* const at = out.data();
    if (!head.empty())  // empty for an empty buffer (proto3 omits it)
      std::memcpy(at, head.data(), head.size());
    write_buffer(p, at + head.size(), options.pool);
    if (!tail.empty())
      std::memcpy(at + head.size() + buffer_size, tail.data(), tail.size());
    return ok();
  };
  Result<void> result = ok();
  try {
    result = encode();
  } catch (const std::exception& e) {
    result = Err(CompressionErrc::kTorchError, e.what());
  }
  if (!result)
    out.clear();
  return result;
}

Result<Bytes> serialize_tensor_message(const at::Tensor& tensor,
                                       CompressionType type,
                                       const CodecOptions& options) {
  Bytes out;
  HM_TRY_VOID(serialize_tensor_message(tensor, type, out, options));
  return out;
}

}  // namespace hivemind::compression
