// noise-libp2p transport framing (libp2p/specs noise/README.md "Wire Format"): every Noise
// transport message travels as `u16 big-endian length || ciphertext || 16-byte tag`, with the
// nonce counting frames per direction. Encryption and decryption work in place in the caller's
// output buffer, so each plaintext byte is copied once.

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

void NoiseTransport::seal(BytesView plaintext, Bytes& out) {
  const std::size_t frames = plaintext.empty() ? 1
                                               : (plaintext.size() + kNoiseMaxFramePlaintext - 1)
                                                     / kNoiseMaxFramePlaintext;
  HM_CHECK(frames <= NoiseCipherState::kMaxNonce - send_.nonce(),
           "Noise send nonce exhausted: the connection must be closed");
  out.reserve(out.size() + plaintext.size() + frames * (kLengthSize + kTagSize));
  std::size_t offset = 0;
  for (std::size_t i = 0; i < frames; ++i) {
    const std::size_t size = std::min(kNoiseMaxFramePlaintext, plaintext.size() - offset);
    append_be(out, static_cast<std::uint16_t>(size + kTagSize));
    const std::size_t body = out.size();
    out.insert(out.end(),
               plaintext.begin() + static_cast<std::ptrdiff_t>(offset),
               plaintext.begin() + static_cast<std::ptrdiff_t>(offset + size));
    out.resize(out.size() + kTagSize);  // within the reserved capacity: no reallocation
    // Cannot fail: the key is set and the nonce budget was checked above.
    (void)send_.encrypt({}, out.data() + body, size, out.data() + body + size);
    offset += size;
  }
}

Result<void> NoiseTransport::open_body(BytesView body, Bytes& out) {
  if (body.size() < kTagSize)
    return Err(NetErrc::kMalformedMessage);
  const std::size_t size = body.size() - kTagSize;
  const std::size_t start = out.size();
  out.insert(out.end(), body.begin(), body.begin() + static_cast<std::ptrdiff_t>(size));
  auto decrypted = recv_.decrypt({}, out.data() + start, size, body.data() + size);
  if (!decrypted)
    out.resize(start);  // never expose unauthenticated bytes
  return decrypted;
}

Result<void> NoiseTransport::open(BytesView wire, Bytes& out) {
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
    auto opened = open_body(BytesView(pending_).subspan(kLengthSize), out);
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
    auto opened = open_body(wire.subspan(kLengthSize, length), out);
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
