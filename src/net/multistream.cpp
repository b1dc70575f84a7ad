#include "hivemind/net/multistream.hpp"

#include <utility>

#include "hivemind/core/check.hpp"
#include "hivemind/core/error.hpp"
#include "hivemind/core/varint.hpp"
#include "hivemind/net/error.hpp"

namespace hivemind::net {
namespace {

constexpr std::string_view kNotAvailable = "na";
constexpr std::string_view kList = "ls";

// A length up to kMaxMultistreamMessage (1024) always fits in two varint bytes; a prefix still
// incomplete after this many bytes announces a larger message (or is non-minimal).
constexpr std::size_t kMaxPrefixBytes = 2;

}  // namespace

void append_multistream_message(Bytes& out, std::string_view text) {
  HM_CHECK(text.size() + 1 <= kMaxMultistreamMessage, "multistream message too long");
  append_uvarint(out, text.size() + 1);
  append(out, as_bytes(text));
  out.push_back('\n');
}

Result<std::optional<MultistreamMessage>> decode_multistream_message(BytesView buffered) {
  auto prefix = decode_uvarint(buffered);
  if (!prefix) {
    if (prefix.error() == CoreErrc::kTruncated) {
      if (buffered.size() >= kMaxPrefixBytes)
        return Err(NetErrc::kMessageTooLarge);
      return std::optional<MultistreamMessage>{};
    }
    if (prefix.error() == CoreErrc::kOverflow)
      return Err(NetErrc::kMessageTooLarge);
    return Err(NetErrc::kMalformedMessage);
  }
  const std::uint64_t length = prefix->value;
  if (length == 0)
    return Err(NetErrc::kMalformedMessage);
  if (length > kMaxMultistreamMessage)
    return Err(NetErrc::kMessageTooLarge);
  const std::size_t total = prefix->size + static_cast<std::size_t>(length);
  if (buffered.size() < total)
    return std::optional<MultistreamMessage>{};
  BytesView body = buffered.subspan(prefix->size, static_cast<std::size_t>(length));
  if (body.back() != '\n')
    return Err(NetErrc::kMalformedMessage);
  std::string text(as_chars(body.first(body.size() - 1)));
  return std::optional<MultistreamMessage>{MultistreamMessage{std::move(text), total}};
}

// ---------------------------------------------------------------------------------------------
// Initiator. States: kIdle --start()--> kAwaitHeader --header--> kAwaitReply --echo--> kDone;
// "na" in kAwaitReply sends the next proposal or fails when none is left. The responder's header
// and its answer to our first proposal may arrive in one read; the driver feeds them one by one.

MultistreamInitiator::MultistreamInitiator(std::vector<std::string> protocols)
    : protocols_(std::move(protocols)) {
  HM_CHECK(!protocols_.empty(), "MultistreamInitiator needs at least one protocol");
  for (const auto& id : protocols_) {
    HM_CHECK(!id.empty(), "empty protocol id");
    HM_CHECK(id.find('\n') == std::string::npos, "protocol id contains a newline");
    HM_CHECK(id.size() + 1 <= kMaxMultistreamMessage, "protocol id too long");
  }
}

Bytes MultistreamInitiator::start() {
  HM_CHECK(state_ == State::kIdle, "MultistreamInitiator::start called twice");
  Bytes out;
  append_multistream_message(out, kMultistreamProtocolId);
  append_multistream_message(out, protocols_[0]);
  state_ = State::kAwaitHeader;
  return out;
}

Result<std::optional<std::string>> MultistreamInitiator::fail(std::error_code error) {
  state_ = State::kFailed;
  return Err(error);
}

Result<std::optional<std::string>> MultistreamInitiator::on_message(std::string_view message,
                                                                    Bytes& out) {
  HM_CHECK(state_ == State::kAwaitHeader || state_ == State::kAwaitReply,
           "MultistreamInitiator::on_message outside a negotiation");
  if (state_ == State::kAwaitHeader) {
    if (message != kMultistreamProtocolId)
      return fail(NetErrc::kProtocolViolation);
    state_ = State::kAwaitReply;
    return std::optional<std::string>{};
  }
  if (message == protocols_[next_]) {
    state_ = State::kDone;
    return std::optional<std::string>{protocols_[next_]};
  }
  if (message != kNotAvailable)
    return fail(NetErrc::kProtocolViolation);
  if (++next_ == protocols_.size())
    return fail(NetErrc::kProtocolNotSupported);
  append_multistream_message(out, protocols_[next_]);
  return std::optional<std::string>{};
}

// ---------------------------------------------------------------------------------------------
// Responder. States: kAwaitHeader --header--> kAwaitProposal --supported id--> kDone. "ls" and
// unsupported ids are answered and counted; more than kMaxMultistreamRejections of them fail.

MultistreamResponder::MultistreamResponder(std::function<bool(std::string_view)> supports)
    : supports_(std::move(supports)) {
  HM_CHECK(static_cast<bool>(supports_), "MultistreamResponder needs a supports function");
}

void MultistreamResponder::set_protocols_for_ls(std::vector<std::string> protocols) {
  ls_source_ = [protocols = std::move(protocols)] {
    return protocols;
  };
}

void MultistreamResponder::set_ls_source(std::function<std::vector<std::string>()> source) {
  ls_source_ = std::move(source);
}

void MultistreamResponder::append_ls_reply(Bytes& out) const {
  // The answer is one message whose text is the concatenation of one framed message per
  // protocol id (as rust-libp2p and go-multistream send it). Ids that would push the whole
  // answer past kMaxMultistreamMessage are skipped.
  Bytes list;
  const std::vector<std::string> protocols = ls_source_ ? ls_source_() : std::vector<std::string>{};
  for (const auto& id : protocols) {
    if (id.empty() || id.size() + 1 > kMaxMultistreamMessage)
      continue;
    if (id.find('\n') != std::string::npos)
      continue;
    Bytes item;
    append_multistream_message(item, id);
    if (list.size() + item.size() + 1 > kMaxMultistreamMessage)
      continue;
    append(list, item);
  }
  append_multistream_message(out, as_chars(list));
}

Result<std::optional<std::string>> MultistreamResponder::on_message(std::string_view message,
                                                                    Bytes& out) {
  HM_CHECK(state_ == State::kAwaitHeader || state_ == State::kAwaitProposal,
           "MultistreamResponder::on_message outside a negotiation");
  if (state_ == State::kAwaitHeader) {
    if (message != kMultistreamProtocolId) {
      state_ = State::kFailed;
      return Err(NetErrc::kProtocolViolation);
    }
    append_multistream_message(out, kMultistreamProtocolId);
    state_ = State::kAwaitProposal;
    return std::optional<std::string>{};
  }
  const bool is_list = message == kList;
  if (!is_list && !message.empty() && supports_(message)) {
    append_multistream_message(out, message);
    state_ = State::kDone;
    return std::optional<std::string>{std::string(message)};
  }
  if (++rejections_ > kMaxMultistreamRejections) {
    state_ = State::kFailed;
    return Err(NetErrc::kProtocolNotSupported);
  }
  if (is_list) {
    append_ls_reply(out);
  } else {
    append_multistream_message(out, kNotAvailable);
  }
  return std::optional<std::string>{};
}

}  // namespace hivemind::net
