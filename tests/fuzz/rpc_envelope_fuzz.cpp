// Fuzz target for the RPC codecs (rpc_codec.hpp): every parser of RPC bytes from the network runs
// on the input — uvarint-delimited framing, the unary envelope, streaming frames and RPCError —
// and decoded envelopes must survive a re-encode/decode round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "hivemind/net/rpc_codec.hpp"

namespace {

using hivemind::BytesView;
using namespace hivemind::net;  // NOLINT(google-build-using-namespace)

void check(bool condition) {
  if (!condition)
    std::abort();
}

void fuzz_envelope(BytesView message) {
  auto envelope = decode_unary_envelope(message);
  if (!envelope)
    return;
  auto again = decode_unary_envelope(encode_unary_envelope(*envelope));
  check(again.has_value());
  check(again->kind == envelope->kind && again->call_id == envelope->call_id
        && again->payload == envelope->payload && again->peer == envelope->peer
        && again->proto == envelope->proto);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const BytesView input(data, size);
  fuzz_envelope(input);

  // Delimited messages back to back, as a unary stream would carry them.
  BytesView rest = input;
  while (true) {
    auto decoded = decode_delimited(rest, 1 << 16);
    if (!decoded || !decoded->has_value())
      break;
    check((*decoded)->consumed > 0 && (*decoded)->consumed <= rest.size());
    fuzz_envelope((*decoded)->message);
    rest = rest.subspan((*decoded)->consumed);
  }

  // Streaming frames back to back; error frames carry RPCError bodies.
  rest = input;
  while (true) {
    auto frame = decode_stream_frame(rest, 1 << 16);
    if (!frame || !frame->has_value())
      break;
    check((*frame)->consumed >= kStreamFrameHeader && (*frame)->consumed <= rest.size());
    if ((*frame)->marker == StreamMarker::kError)
      (void)decode_rpc_error((*frame)->payload);
    rest = rest.subspan((*frame)->consumed);
  }
  (void)decode_rpc_error(input);
  return 0;
}
