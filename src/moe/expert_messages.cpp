// Hand-written protobuf for runtime.proto's expert messages. Only the wire types proto3 uses
// are accepted (varint, fixed64, length-delimited, fixed32); groups are refused.
#include "hivemind/moe/expert_messages.hpp"

#include <cstdint>
#include <optional>

#include "hivemind/moe/error.hpp"

namespace hivemind::moe {
namespace {

constexpr std::uint8_t kVarint = 0;
constexpr std::uint8_t kFixed64 = 1;
constexpr std::uint8_t kLengthDelimited = 2;
constexpr std::uint8_t kFixed32 = 5;

void append_varint(Bytes& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

std::size_t varint_size(std::uint64_t value) {
  std::size_t n = 1;
  for (; value >= 0x80; value >>= 7)
    ++n;
  return n;
}

void append_length_delimited(Bytes& out, int field, BytesView payload) {
  out.push_back(static_cast<std::uint8_t>((field << 3) | kLengthDelimited));
  append_varint(out, payload.size());
  append(out, payload);
}

Err malformed(std::string detail) {
  return Err(MoeErrc::kBadRequest, std::move(detail));
}

/// A cursor over protobuf fields.
class FieldReader {
 public:
  explicit FieldReader(BytesView data) : data_(data) {}

  bool done() const { return pos_ == data_.size(); }

  Result<std::uint64_t> varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ == data_.size())
        return malformed("truncated varint");
      const std::uint8_t byte = data_[pos_++];
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0)
        return value;
    }
    return malformed("varint longer than 10 bytes");
  }

  Result<BytesView> bytes(std::uint64_t n) {
    if (n > data_.size() - pos_)
      return malformed("truncated field");
    BytesView out = data_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }

  /// Reads a key; returns (field number, wire type).
  Result<std::pair<std::uint64_t, std::uint8_t>> key() {
    HM_TRY(auto k, varint());
    const auto wire = static_cast<std::uint8_t>(k & 7);
    if (k >> 3 == 0)
      return malformed("field number 0");
    return std::pair{k >> 3, wire};
  }

  /// Skips a field of an unknown number.
  Result<void> skip(std::uint8_t wire) {
    switch (wire) {
      case kVarint: {
        HM_TRY_VOID(varint());
        return ok();
      }
      case kFixed64: {
        HM_TRY_VOID(bytes(8));
        return ok();
      }
      case kLengthDelimited: {
        HM_TRY(auto n, varint());
        HM_TRY_VOID(bytes(n));
        return ok();
      }
      case kFixed32: {
        HM_TRY_VOID(bytes(4));
        return ok();
      }
      default:
        return malformed("unsupported wire type " + std::to_string(wire));
    }
  }

  /// The payload of a length-delimited field whose key was just read.
  Result<BytesView> length_delimited(std::uint64_t field, std::uint8_t wire) {
    if (wire != kLengthDelimited)
      return malformed("field " + std::to_string(field) + " has wire type " + std::to_string(wire));
    HM_TRY(auto n, varint());
    return bytes(n);
  }

 private:
  BytesView data_;
  std::size_t pos_ = 0;
};

/// Parses a message with one length-delimited field 1 (ExpertUID, ExpertInfo).
Result<BytesView> parse_single_field(BytesView message) {
  FieldReader reader(message);
  BytesView value;
  while (!reader.done()) {
    HM_TRY(auto key, reader.key());
    if (key.first == 1) {
      HM_TRY(auto payload, reader.length_delimited(key.first, key.second));
      value = payload;  // proto3: the last occurrence wins
    } else {
      HM_TRY_VOID(reader.skip(key.second));
    }
  }
  return value;
}

}  // namespace

Result<ExpertMessageView> parse_expert_message(BytesView message) {
  ExpertMessageView view;
  FieldReader reader(message);
  while (!reader.done()) {
    HM_TRY(auto key, reader.key());
    const auto [field, wire] = key;
    if (field < 1 || field > 3) {
      HM_TRY_VOID(reader.skip(wire));
      continue;
    }
    HM_TRY(auto payload, reader.length_delimited(field, wire));
    if (field == 1) {
      view.uid = as_chars(payload);
    } else if (field == 2) {
      if (view.tensors.size() == kMaxTensorsPerMessage)
        return malformed("more than " + std::to_string(kMaxTensorsPerMessage) + " tensors");
      view.tensors.push_back(payload);
    } else {
      view.metadata = payload;
    }
  }
  return view;
}

Bytes encode_expert_request(std::string_view uid,
                            const std::vector<Bytes>& tensor_messages,
                            BytesView metadata) {
  std::size_t total = uid.size() + metadata.size() + 24;
  for (const auto& t : tensor_messages)
    total += t.size() + 11;
  Bytes out;
  out.reserve(total);
  if (!uid.empty())
    append_length_delimited(out, 1, as_bytes(uid));
  for (const auto& t : tensor_messages)
    append_length_delimited(out, 2, t);
  if (!metadata.empty())
    append_length_delimited(out, 3, metadata);
  return out;
}

Bytes encode_expert_message(std::string_view uid,
                            const std::vector<compression::SerializedTensor>& tensors,
                            BytesView metadata) {
  std::vector<std::size_t> sizes;
  sizes.reserve(tensors.size());
  std::size_t total = uid.size() + metadata.size() + 24;
  for (const auto& t : tensors) {
    sizes.push_back(compression::tensor_message_size(t));
    total += sizes.back() + 11;
  }
  Bytes out;
  out.reserve(total);
  if (!uid.empty())
    append_length_delimited(out, 1, as_bytes(uid));
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    out.push_back(static_cast<std::uint8_t>((2 << 3) | kLengthDelimited));
    append_varint(out, sizes[i]);
    compression::append_tensor_message(out, tensors[i]);
  }
  if (!metadata.empty())
    append_length_delimited(out, 3, metadata);
  return out;
}

Bytes encode_expert_uid(std::string_view uid) {
  Bytes out;
  out.reserve(uid.size() + 1 + varint_size(uid.size()));
  if (!uid.empty())
    append_length_delimited(out, 1, as_bytes(uid));
  return out;
}

Result<std::string> parse_expert_uid(BytesView message) {
  HM_TRY(auto uid, parse_single_field(message));
  return std::string(as_chars(uid));
}

Bytes encode_expert_info_message(BytesView serialized_info) {
  Bytes out;
  if (!serialized_info.empty())
    append_length_delimited(out, 1, serialized_info);
  return out;
}

Result<BytesView> parse_expert_info_message(BytesView message) {
  return parse_single_field(message);
}

}  // namespace hivemind::moe
