// runtime.proto Tensor: hand-written protobuf encoding and zero-copy parsing (see
// serialized_tensor.hpp). Field keys are (number << 3) | wire type.
#include <limits>

#include "hivemind/compression/error.hpp"
#include "hivemind/compression/serialized_tensor.hpp"
#include "wire.hpp"

namespace hivemind::compression {
namespace detail {
namespace {

constexpr std::uint8_t kVarint = 0;
constexpr std::uint8_t kFixed64 = 1;
constexpr std::uint8_t kLengthDelimited = 2;
constexpr std::uint8_t kFixed32 = 5;

constexpr std::uint8_t key(int field, std::uint8_t wire_type) {
  return static_cast<std::uint8_t>((field << 3) | wire_type);
}

std::size_t packed_size_bytes(std::span<const std::uint32_t> size) noexcept {
  std::size_t n = 0;
  for (std::uint32_t d : size)
    n += varint_size(d);
  return n;
}

// An int32 goes on the wire sign-extended to 64 bits (negative values take 10 bytes).
std::uint64_t int32_wire(std::int32_t v) noexcept {
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(v));
}

}  // namespace

std::size_t varint_size(std::uint64_t value) noexcept {
  std::size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

void append_varint(Bytes& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

std::size_t message_size(const TensorHeader& h, std::size_t buffer_size) noexcept {
  std::size_t n = 0;
  if (buffer_size > 0)
    n += 1 + varint_size(buffer_size) + buffer_size;
  if (!h.size.empty()) {
    const std::size_t packed = packed_size_bytes(h.size);
    n += 1 + varint_size(packed) + packed;
  }
  if (h.requires_grad)
    n += 2;
  if (!h.dtype.empty())
    n += 1 + varint_size(h.dtype.size()) + h.dtype.size();
  if (h.compression != CompressionType::kNone)
    n += 1 + varint_size(static_cast<std::uint64_t>(h.compression));
  if (h.chunks != 0)
    n += 1 + varint_size(int32_wire(h.chunks));
  return n;
}

void append_buffer_key(Bytes& out, std::size_t buffer_size) {
  if (buffer_size == 0)
    return;
  out.push_back(key(1, kLengthDelimited));
  append_varint(out, buffer_size);
}

void append_header_fields(Bytes& out, const TensorHeader& h) {
  if (!h.size.empty()) {
    out.push_back(key(2, kLengthDelimited));
    append_varint(out, packed_size_bytes(h.size));
    for (std::uint32_t d : h.size)
      append_varint(out, d);
  }
  if (h.requires_grad) {
    out.push_back(key(3, kVarint));
    out.push_back(1);
  }
  if (!h.dtype.empty()) {
    out.push_back(key(4, kLengthDelimited));
    append_varint(out, h.dtype.size());
    append(out, as_bytes(h.dtype));
  }
  if (h.compression != CompressionType::kNone) {
    out.push_back(key(5, kVarint));
    append_varint(out, static_cast<std::uint64_t>(h.compression));
  }
  if (h.chunks != 0) {
    out.push_back(key(6, kVarint));
    append_varint(out, int32_wire(h.chunks));
  }
}

}  // namespace detail

namespace {

using detail::TensorHeader;

TensorHeader header_of(const SerializedTensor& t) {
  return {t.size, t.requires_grad, t.dtype, t.compression, t.chunks};
}

Err malformed(const char* what) {
  return Err(CompressionErrc::kMalformedMessage, what);
}

// Bounds-checked protobuf reader over untrusted bytes.
class WireReader {
 public:
  explicit WireReader(BytesView data) : data_(data) {}

  bool empty() const { return pos_ == data_.size(); }

  // A varint of at most 10 bytes whose value fits 64 bits (protobuf accepts non-minimal ones).
  Result<std::uint64_t> varint() {
    std::uint64_t value = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos_ == data_.size())
        return malformed("truncated varint");
      const std::uint8_t b = data_[pos_++];
      if (i == 9 && b > 1)
        return malformed("varint overflows 64 bits");
      value |= static_cast<std::uint64_t>(b & 0x7F) << (7 * i);
      if ((b & 0x80) == 0)
        return value;
    }
    return malformed("varint longer than 10 bytes");
  }

  Result<BytesView> bytes(std::uint64_t n) {
    if (n > data_.size() - pos_)
      return malformed("length-delimited field runs past the end");
    BytesView v = data_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return v;
  }

  Result<BytesView> length_delimited() {
    HM_TRY(std::uint64_t n, varint());
    return bytes(n);
  }

  Result<void> skip(std::uint8_t wire_type) {
    switch (wire_type) {
      case detail::kVarint: {
        HM_TRY_VOID(varint());
        return ok();
      }
      case detail::kFixed64: {
        HM_TRY_VOID(bytes(8));
        return ok();
      }
      case detail::kLengthDelimited: {
        HM_TRY_VOID(length_delimited());
        return ok();
      }
      case detail::kFixed32: {
        HM_TRY_VOID(bytes(4));
        return ok();
      }
      default:
        return malformed("unsupported wire type (groups are not allowed)");
    }
  }

 private:
  BytesView data_;
  std::size_t pos_ = 0;
};

// protobuf parses an int32 from the low 32 bits of a 64-bit varint; we accept only values that
// are a sign-extended int32 (what every encoder writes) and reject the rest.
Result<std::int32_t> to_int32(std::uint64_t v) {
  const auto s = static_cast<std::int64_t>(v);
  if (s < std::numeric_limits<std::int32_t>::min() || s > std::numeric_limits<std::int32_t>::max())
    return malformed("int32 field out of range");
  return static_cast<std::int32_t>(s);
}

Result<void> add_dim(TensorMessageView& out, std::uint64_t v, const ParseLimits& limits) {
  if (v > std::numeric_limits<std::uint32_t>::max())
    return malformed("size entry above 2^32-1");
  if (out.size.size() >= limits.max_dims)
    return Err(CompressionErrc::kBadShape, "too many dimensions");
  out.size.push_back(static_cast<std::uint32_t>(v));
  return ok();
}

Result<void> parse_field(WireReader& r,
                         int field,
                         std::uint8_t wire_type,
                         TensorMessageView& out,
                         const ParseLimits& limits) {
  auto expect = [&](std::uint8_t wanted) -> Result<void> {
    if (wire_type != wanted)
      return malformed("wrong wire type for a known field");
    return ok();
  };
  switch (field) {
    case 1: {
      HM_TRY_VOID(expect(detail::kLengthDelimited));
      HM_TRY(out.buffer, r.length_delimited());
      return ok();
    }
    case 2: {
      if (wire_type == detail::kVarint) {  // unpacked repeated entry
        HM_TRY(std::uint64_t v, r.varint());
        return add_dim(out, v, limits);
      }
      HM_TRY_VOID(expect(detail::kLengthDelimited));
      HM_TRY(BytesView packed, r.length_delimited());
      WireReader entries(packed);
      while (!entries.empty()) {
        HM_TRY(std::uint64_t v, entries.varint());
        HM_TRY_VOID(add_dim(out, v, limits));
      }
      return ok();
    }
    case 3: {
      HM_TRY_VOID(expect(detail::kVarint));
      HM_TRY(std::uint64_t v, r.varint());
      out.requires_grad = v != 0;
      return ok();
    }
    case 4: {
      HM_TRY_VOID(expect(detail::kLengthDelimited));
      HM_TRY(BytesView s, r.length_delimited());
      if (s.size() > limits.max_dtype_length)
        return malformed("dtype string too long");
      out.dtype = as_chars(s);
      return ok();
    }
    case 5: {
      HM_TRY_VOID(expect(detail::kVarint));
      HM_TRY(std::uint64_t v, r.varint());
      HM_TRY(std::int32_t value, to_int32(v));
      auto type = compression_type_from_wire(value);
      if (!type)
        return Err(CompressionErrc::kUnknownCompression,
                   "compression value " + std::to_string(value));
      out.compression = *type;
      return ok();
    }
    case 6: {
      HM_TRY_VOID(expect(detail::kVarint));
      HM_TRY(std::uint64_t v, r.varint());
      HM_TRY(out.chunks, to_int32(v));
      return ok();
    }
    default:
      return r.skip(wire_type);
  }
}

}  // namespace

