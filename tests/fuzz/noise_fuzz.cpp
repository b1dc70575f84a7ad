// Fuzz target for noise-libp2p. The first input byte picks what the rest is fed to:
//   0: message 1 to a responder (then the responder writes message 2),
//   1: message 2 to an initiator that sent a real message 1,
//   2: message 3 to a responder that completed messages 1 and 2 with a real initiator,
//   3: transport frames to NoiseTransport::open(), split at input-chosen points,
//   4: plaintext sealed and opened again in input-chosen chunks (must round-trip).
// All parties use fixed keys, so the seeds in corpus/noise/ (recorded from this exact handshake:
// identity seeds 32 x 0x11 / 0x22, X25519 statics 0x31 / 0x32, ephemerals 0x41 / 0x42) reach
// the deep states. Aborts on a violated invariant.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "hivemind/net/noise.hpp"

namespace {

using hivemind::Bytes;
using hivemind::BytesView;
using hivemind::net::KeyPair;
using hivemind::net::kNoiseMaxFrame;
using hivemind::net::NoiseHandshake;
using hivemind::net::NoiseTransport;
using hivemind::net::X25519Key;

X25519Key fixed_key(std::uint8_t fill) {
  X25519Key key{};
  key.fill(fill);
  return key;
}

const KeyPair& identity(std::uint8_t fill) {
  static const KeyPair initiator = [] {
    std::array<std::uint8_t, 32> seed{};
    seed.fill(0x11);
    return KeyPair::from_seed(seed);
  }();
  static const KeyPair responder = [] {
    std::array<std::uint8_t, 32> seed{};
    seed.fill(0x22);
    return KeyPair::from_seed(seed);
  }();
  return fill == 0x11 ? initiator : responder;
}

NoiseHandshake make_initiator() {
  return NoiseHandshake(NoiseHandshake::Role::kInitiator,
                        identity(0x11),
                        identity(0x22).peer_id(),
                        fixed_key(0x31),
                        fixed_key(0x41));
}

NoiseHandshake make_responder() {
  return NoiseHandshake(NoiseHandshake::Role::kResponder,
                        identity(0x22),
                        std::nullopt,
                        fixed_key(0x32),
                        fixed_key(0x42));
}

struct Session {
  Bytes m1;
  Bytes m2;
  NoiseTransport initiator;
  NoiseTransport responder;
};

/// The deterministic handshake between the fixed parties, run once.
const Session& session() {
  static const Session s = [] {
    NoiseHandshake initiator = make_initiator();
    NoiseHandshake responder = make_responder();
    Bytes m1 = *initiator.write_message();
    if (!responder.read_message(m1))
      std::abort();
    Bytes m2 = *responder.write_message();
    if (!initiator.read_message(m2))
      std::abort();
    if (!responder.read_message(*initiator.write_message()))
      std::abort();
    return Session{
        m1, m2, *std::move(initiator).into_transport(), *std::move(responder).into_transport()};
  }();
  return s;
}

/// Feeds `wire` to `transport` in chunks whose sizes come from `sizes` (cycled).
bool open_in_chunks(NoiseTransport& transport, BytesView wire, BytesView sizes, Bytes& out) {
  std::size_t i = 0;
  while (!wire.empty()) {
    std::size_t chunk = sizes.empty() ? wire.size() : 1 + sizes[i++ % sizes.size()] * 97u;
    chunk = std::min(chunk, wire.size());
    if (!transport.open(wire.first(chunk), out))
      return false;
    if (transport.buffered() > 2 + kNoiseMaxFrame)
      std::abort();
    wire = wire.subspan(chunk);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  const BytesView input(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      NoiseHandshake responder = make_responder();
      if (responder.read_message(input))
        (void)responder.write_message();
      break;
    }
    case 1: {
      NoiseHandshake initiator = make_initiator();
      (void)initiator.write_message();
      if (initiator.read_message(input)) {
        if (!initiator.write_message())
          std::abort();
        if (!initiator.complete())
          std::abort();
      }
      break;
    }
    case 2: {
      NoiseHandshake responder = make_responder();
      if (!responder.read_message(session().m1) || !responder.write_message())
        std::abort();
      if (responder.read_message(input)) {
        auto transport = std::move(responder).into_transport();
        if (!transport || transport->remote_peer() != identity(0x11).peer_id())
          std::abort();
      }
      break;
    }
    case 3: {
      NoiseTransport receiver = session().responder;
      const std::size_t split = input.empty() ? 0 : input[0] % 8;
      Bytes out;
      (void)open_in_chunks(receiver,
                           input.subspan(std::min(input.size(), split + 1)),
                           input.first(std::min(input.size(), split)),
                           out);
      break;
    }
    default: {
      NoiseTransport sender = session().initiator;
      NoiseTransport receiver = session().responder;
      Bytes wire;
      sender.seal(input, wire);
      Bytes out;
      if (!open_in_chunks(receiver, wire, input.first(std::min<std::size_t>(input.size(), 4)), out))
        std::abort();
      if (out != Bytes(input.begin(), input.end()))
        std::abort();
      break;
    }
  }
  return 0;
}
