#include "connection.hpp"

#include <algorithm>
#include <memory>
#include <span>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "hivemind/core/log.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/host.hpp"
#include "hivemind/net/stream.hpp"

namespace hivemind::net {
namespace {
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 256 * 1024;
/// A write loop going idle frees its batch buffers above this size (bulk transfers reuse theirs).
constexpr std::size_t kIdleBufferKeep = 2 * Connection::kOutboundHighWater;

/// Bytes that grow without zero-filling: every byte is written before it is read.
class ScratchBuffer {
 public:
  /// At least `size` writable bytes (reallocates only to grow; old contents are dropped).
  std::uint8_t* get(std::size_t size) {
    if (size > capacity_) {
      capacity_ = std::max(size, capacity_ + capacity_ / 2);
      data_ = std::make_unique_for_overwrite<std::uint8_t[]>(capacity_);
    }
    return data_.get();
  }

  void release_above(std::size_t keep) {
    if (capacity_ > keep) {
      data_.reset();
      capacity_ = 0;
    }
  }

 private:
  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t capacity_ = 0;
};

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

asio::awaitable<void> Connection::wait_outbound_room() {
  while (!closed_ && session_.outbound_size() > kOutboundHighWater) {
    co_await drained_signal_.wait();
  }
}

asio::awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  ScratchBuffer wire_buffer;
  std::uint8_t* const wire = wire_buffer.get(kReadChunk);
  // Noise frames are decrypted straight into this buffer: the plaintext of one read is at most
  // the partial frame the transport keeps (< 2 + kNoiseMaxFrame bytes) plus the bytes read.
  ScratchBuffer plaintext_buffer;
  const std::span<std::uint8_t> plaintext(
      noise_ ? plaintext_buffer.get(kReadChunk + kNoiseMaxFrame + 2) : nullptr,
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
  Bytes plaintext;  // swapped with the session's outbound buffer: two buffers take turns
  ScratchBuffer sealed;
  while (!closed_) {
    // Neither the session nor an idle connection keeps a batch buffer above kIdleBufferKeep.
    if (plaintext.capacity() > kIdleBufferKeep)
      Bytes().swap(plaintext);
    if (!session_.has_outbound()) {
      sealed.release_above(kIdleBufferKeep);
      co_await writer_signal_.wait();
      continue;
    }
    session_.take_outbound(plaintext);
    BytesView out = plaintext;
    if (noise_) {
      const std::size_t size = NoiseTransport::sealed_size(plaintext.size());
      std::uint8_t* wire = sealed.get(size);
      noise_->seal_into(plaintext, wire);  // encrypts straight into the socket buffer
      out = BytesView(wire, size);
    }
    drained_signal_.notify_all();
    auto [ec, n] =
        co_await asio::async_write(socket_, asio::buffer(out.data(), out.size()), kNoThrow);
    if (ec) {
      close(NetErrc::kConnectionClosed);
      break;
    }
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