TensorMessageView view_of(const SerializedTensor& t) {
  return {t.buffer, t.size, t.requires_grad, t.dtype, t.compression, t.chunks};
}

SerializedTensor to_owned(const TensorMessageView& v) {
  return {Bytes(v.buffer.begin(), v.buffer.end()),
          v.size,
          v.requires_grad,
          std::string(v.dtype),
          v.compression,
          v.chunks};
}

std::size_t tensor_message_size(const SerializedTensor& tensor) noexcept {
  return detail::message_size(header_of(tensor), tensor.buffer.size());
}

void append_tensor_message(Bytes& out, const SerializedTensor& tensor) {
  out.reserve(out.size() + tensor_message_size(tensor));
  detail::append_buffer_key(out, tensor.buffer.size());
  append(out, tensor.buffer);
  detail::append_header_fields(out, header_of(tensor));
}

Bytes encode_tensor_message(const SerializedTensor& tensor) {
  Bytes out;
  append_tensor_message(out, tensor);
  return out;
}

Result<TensorMessageView> parse_tensor_message_view(BytesView message, const ParseLimits& limits) {
  TensorMessageView out;
  WireReader r(message);
  while (!r.empty()) {
    HM_TRY(std::uint64_t k, r.varint());
    const std::uint64_t field = k >> 3;
    if (field == 0 || field > (1u << 29) - 1)
      return malformed("invalid field number");
    HM_TRY_VOID(
        parse_field(r, static_cast<int>(field), static_cast<std::uint8_t>(k & 7), out, limits));
  }
  return out;
}

Result<SerializedTensor> parse_tensor_message(BytesView message, const ParseLimits& limits) {
  HM_TRY(TensorMessageView view, parse_tensor_message_view(message, limits));
  return to_owned(view);
}

}  // namespace hivemind::compression
