#include "connection.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <span>

#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "hivemind/core/log.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/host.hpp"
#include "hivemind/net/stream.hpp"
#include "hivemind/net/yamux_frame.hpp"

namespace hivemind::net {
namespace {
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 256 * 1024;
/// A write loop going idle frees its batch buffers above this size (bulk transfers reuse theirs).
constexpr std::size_t kIdleBufferKeep = 2 * Connection::kOutboundHighWater;
/// Output below this size waits one scheduler round for more before it is sealed and sent.
constexpr std::size_t kCoalesceBelow = 16 * 1024;
/// Noise: writes from this size on are sealed straight from the caller's bytes; smaller ones are
/// batched with other frames (fewer, fuller Noise frames).
constexpr std::size_t kSealDirectMin = 8 * 1024;

}  // namespace

Connection::Connection(Host& host,
                       asio::ip::tcp::socket socket,
                       std::optional<NoiseTransport> noise,
                       Bytes early_plaintext,
                       PeerId remote,
                       bool outbound,
                       Multiaddr remote_addr)
    : host_(host),
      socket_(std::move(socket)),
      noise_(std::move(noise)),
      early_plaintext_(std::move(early_plaintext)),
      session_(outbound ? YamuxRole::kClient : YamuxRole::kServer, host.options().yamux),
      remote_(std::move(remote)),
      outbound_(outbound),
      remote_addr_(std::move(remote_addr)),
      writer_signal_(socket_.get_executor()),
      drained_signal_(socket_.get_executor()) {
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
}

void Connection::start() {
  host_.tasks().spawn([self = shared_from_this()]() {
    return self->read_loop();
  }());
  host_.tasks().spawn([self = shared_from_this()]() {
    return self->write_loop();
  }());
}

void Connection::close(std::error_code reason) {
  if (closed_)
    return;
  closed_ = true;
  close_reason_ = reason;
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  // Wake everyone: streams see closed() and fail; the loops exit.
  for (auto& [id, stream] : streams_)
    stream->notify();
  writer_signal_.notify_all();
  drained_signal_.notify_all();
  host_.on_connection_closed(shared_from_this());
}

Result<std::shared_ptr<Stream>> Connection::open_stream() {
  if (closed_)
    return Err(NetErrc::kConnectionClosed);
  HM_TRY(std::uint32_t id, session_.open_stream());
  auto stream = std::make_shared<Stream>(shared_from_this(), id);
  flush();
  return stream;
}

void Connection::unregister_stream(std::uint32_t id) {
  streams_.erase(id);
  if (streams_.empty())
    idle_since_ = std::chrono::steady_clock::now();
}

Result<std::size_t> Connection::write_data(std::uint32_t stream, BytesView data) {
  if (!noise_ || data.size() < kSealDirectMin) {
    HM_TRY(const std::size_t n, session_.write(stream, data));
    if (n > 0)
      flush();
    return n;
  }
  HM_TRY(const std::size_t n, session_.take_send_credit(stream, data.size()));
  if (n == 0)
    return n;
  seal_queued_frames();  // frames queued before this data go first
  // One Yamux DATA frame per Noise frame: header and payload sealed together, gathered.
  const std::size_t frame = std::min<std::size_t>(host_.options().yamux.max_frame_payload,
                                                  kNoiseMaxFramePlaintext - kYamuxHeaderSize);
  std::array<std::uint8_t, kYamuxHeaderSize> header{};
  for (std::size_t offset = 0; offset < n; offset += frame) {
    const std::size_t k = std::min(frame, n - offset);
    encode_yamux_header(
        {.type = YamuxType::kData, .stream = stream, .length = static_cast<std::uint32_t>(k)},
        header.data());
    const std::array<BytesView, 2> parts{BytesView(header), data.subspan(offset, k)};
    noise_->seal_parts_into(parts,
                            sealed_.extend(NoiseTransport::sealed_size(kYamuxHeaderSize + k)));
  }
  flush();
  return n;
}

void Connection::seal_queued_frames() {
  if (!session_.has_outbound())
    return;
  session_.take_outbound(plaintext_);
  noise_->seal_into(plaintext_, sealed_.extend(NoiseTransport::sealed_size(plaintext_.size())));
}

asio::awaitable<void> Connection::wait_outbound_room() {
  while (!closed_ && outbound_size() > kOutboundHighWater) {
    co_await drained_signal_.wait();
  }
}

asio::awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  detail::WireBuffer wire_buffer;
  std::uint8_t* const wire = wire_buffer.extend(kReadChunk);
  // Noise frames are decrypted straight into this buffer: the plaintext of one read is at most
  // the partial frame the transport keeps (< 2 + kNoiseMaxFrame bytes) plus the bytes read.
  detail::WireBuffer plaintext_buffer;
  const std::span<std::uint8_t> plaintext(
      noise_ ? plaintext_buffer.extend(kReadChunk + kNoiseMaxFrame + 2) : nullptr,
      noise_ ? kReadChunk + kNoiseMaxFrame + 2 : 0);
  BytesView input = early_plaintext_;
  while (!closed_) {
    if (!input.empty()) {
      auto received = session_.receive(input);
      input = {};
      dispatch_events();
      if (session_.has_outbound())
        flush();
      if (!received) {
        logger("net")->debug(
            "connection to {}: yamux error: {}", remote_.to_string(), received.error().message());
        // Let the write loop send the queued go-away before closing.
        co_await wait_outbound_room();
        close(received.error());
        break;
      }
    }
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(wire, kReadChunk), kNoThrow);
    if (ec) {
      close(NetErrc::kConnectionClosed);
      break;
    }
    const BytesView chunk(wire, n);
    if (noise_) {
      auto opened = noise_->open_into(chunk, plaintext);
      if (!opened) {
        logger("net")->debug(
            "connection to {}: noise error: {}", remote_.to_string(), opened.error().message());
        close(opened.error());
        break;
      }
      input = BytesView(plaintext.data(), *opened);
    } else {
      input = chunk;  // Yamux copies payload bytes straight from the socket buffer
    }
  }
}

