// Decoding side of serialization.hpp. Every check happens before any allocation or read of the
// buffer: the header (dtype, codec/dtype pair, shape) against layout.hpp, the codebook and
// absmax counts stored in the buffer, then the exact buffer length. Multi-byte values are read
// with memcpy: a buffer viewed inside a message has no particular alignment.
#include <array>
#include <cstring>
#include <exception>
#include <memory>

#include <ATen/EmptyTensor.h>
#include <ATen/ops/from_blob.h>

#include "codecs.hpp"
#include "hivemind/compression/error.hpp"
#include "hivemind/compression/serialization.hpp"
#include "layout.hpp"
#include "memory.hpp"
#include "parallel.hpp"

namespace hivemind::compression {
namespace {

std::int64_t load_i64(const std::uint8_t* p) {
  std::int64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// The codebook/absmax counts stored at the start of an 8-bit codec's buffer.
Result<void> check_codebook(CompressionType type,
                            BytesView buffer,
                            const detail::ShapeInfo& shape) {
  if (type == CompressionType::kUniform8Bit || type == CompressionType::kQuantile8Bit) {
    if (buffer.size() < 8)
      return Err(CompressionErrc::kBufferSizeMismatch, "buffer shorter than its codebook length");
    if (load_i64(buffer.data()) != kCodebookSize)
      return Err(CompressionErrc::kBadCodebook, "codebook length is not 256");
  } else if (type == CompressionType::kBlockwise8Bit) {
    if (buffer.size() < 16)
      return Err(CompressionErrc::kBufferSizeMismatch, "buffer shorter than its header");
    if (load_i64(buffer.data()) != static_cast<std::int64_t>(detail::blockwise_blocks(shape.numel)))
      return Err(CompressionErrc::kBadCodebook, "absmax count is not ceil(numel / 4096)");
    if (load_i64(buffer.data() + 8) != kCodebookSize)
      return Err(CompressionErrc::kBadCodebook, "code length is not 256");
  }
  return ok();
}

// A new CPU tensor (at::detail::empty_cpu is at::empty without the dispatcher, and its header
// also compiles with clang, unlike ATen/ops/empty.h). Its memory is not touched yet: advise huge
// pages before the decoder's first write.
at::Tensor empty(at::IntArrayRef sizes, at::ScalarType type) {
  at::Tensor t(at::detail::empty_cpu(sizes, type, false, c10::nullopt));
  detail::advise_huge_pages(t.data_ptr(), t.nbytes());
  return t;
}

// bool bytes from the network may be any value; libtorch expects 0 or 1.
void normalize_bools(std::uint8_t* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    data[i] = data[i] != 0;
}

at::Tensor decode_none(BytesView buffer,
                       const detail::CheckedHeader& h,
                       at::IntArrayRef sizes,
                       Bytes* adopt,
                       WorkerPool* pool) {
  const std::uint64_t n = h.shape.numel;
  const at::ScalarType type = scalar_type_of(h.dtype);
  if (h.dtype == Dtype::kBFloat16 && n > 0 && buffer.size() == 4 * n) {
    // hivemind's legacy form: float32 values labelled bfloat16.
    at::Tensor f32 = empty(sizes, at::kFloat);
    detail::copy_bytes(
        buffer.data(), static_cast<std::uint8_t*>(f32.data_ptr()), buffer.size(), pool);
    return f32.to(at::kBFloat16);
  }
  if (adopt != nullptr && n > 0) {
    // Take over the buffer's memory (operator new: aligned for every element type).
    auto holder = std::make_shared<Bytes>(std::move(*adopt));
    std::uint8_t* data = holder->data();
    if (h.dtype == Dtype::kBool)
      normalize_bools(data, holder->size());
    return at::from_blob(
        data, sizes, [holder](void*) mutable { holder.reset(); }, at::TensorOptions().dtype(type));
  }
  at::Tensor out = empty(sizes, type);
  auto* dst = static_cast<std::uint8_t*>(out.data_ptr());
  detail::copy_bytes(buffer.data(), dst, buffer.size(), pool);
  if (h.dtype == Dtype::kBool)
    normalize_bools(dst, buffer.size());
  return out;
}

at::Tensor decode_codebook(BytesView buffer,
                           const detail::CheckedHeader& h,
                           at::IntArrayRef sizes,
                           WorkerPool* pool) {
  at::Tensor codebook = empty({kCodebookSize}, at::kFloat);
  std::memcpy(codebook.data_ptr(), buffer.data() + 8, 4 * kCodebookSize);
  // hivemind casts the codebook to the dtype, then indexes it.
  const at::Tensor table = codebook.to(scalar_type_of(h.dtype)).contiguous();
  at::Tensor out = empty(sizes, scalar_type_of(h.dtype));
  detail::decode_codebook8(buffer.data() + detail::kCodebookBytes,
                           h.shape.numel,
                           table.data_ptr(),
                           table.element_size(),
                           out.data_ptr(),
                           pool);
  return out;
}

at::Tensor decode_blockwise(BytesView buffer,
                            const detail::CheckedHeader& h,
                            at::IntArrayRef sizes,
                            WorkerPool* pool) {
  const std::uint64_t n = h.shape.numel;
  const std::uint64_t blocks = detail::blockwise_blocks(n);
  std::vector<float> absmax(blocks);
  std::memcpy(absmax.data(), buffer.data() + 16, 4 * blocks);
  std::array<float, kCodebookSize> code{};
  std::memcpy(code.data(), buffer.data() + 16 + 4 * blocks, 4 * kCodebookSize);
  at::Tensor out = empty(sizes, at::kFloat);
  detail::decode_blockwise8(buffer.data() + 16 + 4 * blocks + 4 * kCodebookSize,
                            n,
                            absmax.data(),
                            code.data(),
                            out.data_ptr<float>(),
                            pool);
  return out;
}

Result<at::Tensor> decode(const TensorMessageView& m, const CodecOptions& o, Bytes* adopt) {
  HM_TRY(detail::CheckedHeader h, detail::check_header(m.compression, m.dtype, m.size));
  HM_TRY_VOID(check_codebook(m.compression, m.buffer, h.shape));
  if (!h.buffer.allows(m.buffer.size()))
    return Err(CompressionErrc::kBufferSizeMismatch,
               std::string(compression_type_name(m.compression)) + " " + std::string(m.dtype)
                   + ": expected " + std::to_string(h.buffer.min) + " buffer bytes, got "
                   + std::to_string(m.buffer.size()));
  if (m.requires_grad && !is_floating(h.dtype))
    return Err(CompressionErrc::kUnsupportedDtype, "requires_grad on a non-floating dtype");
  std::vector<std::int64_t> sizes(m.size.begin(), m.size.end());
  at::Tensor out;
  if (h.shape.numel == 0) {
    out = empty(sizes, scalar_type_of(h.dtype));
  } else {
    switch (m.compression) {
      case CompressionType::kNone:
        out = decode_none(m.buffer, h, sizes, adopt, o.pool);
        break;
      case CompressionType::kFloat16:
        if (h.dtype == Dtype::kFloat16) {  // the buffer is the tensor
          out = decode_none(m.buffer, h, sizes, adopt, o.pool);
          break;
        }
        out = empty(sizes, at::kFloat);
        detail::decode_float16(m.buffer.data(), h.shape.numel, out.data_ptr<float>(), o.pool);
        break;
      case CompressionType::kMeanStd16Bit:
        out = empty(sizes, at::kFloat);
        detail::decode_meanstd(
            m.buffer.data(), h.shape.rows, m.size.back(), out.data_ptr<float>(), o.pool);
        break;
      case CompressionType::kUniform8Bit:
      case CompressionType::kQuantile8Bit:
        out = decode_codebook(m.buffer, h, sizes, o.pool);
        break;
      case CompressionType::kBlockwise8Bit:
        out = decode_blockwise(m.buffer, h, sizes, o.pool);
        break;
    }
    if (out.scalar_type() != scalar_type_of(h.dtype))
      out = out.to(scalar_type_of(h.dtype));
  }
  if (m.requires_grad)
    out.requires_grad_(true);
  return out;
}

Result<at::Tensor> guarded_decode(const TensorMessageView& m, const CodecOptions& o, Bytes* adopt) {
  try {
    return decode(m, o, adopt);
  } catch (const std::exception& e) {
    return Err(CompressionErrc::kTorchError, e.what());
  }
}

}  // namespace

Result<at::Tensor> deserialize_tensor(const TensorMessageView& message,
                                      const CodecOptions& options) {
  return guarded_decode(message, options, nullptr);
}

Result<at::Tensor> deserialize_tensor(const SerializedTensor& tensor, const CodecOptions& options) {
  return guarded_decode(view_of(tensor), options, nullptr);
}

Result<at::Tensor> deserialize_tensor(SerializedTensor&& tensor, const CodecOptions& options) {
  return guarded_decode(view_of(tensor), options, &tensor.buffer);
}

Result<at::Tensor> deserialize_tensor_message(BytesView message,
                                              const CodecOptions& options,
                                              const ParseLimits& limits) {
  HM_TRY(TensorMessageView view, parse_tensor_message_view(message, limits));
  return guarded_decode(view, options, nullptr);
}

Result<std::vector<at::Tensor>> deserialize_tensor_stream(std::vector<SerializedTensor> parts,
                                                          const CodecOptions& options,
                                                          const StreamLimits& limits) {
  HM_TRY(std::vector<SerializedTensor> tensors, assemble_tensor_stream(std::move(parts), limits));
  std::vector<at::Tensor> out;
  out.reserve(tensors.size());
  for (auto& t : tensors) {
    HM_TRY(at::Tensor decoded, deserialize_tensor(std::move(t), options));
    out.push_back(std::move(decoded));
  }
  return out;
}

}  // namespace hivemind::compression
