#pragma once
// Private: protobuf wire helpers for the runtime.proto Tensor message (tensor_message.cpp) and
// for writers that place a codec's output directly into message bytes (serialization.cpp).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "hivemind/compression/serialized_tensor.hpp"
#include "hivemind/core/bytes.hpp"

namespace hivemind::compression::detail {

/// Bytes of the protobuf varint encoding of `value`.
std::size_t varint_size(std::uint64_t value) noexcept;

/// Appends `value` as a protobuf varint.
void append_varint(Bytes& out, std::uint64_t value);

/// The header fields of a Tensor message (everything but the buffer).
struct TensorHeader {
  std::span<const std::uint32_t> size;
  bool requires_grad = false;
  std::string_view dtype;
  CompressionType compression = CompressionType::kNone;
  std::int32_t chunks = 0;
};

/// Size of the encoded message for this header and a buffer of `buffer_size` bytes.
std::size_t message_size(const TensorHeader& header, std::size_t buffer_size) noexcept;

/// Appends the key and length of field 1 for a buffer of `buffer_size` bytes (nothing when it
/// is empty: proto3 omits empty bytes). The caller then appends exactly that many bytes.
void append_buffer_key(Bytes& out, std::size_t buffer_size);

/// Appends fields 2..6 (after the buffer, in field order).
void append_header_fields(Bytes& out, const TensorHeader& header);

}  // namespace hivemind::compression::detail
