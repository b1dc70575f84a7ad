#pragma once
/// \file
/// Tensors to runtime.proto `Tensor` messages and back, with hivemind's codecs
/// (hivemind/compression/serialization.py: serialize_torch_tensor, deserialize_torch_tensor,
/// deserialize_tensor_stream). Layouts: docs/protocols/compression.md.
///
/// Encoding takes any CPU strided tensor of a supported dtype (any shape, zero-size and 0-d
/// included, contiguous or not) and copies its data once (NONE) or reads it once per codec pass.
/// Decoding validates everything first (dtype, codec/dtype pair, shape, buffer length, codebook
/// lengths) and reports malformed input as an error, never an exception or a read out of bounds.
/// All functions are thread-safe for distinct arguments; with `CodecOptions::pool` set, large
/// tensors are processed in fixed 64K-element ranges on the pool (the bytes do not depend on the
/// number of threads). libtorch exceptions (e.g. out of memory) become kTorchError. Overloads
/// that write into a caller's Bytes or tensor reuse their memory from call to call: touching new
/// memory (page faults) costs more than a codec pass on large tensors.

#include <vector>

#include <ATen/core/Tensor.h>

#include "hivemind/compression/error.hpp"
#include "hivemind/compression/policy.hpp"
#include "hivemind/compression/serialized_tensor.hpp"
#include "hivemind/compression/streaming.hpp"
#include "hivemind/compression/types.hpp"
#include "hivemind/compression/worker_pool.hpp"
#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::compression {

/// How to encode and decode; one aggregate, defaults here.
struct CodecOptions {
  /// Threads for large tensors (not owned; may be shared). nullptr: the calling thread only.
  WorkerPool* pool = nullptr;
  /// NONE of bfloat16 sends float32 values (4 bytes each) labelled "bfloat16", as hivemind does
  /// by default (USE_LEGACY_BFLOAT16=1), so that every hivemind version can decode it. false:
  /// raw 2-byte bfloat16 (hivemind >= 1.2 with USE_LEGACY_BFLOAT16=0 sends and reads this).
  /// Decoding accepts both regardless of this setting.
  bool legacy_bfloat16 = true;
};

/// Encodes `tensor` with `type`. The result's buffer is the codec's output, `size` the shape,
/// `dtype` the wire name of tensor's dtype, `requires_grad` the tensor's flag, `chunks` 0.
/// Errors: kUnsupportedTensor (undefined, not on CPU, not strided), kUnknownDtype (a dtype
/// outside types.hpp's list), kUnsupportedDtype (e.g. FLOAT16 of int64 or bfloat16, as hivemind
/// refuses), kBadShape (a size above 2^32-1, or MEANSTD_16BIT of a 0-d tensor), kTorchError.
Result<SerializedTensor> serialize_tensor(const at::Tensor& tensor,
                                          CompressionType type,
                                          const CodecOptions& options = {});

/// Chooses the codec with `policy` for `info` (see policy.hpp), then encodes as above.
/// kNoCompressionForKey when the policy has no entry for info.key.
Result<SerializedTensor> serialize_tensor(const at::Tensor& tensor,
                                          const Compression& policy,
                                          const CompressionInfo& info,
                                          const CodecOptions& options = {});

/// Encodes straight into the bytes of a Tensor message (the codec writes into the message: no
/// second copy). Same errors as serialize_tensor.
Result<Bytes> serialize_tensor_message(const at::Tensor& tensor,
                                       CompressionType type,
                                       const CodecOptions& options = {});

/// As above, into `out`, whose contents are replaced by the message. `out`'s memory is reused:
/// when it already holds a message of the same size (e.g. the previous call's, for a tensor of
/// the same shape, dtype and codec) nothing is allocated or zero-filled before the codec writes,
/// so a loop that sends the same tensors every step touches no new memory. A larger message
/// grows it (zero-filling the new part); a smaller one shrinks it (capacity kept). `tensor` must
/// not view `out`'s memory. On error `out` is empty.
Result<void> serialize_tensor_message(const at::Tensor& tensor,
                                      CompressionType type,
                                      Bytes& out,
                                      const CodecOptions& options = {});

/// Decodes a parsed message (buffer viewed, not copied). The tensor owns new memory of the
/// declared shape and dtype, with requires_grad as declared. Errors: kUnknownDtype,
/// kUnsupportedDtype (codec/dtype pair hivemind cannot produce, or requires_grad on a
/// non-floating dtype), kBadShape, kBadCodebook, kBufferSizeMismatch, kTorchError.
Result<at::Tensor> deserialize_tensor(const TensorMessageView& message,
                                      const CodecOptions& options = {});

/// As above for an owned value.
Result<at::Tensor> deserialize_tensor(const SerializedTensor& tensor,
                                      const CodecOptions& options = {});

/// As above; for NONE (except bfloat16 sent as float32) the tensor adopts the buffer's memory
/// instead of copying it.
Result<at::Tensor> deserialize_tensor(SerializedTensor&& tensor, const CodecOptions& options = {});

/// Parses a Tensor message and decodes it, reading the buffer in place (one copy in all).
/// Errors: those of parse_tensor_message_view and of deserialize_tensor.
Result<at::Tensor> deserialize_tensor_message(BytesView message,
                                              const CodecOptions& options = {},
                                              const ParseLimits& limits = {});

/// Decodes into `out`. When `out` is a defined CPU tensor of the declared shape and dtype with
/// contiguous memory, a leaf of autograd (no grad_fn), not an inference tensor, and its memory
/// does not overlap the buffer, the values are written into that memory (nothing is allocated,
/// every view of it sees them; its version counter is bumped as by an in-place operation);
/// otherwise `out` is replaced by a new tensor, as the value-returning overload returns. Either
/// way `out.requires_grad()` is then the message's flag. Errors as the overload above; on error
/// `out` is unchanged (its memory too: everything is validated before the first write).
Result<void> deserialize_tensor(const TensorMessageView& message,
                                at::Tensor& out,
                                const CodecOptions& options = {});

/// As above for an owned value (its buffer is read, not adopted).
Result<void> deserialize_tensor(const SerializedTensor& tensor,
                                at::Tensor& out,
                                const CodecOptions& options = {});

/// Parses a Tensor message and decodes it into `out` as above, reading the buffer in place.
/// Errors: those of parse_tensor_message_view and of deserialize_tensor.
Result<void> deserialize_tensor_message(BytesView message,
                                        at::Tensor& out,
                                        const CodecOptions& options = {},
                                        const ParseLimits& limits = {});

/// Rebuilds and decodes every tensor of a complete chunk stream (hivemind
/// deserialize_tensor_stream). Errors: those of TensorStreamAssembler and deserialize_tensor.
Result<std::vector<at::Tensor>> deserialize_tensor_stream(std::vector<SerializedTensor> parts,
                                                          const CodecOptions& options = {},
                                                          const StreamLimits& limits = {});

/// The CompressionInfo of a whole tensor (numel, dtype; float32 when the dtype is not one of
/// types.hpp's) with the given key and role.
CompressionInfo compression_info(const at::Tensor& tensor,
                                 TensorKey key = {},
                                 TensorRole role = TensorRole::kUnspecified);

/// Our dtype for a libtorch scalar type, or nullopt (complex, quantized, ...).
std::optional<Dtype> dtype_from_scalar_type(c10::ScalarType type) noexcept;

/// The libtorch scalar type of a dtype.
c10::ScalarType scalar_type_of(Dtype dtype) noexcept;

}  // namespace hivemind::compression
