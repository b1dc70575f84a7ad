// Fuzz target for multistream-select: splits the input into messages with
// decode_multistream_message and feeds them to a responder, then to an initiator, until either
// side finishes or the input ends. Decoding must never consume past the input; replies must stay
// within the message limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "hivemind/net/multistream.hpp"

namespace {

using hivemind::Bytes;
using hivemind::BytesView;
using hivemind::net::decode_multistream_message;
using hivemind::net::kMaxMultistreamMessage;
using hivemind::net::MultistreamInitiator;
using hivemind::net::MultistreamResponder;

// Feeds every complete message of `input` to `machine` until it stops; checks every reply.
template <typename Machine>
void run(Machine& machine, BytesView input) {
  Bytes out;
  while (!input.empty() && !machine.finished()) {
    auto decoded = decode_multistream_message(input);
    if (!decoded || !decoded->has_value())
      return;
    const auto& message = **decoded;
    if (message.consumed == 0 || message.consumed > input.size())
      std::abort();
    if (message.text.size() + 1 > kMaxMultistreamMessage)
      std::abort();
    input = input.subspan(message.consumed);
    out.clear();
    (void)machine.on_message(message.text, out);
    // Every reply must itself decode as one or more well-formed messages.
    BytesView reply(out);
    while (!reply.empty()) {
      auto r = decode_multistream_message(reply);
      if (!r || !r->has_value())
        std::abort();
      reply = reply.subspan((*r)->consumed);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const BytesView input(data, size);
  MultistreamResponder responder(
      [](std::string_view id) { return id == "/noise" || id == "/yamux/1.0.0"; });
  responder.set_protocols_for_ls({"/noise", "/yamux/1.0.0"});
  run(responder, input);

  MultistreamInitiator initiator({"/tls/1.0.0", "/noise"});
  (void)initiator.start();
  run(initiator, input);
  return 0;
}
