// Fuzz target for the multiaddr parsers: the input is tried both as the binary form and as text.
// Every parsed value must survive a round trip through the other form unchanged (the canonical
// bytes of a parsed address parse back to the same bytes), else the target aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "hivemind/net/multiaddr.hpp"

namespace {

using hivemind::BytesView;
using hivemind::net::Multiaddr;
using hivemind::net::Protocol;

void check_round_trips(const Multiaddr& addr) {
  auto from_text = Multiaddr::from_string(addr.to_string());
  if (!from_text || from_text->bytes() != addr.bytes())
    std::abort();
  auto from_bytes = Multiaddr::from_bytes(addr.bytes());
  if (!from_bytes || *from_bytes != addr)
    std::abort();
  if (from_bytes->to_string() != addr.to_string())
    std::abort();
  // Accessors must not fail on any parsed value.
  (void)addr.tcp_target();
  if (auto id = addr.peer_id()) {
    if (addr.without_peer_id().with_peer_id(*id).bytes().empty())
      std::abort();
  }
  (void)addr.decapsulate(Protocol::kTcp);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const BytesView input(data, size);
  if (auto addr = Multiaddr::from_bytes(input))
    check_round_trips(*addr);
  if (auto addr = Multiaddr::from_string(hivemind::as_chars(input)))
    check_round_trips(*addr);
  return 0;
}
