#include "hivemind/core/bytes.hpp"

#include "hivemind/core/error.hpp"
#include "hivemind/core/varint.hpp"

namespace hivemind {

std::string to_hex(BytesView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (std::uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}
}  // namespace

Result<Bytes> from_hex(std::string_view text) {
  if (text.size() % 2 != 0)
    return Err(CoreErrc::kInvalidArgument);
  Bytes out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(text[2 * i]);
    int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return Err(CoreErrc::kInvalidArgument);
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return out;
}

Result<std::uint8_t> ByteReader::read_u8() {
  if (remaining() < 1)
    return Err(CoreErrc::kTruncated);
  return data_[pos_++];
}

Result<std::uint16_t> ByteReader::read_be16() {
  if (remaining() < 2)
    return Err(CoreErrc::kTruncated);
  auto v = load_be<std::uint16_t>(data_.data() + pos_);
  pos_ += 2;
  return v;
}

Result<std::uint32_t> ByteReader::read_be32() {
  if (remaining() < 4)
    return Err(CoreErrc::kTruncated);
  auto v = load_be<std::uint32_t>(data_.data() + pos_);
  pos_ += 4;
  return v;
}

Result<std::uint64_t> ByteReader::read_be64() {
  if (remaining() < 8)
    return Err(CoreErrc::kTruncated);
  auto v = load_be<std::uint64_t>(data_.data() + pos_);
  pos_ += 8;
  return v;
}

Result<std::uint64_t> ByteReader::read_uvarint() {
  HM_TRY(auto decoded, decode_uvarint(rest()));
  pos_ += decoded.size;
  return decoded.value;
}

Result<BytesView> ByteReader::read_bytes(std::size_t n) {
  if (remaining() < n)
    return Err(CoreErrc::kTruncated);
  BytesView v = data_.subspan(pos_, n);
  pos_ += n;
  return v;
}

}  // namespace hivemind
