// Fuzz target for the identity parsers: the input is tried as a binary multihash, as base58 text,
// as a PublicKey protobuf and as a PrivateKey protobuf. Whatever parses must round-trip to the
// same bytes (the parsers only accept canonical encodings), else the target aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "hivemind/net/base58.hpp"
#include "hivemind/net/identity.hpp"
#include "hivemind/net/peer_id.hpp"

namespace {

using hivemind::Bytes;
using hivemind::BytesView;
using hivemind::net::KeyPair;
using hivemind::net::PeerId;
using hivemind::net::PublicKey;

void check_peer_id(const PeerId& id) {
  auto again = PeerId::from_string(id.to_string());
  if (!again || *again != id)
    std::abort();
  if (auto key = id.public_key()) {
    // An embedded key is canonical, so hashing it again must give the same id.
    if (PeerId::from_public_key(*key) != id)
      std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const BytesView input(data, size);
  const std::string_view text = hivemind::as_chars(input);

  if (auto id = PeerId::from_bytes(input)) {
    if (id->bytes() != Bytes(input.begin(), input.end()))
      std::abort();
    check_peer_id(*id);
  }
  if (auto id = PeerId::from_string(text)) {
    if (id->to_string() != text)
      std::abort();
    check_peer_id(*id);
  }
  if (auto decoded = hivemind::net::base58_decode(text)) {
    if (hivemind::net::base58_encode(*decoded) != text)
      std::abort();
  }
  if (auto key = PublicKey::from_protobuf(input)) {
    if (key->to_protobuf() != Bytes(input.begin(), input.end()))
      std::abort();
    (void)key->verify(input, input);
    check_peer_id(PeerId::from_public_key(*key));
  }
  if (auto pair = KeyPair::from_protobuf(input)) {
    auto key = PublicKey::from_protobuf(pair->public_key().to_protobuf());
    if (!key || *key != pair->public_key())
      std::abort();
  }
  return 0;
}
