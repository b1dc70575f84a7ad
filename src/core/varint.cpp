#include "hivemind/core/varint.hpp"

#include "hivemind/core/check.hpp"
#include "hivemind/core/error.hpp"

namespace hivemind {

void append_uvarint(Bytes& out, std::uint64_t value) {
  HM_CHECK(value < (std::uint64_t{1} << 63), "uvarint values must be below 2^63");
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

std::size_t uvarint_size(std::uint64_t value) noexcept {
  std::size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

Result<DecodedUvarint> decode_uvarint(BytesView data) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (i == kMaxUvarintBytes)
      return Err(CoreErrc::kOverflow);
    const std::uint8_t b = data[i];
    value |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      if (b == 0 && i > 0)
        return Err(CoreErrc::kNonMinimal);
      return DecodedUvarint{value, i + 1};
    }
  }
  if (data.size() >= kMaxUvarintBytes)
    return Err(CoreErrc::kOverflow);
  return Err(CoreErrc::kTruncated);
}

}  // namespace hivemind
