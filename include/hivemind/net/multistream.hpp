#pragma once
/// \file
/// multistream-select 1.0 (libp2p protocol negotiation): the message codec and the initiator and
/// responder state machines. No I/O: a driver reads bytes, splits them into messages with
/// `decode_multistream_message`, feeds each message to a state machine and writes the bytes the
/// state machine appends to its `out` buffer. Wire format:
/// docs/protocols/multiaddr-and-multistream.md.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::net {

/// The protocol id of multistream-select itself, sent as the first message by both sides.
inline constexpr std::string_view kMultistreamProtocolId = "/multistream/1.0.0";

/// Largest accepted message in bytes, counted as the length prefix counts it (text plus '\n').
inline constexpr std::size_t kMaxMultistreamMessage = 1024;

/// Proposals (and "ls" requests) a responder answers without agreeing before it gives up with
/// kProtocolNotSupported, so a peer cannot keep a negotiation alive forever.
inline constexpr std::size_t kMaxMultistreamRejections = 16;

/// Appends one message: uvarint(text.size() + 1) || text || '\n'. Precondition (HM_CHECK): the
/// framed length `text.size() + 1` is at most kMaxMultistreamMessage. Pure.
void append_multistream_message(Bytes& out, std::string_view text);

/// One decoded message: its text without the trailing '\n', and how many bytes of the input it
/// took (length prefix included).
struct MultistreamMessage {
  std::string text;
  std::size_t consumed = 0;
};

/// Decodes one message at the front of `buffered` (untrusted bytes). Returns nullopt when more
/// bytes are needed to complete it; never looks past the first message. Errors:
/// kMessageTooLarge for a length above kMaxMultistreamMessage (reported as soon as the prefix
/// shows it, before the body arrives), kMalformedMessage for a zero length, a non-minimal or
/// overlong length prefix, or a message whose last byte is not '\n'. Pure.
Result<std::optional<MultistreamMessage>> decode_multistream_message(BytesView buffered);

/// Initiator ("dialer") side of one negotiation: proposes `protocols` in preference order,
/// pipelining the header with the first proposal, and moves to the next proposal after each "na".
/// Single-threaded value object: use it from one thread (the connection's network thread).
class MultistreamInitiator {
 public:
  /// `protocols` in preference order. Preconditions (HM_CHECK): non-empty list; every id
  /// non-empty, without '\n', and short enough to frame within kMaxMultistreamMessage.
  explicit MultistreamInitiator(std::vector<std::string> protocols);

  /// The bytes to send first: the header and the first proposal. Precondition: called once,
  /// before any `on_message`.
  Bytes start();

  /// Feeds one received message (text without '\n'). Returns the selected protocol once the
  /// remote echoed a proposal; nullopt while negotiation goes on (the next proposal, if any, is
  /// appended to `out`). Errors (terminal): kProtocolNotSupported after "na" to the last
  /// proposal; kProtocolViolation on anything else unexpected (a first message other than the
  /// header, an echo of a protocol not proposed). Precondition (HM_CHECK): `start()` was called
  /// and no result or error was returned yet.
  Result<std::optional<std::string>> on_message(std::string_view message, Bytes& out);

  /// True once a protocol was selected or negotiation failed.
  bool finished() const noexcept { return state_ == State::kDone || state_ == State::kFailed; }

 private:
  enum class State { kIdle, kAwaitHeader, kAwaitReply, kDone, kFailed };
  Result<std::optional<std::string>> fail(std::error_code error);

  std::vector<std::string> protocols_;
  std::size_t next_ = 0;  // index of the proposal awaiting an answer
  State state_ = State::kIdle;
};

/// Responder ("listener") side of one negotiation. Answers the header with the header, each
/// proposal with an echo (agreement) or "na", and "ls" with the list set by
/// `set_protocols_for_ls` (empty unless set). Single-threaded value object.
class MultistreamResponder {
 public:
  /// `supports(id)` says whether a handler exists for protocol id `id`; it is called on the
  /// caller's thread during `on_message` and must not call back into this object.
  explicit MultistreamResponder(std::function<bool(std::string_view)> supports);

  /// Protocols listed in the answer to "ls", in order. Ids that do not fit in one
  /// kMaxMultistreamMessage answer are left out of it.
  void set_protocols_for_ls(std::vector<std::string> protocols);
  /// The same, computed only when a peer sends "ls" (called on the caller's thread, from
  /// `on_message`).
  void set_ls_source(std::function<std::vector<std::string>()> source);

  /// Feeds one received message (text without '\n') and appends any reply to `out`. Returns the
  /// agreed protocol (its echo already appended to `out`); nullopt while negotiation goes on.
  /// Errors (terminal, nothing appended): kProtocolViolation when the first message is not the
  /// header; kProtocolNotSupported when the peer sends more than kMaxMultistreamRejections
  /// proposals or "ls" requests without agreement. Precondition (HM_CHECK): no result or error
  /// was returned yet.
  Result<std::optional<std::string>> on_message(std::string_view message, Bytes& out);

  /// True once a protocol was agreed or negotiation failed.
  bool finished() const noexcept { return state_ == State::kDone || state_ == State::kFailed; }

 private:
  enum class State { kAwaitHeader, kAwaitProposal, kDone, kFailed };
  void append_ls_reply(Bytes& out) const;

  std::function<bool(std::string_view)> supports_;
  std::function<std::vector<std::string>()> ls_source_;
  std::size_t rejections_ = 0;
  State state_ = State::kAwaitHeader;
};

}  // namespace hivemind::net