asio::awaitable<void> Connection::write_loop() {
  auto self = shared_from_this();
  Bytes plaintext;             // plaintext: takes turns with the session's outbound buffer
  detail::WireBuffer writing;  // Noise: takes turns with sealed_
  while (!closed_) {
    if (!session_.has_outbound() && sealed_.empty()) {
      // Neither the session nor an idle connection keeps a batch buffer above kIdleBufferKeep.
      if (plaintext.capacity() > kIdleBufferKeep)
        Bytes().swap(plaintext);
      if (plaintext_.capacity() > kIdleBufferKeep)
        Bytes().swap(plaintext_);
      writing.release_above(kIdleBufferKeep);
      sealed_.release_above(kIdleBufferKeep);
      co_await writer_signal_.wait();
      // Small output waits one scheduler round: handlers made ready by the same input (an RPC
      // reply behind its multistream answer, completions posted by finished coroutines) add
      // their frames to this batch instead of costing a segment and a wakeup of their own.
      if (outbound_size() < kCoalesceBelow)
        co_await asio::post(socket_.get_executor(), asio::use_awaitable);
      continue;
    }
    BytesView out;
    if (noise_) {
      seal_queued_frames();
      writing.clear();
      writing.swap(sealed_);
      out = BytesView(writing.data(), writing.size());
    } else {
      session_.take_outbound(plaintext);
      out = plaintext;
    }
    drained_signal_.notify_all();
    auto [ec, n] =
        co_await asio::async_write(socket_, asio::buffer(out.data(), out.size()), kNoThrow);
    if (ec) {
      close(NetErrc::kConnectionClosed);
      break;
    }
    writing.clear();  // sent: an idle loop may now release it
  }
}

void Connection::dispatch_events() {
  for (const YamuxEvent& event : session_.take_events()) {
    switch (event.kind) {
      case YamuxEvent::Kind::kInboundStream: {
        auto stream = std::make_shared<Stream>(shared_from_this(), event.stream);
        host_.on_inbound_stream(std::move(stream));
        break;
      }
      case YamuxEvent::Kind::kReadable:
      case YamuxEvent::Kind::kWritable:
      case YamuxEvent::Kind::kRemoteClosed:
        if (auto it = streams_.find(event.stream); it != streams_.end())
          it->second->notify();
        break;
      case YamuxEvent::Kind::kReset:
        if (auto it = streams_.find(event.stream); it != streams_.end())
          it->second->on_remote_reset();
        break;
      case YamuxEvent::Kind::kPong:
        break;
      case YamuxEvent::Kind::kGoAway:
        logger("net")->debug(
            "connection to {}: remote sent go-away {}", remote_.to_string(), event.value);
        break;
    }
  }
}

}  // namespace hivemind::net
