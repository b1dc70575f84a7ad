#include "hivemind/net/stream.hpp"

#include <algorithm>

#include <asio/this_coro.hpp>

#include "connection.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/multistream.hpp"

namespace hivemind::net {

Stream::Stream(std::shared_ptr<Connection> connection, std::uint32_t id)
    : connection_(std::move(connection)), id_(id), signal_(connection_->socket_executor()) {
  connection_->register_stream(id_, this);
}

Stream::~Stream() {
  if (!connection_->closed()) {
    auto info = connection_->session().stream_info(id_);
    // A stream we did not finish writing is reset, so the remote never waits forever. One whose
    // write side we closed is left to the remote's FIN (resetting it would throw away what we
    // wrote before the remote read it: js-libp2p drops an unread identify reply on RST).
    if (info && !info->local_closed && !info->reset) {
      connection_->session().reset(id_);
      connection_->flush();
    }
  }
  connection_->unregister_stream(id_);
}

const PeerId& Stream::remote_peer() const {
  return connection_->remote_peer();
}

const Multiaddr& Stream::remote_addr() const {
  return connection_->remote_addr();
}

void Stream::expect_negotiation_echo(std::string protocol) {
  pending_echo_ = std::move(protocol);
}

void Stream::unread(BytesView data) {
  if (data.empty())
    return;
  Bytes merged(data.begin(), data.end());
  merged.insert(
      merged.end(), unread_.begin() + static_cast<std::ptrdiff_t>(unread_offset_), unread_.end());
  unread_ = std::move(merged);
  unread_offset_ = 0;
}

std::size_t Stream::take_buffered(Bytes& out, std::size_t max) {
  if (unread_offset_ < unread_.size()) {
    const std::size_t n = std::min(max, unread_.size() - unread_offset_);
    out.insert(out.end(),
               unread_.begin() + static_cast<std::ptrdiff_t>(unread_offset_),
               unread_.begin() + static_cast<std::ptrdiff_t>(unread_offset_ + n));
    unread_offset_ += n;
    if (unread_offset_ == unread_.size()) {
      unread_.clear();
      unread_offset_ = 0;
    }
    return n;
  }
  const std::size_t n = connection_->session().read(id_, max, out);
  if (n > 0 && connection_->session().has_outbound())
    connection_->flush();  // window updates
  return n;
}

asio::awaitable<Result<void>> Stream::finish_optimistic_negotiation() {
  // We sent "/multistream/1.0.0\n" + "<protocol>\n" without waiting; the remote answers with the
  // header and then the protocol (accepted) or "na" (refused).
  std::string expected = std::move(*pending_echo_);
  pending_echo_.reset();
  Bytes buffer;
  bool header_seen = false;
  while (true) {
    HM_CO_TRY(auto message, decode_multistream_message(buffer));
    if (message) {
      buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(message->consumed));
      if (!header_seen) {
        if (message->text != kMultistreamProtocolId) {
          reset();
          co_return Err(NetErrc::kProtocolViolation, "bad multistream header from remote");
        }
        header_seen = true;
        continue;
      }
      if (message->text == expected)
        break;
      reset();
      if (message->text == "na") {
        co_return Err(NetErrc::kProtocolNotSupported, "remote does not support " + expected);
      }
      co_return Err(NetErrc::kProtocolViolation, "remote answered '" + message->text + "'");
    }
    // Read only what we must: the session buffers the rest for later reads.
    HM_CO_TRY(std::size_t n, co_await read_some(buffer, kMaxMultistreamMessage + 2));
    if (n == 0)
      co_return Err(NetErrc::kProtocolNotSupported, "stream closed during negotiation");
  }
  unread(buffer);
  if (fin_after_negotiation_) {
    fin_after_negotiation_ = false;
    HM_CO_TRY_VOID(close_write());
  }
  co_return ok();
}

asio::awaitable<Result<std::size_t>> Stream::read_some(Bytes& out, std::size_t max) {
  if (pending_echo_)
    HM_CO_TRY_VOID(co_await finish_optimistic_negotiation());
  while (true) {
    if (reset_locally_)
      co_return Err(NetErrc::kStreamReset);
    if (const std::size_t n = take_buffered(out, max); n > 0)
      co_return n;
    if (connection_->closed())
      co_return Err(NetErrc::kConnectionClosed);
    auto info = connection_->session().stream_info(id_);
    if (reset_by_remote_ || (info && info->reset))
      co_return Err(NetErrc::kStreamReset);
    // The session forgets a stream once both sides closed it and it was drained: end of stream.
    if (!info || info->remote_closed)
      co_return std::size_t{0};
    co_await signal_.wait();
    // Cancelled while waiting (e.g. the losing side of `||`): report it as an error instead of
    // letting the next co_await throw; an exception per RPC costs more than the RPC itself.
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
      co_return Err(NetErrc::kCancelled);
  }
}

asio::awaitable<Result<void>> Stream::read_exact(Bytes& out, std::size_t n) {
  const std::size_t target = out.size() + n;
  while (out.size() < target) {
    HM_CO_TRY(std::size_t got, co_await read_some(out, target - out.size()));
    if (got == 0)
      co_return Err(NetErrc::kStreamClosed, "stream ended before the expected bytes");
  }
  co_return ok();
}

asio::awaitable<Result<Bytes>> Stream::read_to_end(std::size_t limit) {
  Bytes out;
  while (true) {
    HM_CO_TRY(std::size_t got, co_await read_some(out, limit + 1 - out.size()));
    if (got == 0)
      co_return out;
    if (out.size() > limit)
      co_return Err(NetErrc::kMessageTooLarge);
  }
}

asio::awaitable<Result<void>> Stream::write(BytesView data) {
  std::size_t offset = 0;
  while (true) {
    if (reset_locally_)
      co_return Err(NetErrc::kStreamReset);
    if (connection_->closed())
      co_return Err(NetErrc::kConnectionClosed);
    HM_CO_TRY(std::size_t n, connection_->write_data(id_, data.subspan(offset)));
    offset += n;
    if (offset == data.size())
      break;
    if (connection_->outbound_size() > Connection::kOutboundHighWater) {
      co_await connection_->wait_outbound_room();
    } else if (n == 0) {
      co_await signal_.wait();  // for a window update from the remote
      if ((co_await asio::this_coro::cancellation_state).cancelled()
          != asio::cancellation_type::none)
        co_return Err(NetErrc::kCancelled);
    }
  }
  // Bound memory: do not let one writer queue far beyond the high-water mark.
  co_await connection_->wait_outbound_room();
  co_return ok();
}

Result<void> Stream::close_write() {
  if (connection_->closed())
    return Err(NetErrc::kConnectionClosed);
  if (pending_echo_) {
    // Optimistic negotiation not confirmed yet: js-libp2p ignores a FIN that arrives before it
    // finished negotiating, so hold it until the first read has seen the remote's answer.
    fin_after_negotiation_ = true;
    return ok();
  }
  HM_TRY_VOID(connection_->session().close_write(id_));
  connection_->flush();
  return ok();
}

void Stream::reset() {
  if (reset_locally_)
    return;
  reset_locally_ = true;
  if (!connection_->closed()) {
    connection_->session().reset(id_);
    connection_->flush();
  }
  signal_.notify_all();
}

}  // namespace hivemind::net
