// noise-libp2p transport framing (libp2p/specs noise/README.md "Wire Format"): every Noise
// transport message travels as `u16 big-endian length || ciphertext || 16-byte tag`, with the
// nonce counting frames per direction. Encryption and decryption run out of place, straight from
// the caller's plaintext to the wire buffer and from the wire buffer to the caller's plaintext
// buffer: no byte is copied besides the cipher's own pass.

#include "hivemind/core/check.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/noise.hpp"

namespace hivemind::net {
namespace {

constexpr std::size_t kLengthSize = 2;
constexpr std::size_t kTagSize = NoiseCipherState::kTagSize;

}  // namespace

NoiseTransport::NoiseTransport(NoiseCipherPair ciphers, PublicKey remote_key, PeerId remote_peer)
    : send_(std::move(ciphers.send)),
      recv_(std::move(ciphers.recv)),
      remote_key_(std::move(remote_key)),
      remote_peer_(std::move(remote_peer)) {}

std::size_t NoiseTransport::sealed_size(std::size_t plaintext_size) noexcept {
  const std::size_t frames = plaintext_size == 0 ? 1
                                                 : (plaintext_size + kNoiseMaxFramePlaintext - 1)
                                                       / kNoiseMaxFramePlaintext;
  return plaintext_size + frames * (kLengthSize + kTagSize);
}

std::size_t NoiseTransport::check_send_budget(std::size_t plaintext_size) const {
  const std::size_t frames = plaintext_size == 0 ? 1
                                                 : (plaintext_size + kNoiseMaxFramePlaintext - 1)
                                                       / kNoiseMaxFramePlaintext;
  HM_CHECK(frames <= NoiseCipherState::kMaxNonce - send_.nonce(),
           "Noise send nonce exhausted: the connection must be closed");
  return frames;
}

void NoiseTransport::seal_into(BytesView plaintext, std::uint8_t* out) {
  const std::size_t frames = check_send_budget(plaintext.size());
  std::size_t offset = 0;
  for (std::size_t i = 0; i < frames; ++i) {
    const std::size_t size = std::min(kNoiseMaxFramePlaintext, plaintext.size() - offset);
    store_be<std::uint16_t>(out, static_cast<std::uint16_t>(size + kTagSize));
    out += kLengthSize;
    // Cannot fail: the key is set and the nonce budget was checked above.
    (void)send_.encrypt({}, plaintext.data() + offset, out, size, out + size);
    out += size + kTagSize;
    offset += size;
  }
}

std::size_t NoiseTransport::seal_parts_into(std::span<const BytesView> parts, std::uint8_t* out) {
  std::size_t size = 0;
  for (const BytesView part : parts)
    size += part.size();
  HM_CHECK(size <= kNoiseMaxFramePlaintext, "seal_parts_into: more than one frame of plaintext");
  check_send_budget(size);
  store_be<std::uint16_t>(out, static_cast<std::uint16_t>(size + kTagSize));
  // Cannot fail: the key is set and the nonce budget was checked above.
  (void)send_.encrypt_parts({}, parts, out + kLengthSize, out + kLengthSize + size);
  return kLengthSize + size + kTagSize;
}

void NoiseTransport::seal(BytesView plaintext, Bytes& out) {
  check_send_budget(plaintext.size());  // before `out` grows
  const std::size_t start = out.size();
  out.resize(start + sealed_size(plaintext.size()));
  seal_into(plaintext, out.data() + start);
}

Result<void> NoiseTransport::open_body(BytesView body, std::uint8_t* out, std::size_t& written) {
  if (body.size() < kTagSize)
    return Err(NetErrc::kMalformedMessage);
  const std::size_t size = body.size() - kTagSize;
  // On a bad tag decrypt() zeroes the bytes it wrote and `written` does not advance, so no
  // unauthenticated byte is ever exposed.
  HM_TRY_VOID(recv_.decrypt({}, body.data(), out + written, size, body.data() + size));
  written += size;
  return ok();
}

Result<void> NoiseTransport::open(BytesView wire, Bytes& out) {
  const std::size_t start = out.size();
  out.resize(start + pending_.size() + wire.size());
  std::size_t written = 0;
  auto opened = open_to(wire, out.data() + start, written);
  out.resize(start + written);
  return opened;
}

Result<std::size_t> NoiseTransport::open_into(BytesView wire, std::span<std::uint8_t> out) {
  HM_CHECK(out.size() >= pending_.size() + wire.size(), "open_into: output buffer too small");
  std::size_t written = 0;
  HM_TRY_VOID(open_to(wire, out.data(), written));
  return written;
}

Result<void> NoiseTransport::open_to(BytesView wire, std::uint8_t* out, std::size_t& written) {
  if (failed_)
    return Err(NetErrc::kProtocolViolation);
  auto fail = [this](std::error_code error) -> Result<void> {
    failed_ = true;
    pending_.clear();
    return Err(error);
  };
  // 1. Complete a frame left partial by an earlier call.
  if (!pending_.empty()) {
    if (pending_.size() < kLengthSize) {
      const std::size_t take = std::min(kLengthSize - pending_.size(), wire.size());
      append(pending_, wire.first(take));
      wire = wire.subspan(take);
      if (pending_.size() < kLengthSize)
        return ok();
    }
    const std::size_t length = load_be<std::uint16_t>(pending_.data());
    if (length < kTagSize)
      return fail(NetErrc::kMalformedMessage);
    pending_.reserve(kLengthSize + length);
    const std::size_t take = std::min(kLengthSize + length - pending_.size(), wire.size());
    append(pending_, wire.first(take));
    wire = wire.subspan(take);
    if (pending_.size() < kLengthSize + length)
      return ok();
    auto opened = open_body(BytesView(pending_).subspan(kLengthSize), out, written);
    pending_.clear();
    if (!opened)
      return fail(opened.error());
  }
  // 2. Complete frames straight from the input.
  while (wire.size() >= kLengthSize) {
    const std::size_t length = load_be<std::uint16_t>(wire.data());
    if (length < kTagSize)
      return fail(NetErrc::kMalformedMessage);
    if (wire.size() < kLengthSize + length)
      break;
    auto opened = open_body(wire.subspan(kLengthSize, length), out, written);
    if (!opened)
      return fail(opened.error());
    wire = wire.subspan(kLengthSize + length);
  }
  // 3. Keep the rest (shorter than one frame) for the next call.
  if (!wire.empty()) {
    if (wire.size() >= kLengthSize && load_be<std::uint16_t>(wire.data()) < kTagSize) {
      return fail(NetErrc::kMalformedMessage);
    }
    if (wire.size() >= kLengthSize)
      pending_.reserve(kLengthSize + load_be<std::uint16_t>(wire.data()));
    append(pending_, wire);
  }
  return ok();
}

}  // namespace hivemind::net
