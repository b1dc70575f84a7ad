#pragma once
/// \file
/// Argument and output schemas of an expert (hivemind's `BatchTensorDescriptor`s: shape without
/// the batch dim, dtype, compression), the check every request's tensors must pass, and the
/// `rpc_info` payload: msgpack of hivemind's `ModuleBackend.get_info()` dict. Pure functions,
/// callable from any thread.

#include <cstdint>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "hivemind/compression/types.hpp"
#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/moe/error.hpp"

namespace hivemind::moe {

/// One batched tensor: every sample has `shape`; the batch dim (dim 0) is free.
struct TensorSchema {
  std::vector<std::int64_t> shape{};  ///< dims after the batch dim (may be empty: [B] tensors)
  compression::Dtype dtype = compression::Dtype::kFloat32;
  /// How this tensor travels (hivemind applies the server's compression to floating tensors
  /// only; non-floating tensors are always NONE).
  compression::CompressionType compression = compression::CompressionType::kNone;

  bool operator==(const TensorSchema&) const = default;
};

/// An expert's positional arguments and outputs (hivemind's forward_schema args and
/// outputs_schema; keyword arguments are not supported).
struct ExpertSchema {
  std::vector<TensorSchema> args{};
  std::vector<TensorSchema> outputs{};

  bool operator==(const ExpertSchema&) const = default;
};

/// Checks `tensors` against `schema` and returns their common batch size (> 0). Checks, in order:
/// the count, then per tensor that it is defined, its dtype, its dims after dim 0, its batch size
/// (equal to tensor 0's), then a batch size of 0, then (with `check_finite`) that floating
/// tensors hold no NaN/Inf. Errors, with details naming the tensor as `what` and its index:
///  * kSchemaMismatch: "expected 2 inputs, got 1", "input 0: expected dtype float32, got int64",
///    "input 0: expected shape [*, 1024], got [4, 11]", "input 1: batch size 3 differs from 4";
///  * kEmptyBatch: "batch should contain more than 0 samples";
///  * kNonFinite: "input 0 holds NaN or Inf".
/// The finiteness check reads every element (one pass); the others read only metadata.
Result<std::int64_t> check_batch(const std::vector<TensorSchema>& schema,
                                 const std::vector<at::Tensor>& tensors,
                                 bool check_finite,
                                 std::string_view what = "input");

/// The schema of a batched tensor: its dims after dim 0 and its dtype, compression NONE.
/// Precondition (HM_CHECK): defined, at least 1 dim, a dtype of compression/types.hpp.
TensorSchema schema_of(const at::Tensor& tensor);

/// "[*, 1024]" for a schema; "[4, 11]" for sizes. For error details and logs.
std::string shape_string(const TensorSchema& schema);

/// The rpc_info payload (`ExpertInfo.serialized_info`) as hivemind's MSGPackSerializer writes
/// `get_info()`: a map {"forward_schema": (args tuple, {}), "outputs_schema": descriptor (one
/// output) or tuple of descriptors, "keyword_names": ()}, each descriptor an ext 0x51 holding the
/// msgpack map {size: (None, d1, ...), dtype: "torch.float32", layout: "torch.strided",
/// requires_grad: False, pin_memory: False, compression: int, device_type: "cpu",
/// device_index: None} (hivemind/utils/tensor_descr.py `BatchTensorDescriptor.packb`). Tuples
/// are ext 0x40. Precondition: at least one output.
Bytes encode_expert_info(const ExpertSchema& schema);

/// Most tensors per side that decode_expert_info accepts, and most bytes of input.
inline constexpr std::size_t kMaxSchemaTensors = 256;
inline constexpr std::size_t kMaxExpertInfoBytes = 1u << 20;

/// Decodes an rpc_info payload from a (possibly hostile) peer. Accepts what hivemind writes:
/// keys in any order, unknown keys ignored; tuples or arrays; outputs as one descriptor or a
/// sequence; descriptors without dtype (float32), layout or device keys; dtype as "torch.X" or
/// "X". Errors (kBadRequest, detail saying what): not msgpack, missing or mistyped keys, keyword
/// arguments, a batch dim that is not None, negative or huge dims (> 2^40), more than
/// compression::kMaxTensorDims dims or kMaxSchemaTensors tensors, unknown dtype, layout other
/// than strided, unknown compression, duplicate keys, input over kMaxExpertInfoBytes.
Result<ExpertSchema> decode_expert_info(BytesView data);

}  // namespace hivemind::moe
