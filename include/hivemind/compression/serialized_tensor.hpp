#pragma once
/// \file
/// runtime.proto `Tensor` as plain C++ values (no protobuf types), and its protobuf wire
/// encoding, written and parsed by hand so that the buffer is copied at most once:
///
///     message Tensor { bytes buffer = 1; repeated uint32 size = 2; bool requires_grad = 3;
///                      string dtype = 4; CompressionType compression = 5; int32 chunks = 6; }
///
/// Encoding is byte-identical to protobuf's (fields in number order, proto3 defaults omitted,
/// `size` packed). Parsing accepts what protobuf accepts for these fields (packed or unpacked
/// `size`, repeated fields, unknown fields skipped, last value wins) except values that do not
/// fit their field, which are errors rather than silently truncated. Torch-free; all functions
/// are pure and thread-safe. Layouts: docs/protocols/compression.md.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hivemind/compression/types.hpp"
#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::compression {

/// One runtime.proto `Tensor` message: a whole serialized tensor, or one part of a chunk stream
/// (then only the first part carries the header fields; see streaming.hpp). Value type.
struct SerializedTensor {
  Bytes buffer;                     ///< field 1: the codec's output bytes
  std::vector<std::uint32_t> size;  ///< field 2: the shape; empty = 0-d (one element)
  bool requires_grad = false;       ///< field 3
  std::string dtype;                ///< field 4: wire dtype name; empty in continuation parts
  CompressionType compression = CompressionType::kNone;  ///< field 5
  std::int32_t chunks = 0;  ///< field 6: number of parts, on the first part of a stream

  bool operator==(const SerializedTensor&) const = default;
};

/// A parsed `Tensor` message whose buffer and dtype view the message bytes (no copy): valid only
/// while those bytes are.
struct TensorMessageView {
  BytesView buffer;
  std::vector<std::uint32_t> size;
  bool requires_grad = false;
  std::string_view dtype;
  CompressionType compression = CompressionType::kNone;
  std::int32_t chunks = 0;
};

/// Limits applied when parsing untrusted messages.
struct ParseLimits {
  std::size_t max_dims = kMaxTensorDims;  ///< entries of `size`
  std::size_t max_dtype_length = 32;      ///< bytes of `dtype`
};

/// Views the fields of `tensor` (no copy); valid while `tensor` is unchanged.
TensorMessageView view_of(const SerializedTensor& tensor);

/// Copies a view into an owning value (one copy of the buffer).
SerializedTensor to_owned(const TensorMessageView& view);

/// Exact size in bytes of the protobuf encoding of `tensor`.
std::size_t tensor_message_size(const SerializedTensor& tensor) noexcept;

/// Appends the protobuf encoding of `tensor` to `out`.
void append_tensor_message(Bytes& out, const SerializedTensor& tensor);

/// The protobuf encoding of `tensor`.
Bytes encode_tensor_message(const SerializedTensor& tensor);

/// Parses a `Tensor` message without copying its buffer. Errors: kMalformedMessage (bad
/// varint, truncated field, wrong wire type for a known field, group fields, a size above
/// 2^32-1, an int32 field out of range, a dtype longer than the limit), kUnknownCompression,
/// kBadShape (more dims than the limit). Does not check that the buffer matches the header; the
/// decoder does (serialization.hpp).
Result<TensorMessageView> parse_tensor_message_view(BytesView message,
                                                    const ParseLimits& limits = {});

/// As parse_tensor_message_view, then copies the buffer into an owning value.
Result<SerializedTensor> parse_tensor_message(BytesView message, const ParseLimits& limits = {});

}  // namespace hivemind::compression
