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

// Where a decoder writes: the caller's tensor when deserialize_tensor(view, out) was given one
// that fits (the declared shape and dtype, contiguous CPU memory, a leaf, not overlapping the
// input), else new memory.
class Output {
 public:
  Output(at::IntArrayRef sizes, at::ScalarType declared, const at::Tensor* reuse, BytesView input)
      : sizes_(sizes), declared_(declared), reuse_(reuse), input_(input) {}

  // A tensor of the message's shape and `type` to write every element of: the caller's when
  // `type` is the declared dtype and it fits.
  at::Tensor make(at::ScalarType type) const {
    return type == declared_ && fits() ? *reuse_ : empty(sizes_, type);
  }

  // `decoded` as the declared dtype (decoders of floating codecs produce float32).
  at::Tensor convert(const at::Tensor& decoded) const {
    if (decoded.scalar_type() == declared_)
      return decoded;
    if (!fits())
      return decoded.to(declared_);
    reuse_->detach().copy_(decoded);  // detached: no autograd check on a leaf
    return *reuse_;
  }

  bool reused(const at::Tensor& t) const noexcept {
    return reuse_ != nullptr && reuse_->defined() && t.is_same(*reuse_);
  }

 private:
  bool fits() const {
    if (reuse_ == nullptr || !reuse_->defined())
      return false;
    const at::Tensor& t = *reuse_;
    if (!t.device().is_cpu() || t.layout() != c10::kStrided || t.scalar_type() != declared_
        || t.sizes() != sizes_ || !t.is_contiguous() || !t.is_leaf() || t.is_inference()
        || t.is_neg() || t.is_conj())
      return false;
    if (t.numel() == 0)
      return true;
    const auto* begin = static_cast<const std::uint8_t*>(t.data_ptr());
    const std::uint8_t* end = begin + t.nbytes();
    return end <= input_.data() || begin >= input_.data() + input_.size();
  }

  at::IntArrayRef sizes_;
  at::ScalarType declared_;
  const at::Tensor* reuse_;
  BytesView input_;
};

// bool bytes from the network may be any value; libtorch expects 0 or 1.
void normalize_bools(std::uint8_t* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    data[i] = data[i] != 0;
}

