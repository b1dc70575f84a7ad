#include "hivemind/net/yamux_frame.hpp"

#include "hivemind/core/error.hpp"
#include "hivemind/net/error.hpp"

namespace hivemind::net {

void encode_yamux_header(const YamuxHeader& header, std::uint8_t* out) noexcept {
  out[0] = header.version;
  out[1] = static_cast<std::uint8_t>(header.type);
  store_be<std::uint16_t>(out + 2, header.flags);
  store_be<std::uint32_t>(out + 4, header.stream);
  store_be<std::uint32_t>(out + 8, header.length);
}

void append_yamux_header(Bytes& out, const YamuxHeader& header) {
  const std::size_t at = out.size();
  out.resize(at + kYamuxHeaderSize);
  encode_yamux_header(header, out.data() + at);
}

Result<YamuxHeader> decode_yamux_header(BytesView bytes) {
  if (bytes.size() < kYamuxHeaderSize) {
    return Err(CoreErrc::kTruncated);
  }
  const std::uint8_t* p = bytes.data();
  if (p[0] != kYamuxVersion) {
    return Err(NetErrc::kMalformedMessage);
  }
  if (p[1] > static_cast<std::uint8_t>(YamuxType::kGoAway)) {
    return Err(NetErrc::kMalformedMessage);
  }
  YamuxHeader h;
  h.version = p[0];
  h.type = static_cast<YamuxType>(p[1]);
  h.flags = load_be<std::uint16_t>(p + 2);
  h.stream = load_be<std::uint32_t>(p + 4);
  h.length = load_be<std::uint32_t>(p + 8);
  return h;
}

}  // namespace hivemind::net
