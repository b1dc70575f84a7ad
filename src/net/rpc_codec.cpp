#include "hivemind/net/rpc_codec.hpp"

#include "hivemind/core/error.hpp"
#include "hivemind/core/varint.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind_proto/p2pd.pb.h"

namespace hivemind::net {

namespace pb = hivemind::proto::p2pd;

Bytes encode_unary_envelope(const UnaryEnvelope& envelope) {
  pb::PersistentConnectionRequest msg;
  msg.set_callid(envelope.call_id.data(), envelope.call_id.size());
  switch (envelope.kind) {
    case UnaryEnvelope::Kind::kRequest: {
      auto* call = msg.mutable_callunary();
      call->set_peer(envelope.peer.data(), envelope.peer.size());
      call->set_proto(envelope.proto);
      call->set_data(envelope.payload.data(), envelope.payload.size());
      break;
    }
    case UnaryEnvelope::Kind::kResponse:
      msg.mutable_unaryresponse()->set_response(envelope.payload.data(), envelope.payload.size());
      break;
    case UnaryEnvelope::Kind::kError:
      msg.mutable_unaryresponse()->set_error(envelope.payload.data(), envelope.payload.size());
      break;
    case UnaryEnvelope::Kind::kCancel:
      msg.mutable_cancel();
      break;
  }
  Bytes out(msg.ByteSizeLong());
  msg.SerializeWithCachedSizesToArray(out.data());
  return out;
}

Result<UnaryEnvelope> decode_unary_envelope(BytesView message) {
  if (message.size() > kMaxUnaryMessage)
    return Err(NetErrc::kMessageTooLarge);
  pb::PersistentConnectionRequest msg;
  // ParsePartial + IsInitialized: the same check without libprotobuf logging every bad message
  // (a hostile peer could otherwise flood the log).
  if (!msg.ParsePartialFromArray(message.data(), static_cast<int>(message.size()))
      || !msg.IsInitialized()) {
    return Err(NetErrc::kMalformedMessage, "unary envelope does not parse");
  }
  UnaryEnvelope out;
  out.call_id.assign(msg.callid().begin(), msg.callid().end());
  switch (msg.message_case()) {
    case pb::PersistentConnectionRequest::kCallUnary: {
      const auto& call = msg.callunary();
      out.kind = UnaryEnvelope::Kind::kRequest;
      out.peer.assign(call.peer().begin(), call.peer().end());
      out.proto = call.proto();
      out.payload.assign(call.data().begin(), call.data().end());
      return out;
    }
    case pb::PersistentConnectionRequest::kUnaryResponse: {
      const auto& reply = msg.unaryresponse();
      if (reply.result_case() == pb::CallUnaryResponse::kResponse) {
        out.kind = UnaryEnvelope::Kind::kResponse;
        out.payload.assign(reply.response().begin(), reply.response().end());
      } else if (reply.result_case() == pb::CallUnaryResponse::kError) {
        out.kind = UnaryEnvelope::Kind::kError;
        out.payload.assign(reply.error().begin(), reply.error().end());
      } else {
        return Err(NetErrc::kMalformedMessage, "unary response carries neither result nor error");
      }
      return out;
    }
    case pb::PersistentConnectionRequest::kCancel:
      out.kind = UnaryEnvelope::Kind::kCancel;
      return out;
    default:
      return Err(NetErrc::kMalformedMessage, "unary envelope of unknown kind");
  }
}

void append_delimited(Bytes& out, BytesView message) {
  append_uvarint(out, message.size());
  append(out, message);
}

Result<std::optional<DelimitedMessage>> decode_delimited(BytesView buffered, std::size_t max_size) {
  auto prefix = decode_uvarint(buffered);
  if (!prefix) {
    if (prefix.error() == CoreErrc::kTruncated)
      return std::optional<DelimitedMessage>{};
    return Err(NetErrc::kMalformedMessage, "bad length prefix");
  }
  if (prefix->value > max_size) {
    return Err(NetErrc::kMessageTooLarge,
               "declared message length " + std::to_string(prefix->value) + " exceeds limit "
                   + std::to_string(max_size));
  }
  const auto length = static_cast<std::size_t>(prefix->value);
  if (buffered.size() - prefix->size < length)
    return std::optional<DelimitedMessage>{};
  return std::optional<DelimitedMessage>{
      DelimitedMessage{buffered.subspan(prefix->size, length), prefix->size + length}};
}

void append_stream_frame(Bytes& out, StreamMarker marker, BytesView payload) {
  out.push_back(static_cast<std::uint8_t>(marker));
  append_be<std::uint64_t>(out, payload.size());
  append(out, payload);
}

Result<std::optional<StreamFrame>> decode_stream_frame(BytesView buffered, std::size_t max_size) {
  if (buffered.empty())
    return std::optional<StreamFrame>{};
  const auto marker = buffered[0];
  if (marker > static_cast<std::uint8_t>(StreamMarker::kError)) {
    return Err(NetErrc::kMalformedMessage, "unknown stream frame marker " + std::to_string(marker));
  }
  if (buffered.size() < kStreamFrameHeader)
    return std::optional<StreamFrame>{};
  const auto length = load_be<std::uint64_t>(buffered.data() + 1);
  if (length > max_size) {
    return Err(NetErrc::kMessageTooLarge,
               "declared frame length " + std::to_string(length) + " exceeds limit "
                   + std::to_string(max_size));
  }
  if (buffered.size() - kStreamFrameHeader < length)
    return std::optional<StreamFrame>{};
  return std::optional<StreamFrame>{
      StreamFrame{static_cast<StreamMarker>(marker),
                  buffered.subspan(kStreamFrameHeader, static_cast<std::size_t>(length)),
                  kStreamFrameHeader + static_cast<std::size_t>(length)}};
}

Bytes encode_rpc_error(std::string_view message) {
  pb::RPCError msg;
  if (!message.empty())
    msg.set_message(std::string(message));
  Bytes out(msg.ByteSizeLong());
  msg.SerializeWithCachedSizesToArray(out.data());
  return out;
}

Result<std::string> decode_rpc_error(BytesView body) {
  pb::RPCError msg;
  if (!msg.ParsePartialFromArray(body.data(), static_cast<int>(body.size()))
      || !msg.IsInitialized()) {
    return Err(NetErrc::kMalformedMessage, "RPCError does not parse");
  }
  return msg.message();
}

}  // namespace hivemind::net