at::Tensor decode_none(BytesView buffer,
                       const detail::CheckedHeader& h,
                       at::IntArrayRef sizes,
                       const Output& output,
                       Bytes* adopt,
                       WorkerPool* pool) {
  const std::uint64_t n = h.shape.numel;
  const at::ScalarType type = scalar_type_of(h.dtype);
  if (h.dtype == Dtype::kBFloat16 && n > 0 && buffer.size() == 4 * n) {
    // hivemind's legacy form: float32 values labelled bfloat16.
    at::Tensor f32 = empty(sizes, at::kFloat);
    detail::copy_bytes(
        buffer.data(), static_cast<std::uint8_t*>(f32.data_ptr()), buffer.size(), pool);
    return output.convert(f32);
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
  at::Tensor out = output.make(type);
  auto* dst = static_cast<std::uint8_t*>(out.data_ptr());
  detail::copy_bytes(buffer.data(), dst, buffer.size(), pool);
  if (h.dtype == Dtype::kBool)
    normalize_bools(dst, buffer.size());
  return out;
}

at::Tensor decode_codebook(BytesView buffer,
                           const detail::CheckedHeader& h,
                           const Output& output,
                           WorkerPool* pool) {
  at::Tensor codebook = empty({kCodebookSize}, at::kFloat);
  std::memcpy(codebook.data_ptr(), buffer.data() + 8, 4 * kCodebookSize);
  // hivemind casts the codebook to the dtype, then indexes it.
  const at::Tensor table = codebook.to(scalar_type_of(h.dtype)).contiguous();
  at::Tensor out = output.make(scalar_type_of(h.dtype));
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
                            const Output& output,
                            WorkerPool* pool) {
  const std::uint64_t n = h.shape.numel;
  const std::uint64_t blocks = detail::blockwise_blocks(n);
  std::vector<float> absmax(blocks);
  std::memcpy(absmax.data(), buffer.data() + 16, 4 * blocks);
  std::array<float, kCodebookSize> code{};
  std::memcpy(code.data(), buffer.data() + 16 + 4 * blocks, 4 * kCodebookSize);
  at::Tensor out = output.make(at::kFloat);
  detail::decode_blockwise8(buffer.data() + 16 + 4 * blocks + 4 * kCodebookSize,
                            n,
                            absmax.data(),
                            code.data(),
                            out.data_ptr<float>(),
                            pool);
  return out;
}

// Decodes `m`; `adopt`: the buffer's owner, whose memory NONE may take over; `reuse`: a tensor
// to decode into when it fits (see Output).
Result<at::Tensor> decode(const TensorMessageView& m,
                          const CodecOptions& o,
                          Bytes* adopt,
                          const at::Tensor* reuse) {
  HM_TRY(detail::CheckedHeader h, detail::check_header(m.compression, m.dtype, m.size));
  HM_TRY_VOID(check_codebook(m.compression, m.buffer, h.shape));
  if (!h.buffer.allows(m.buffer.size()))
    return Err(CompressionErrc::kBufferSizeMismatch,
               std::string(compression_type_name(m.compression)) + " " + std::string(m.dtype)
                   + ": expected " + std::to_string(h.buffer.min) + " buffer bytes, got "
                   + std::to_string(m.buffer.size()));
  if (m.requires_grad && !is_floating(h.dtype))
    return Err(CompressionErrc::kUnsupportedDtype, "requires_grad on a non-floating dtype");
  const std::vector<std::int64_t> sizes(m.size.begin(), m.size.end());
  const at::ScalarType type = scalar_type_of(h.dtype);
  const Output output(sizes, type, reuse, m.buffer);
  at::Tensor out;
  if (h.shape.numel == 0) {
    out = output.make(type);
  } else {
    switch (m.compression) {
      case CompressionType::kNone:
        out = decode_none(m.buffer, h, sizes, output, adopt, o.pool);
        break;
      case CompressionType::kFloat16:
        if (h.dtype == Dtype::kFloat16) {  // the buffer is the tensor
          out = decode_none(m.buffer, h, sizes, output, adopt, o.pool);
          break;
        }
        out = output.make(at::kFloat);
        detail::decode_float16(m.buffer.data(), h.shape.numel, out.data_ptr<float>(), o.pool);
        break;
      case CompressionType::kMeanStd16Bit:
        out = output.make(at::kFloat);
        detail::decode_meanstd(
            m.buffer.data(), h.shape.rows, m.size.back(), out.data_ptr<float>(), o.pool);
        break;
      case CompressionType::kUniform8Bit:
      case CompressionType::kQuantile8Bit:
        out = decode_codebook(m.buffer, h, output, o.pool);
        break;
      case CompressionType::kBlockwise8Bit:
        out = decode_blockwise(m.buffer, h, output, o.pool);
        break;
    }
    out = output.convert(out);
  }
  if (output.reused(out)) {
    // Written through raw pointers: tell autograd the data changed (like an in-place op).
    out.unsafeGetTensorImpl()->bump_version();
    out.requires_grad_(m.requires_grad);
  } else if (m.requires_grad) {
    out.requires_grad_(true);
  }
  return out;
}

Result<at::Tensor> guarded_decode(const TensorMessageView& m,
                                  const CodecOptions& o,
                                  Bytes* adopt,
                                  const at::Tensor* reuse = nullptr) {
  try {
    return decode(m, o, adopt, reuse);
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

Result<void> deserialize_tensor(const TensorMessageView& message,
                                at::Tensor& out,
                                const CodecOptions& options) {
  HM_TRY(at::Tensor decoded, guarded_decode(message, options, nullptr, &out));
  out = std::move(decoded);
  return ok();
}

Result<void> deserialize_tensor(const SerializedTensor& tensor,
                                at::Tensor& out,
                                const CodecOptions& options) {
  return deserialize_tensor(view_of(tensor), out, options);
}

Result<void> deserialize_tensor_message(BytesView message,
                                        at::Tensor& out,
                                        const CodecOptions& options,
                                        const ParseLimits& limits) {
  HM_TRY(TensorMessageView view, parse_tensor_message_view(message, limits));
  return deserialize_tensor(view, out, options);
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
