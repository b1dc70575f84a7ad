#include "connection.hpp"

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
  Bytes wire(kReadChunk);
  Bytes plaintext = std::move(early_plaintext_);
  while (!closed_) {
    if (!plaintext.empty()) {
      auto received = session_.receive(plaintext);
      plaintext.clear();
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
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(wire), kNoThrow);
    if (ec) {
      close(NetErrc::kConnectionClosed);
      break;
    }
    const BytesView chunk(wire.data(), n);
    if (noise_) {
      if (auto opened = noise_->open(chunk, plaintext); !opened) {
        logger("net")->debug(
            "connection to {}: noise error: {}", remote_.to_string(), opened.error().message());
        close(opened.error());
        break;
      }
    } else {
      append(plaintext, chunk);
    }
  }
}

asio::awaitable<void> Connection::write_loop() {
  auto self = shared_from_this();
  Bytes sealed;
  while (!closed_) {
    if (!session_.has_outbound()) {
      co_await writer_signal_.wait();
      continue;
    }
    Bytes plaintext = session_.take_outbound();
    BytesView out = plaintext;
    if (noise_) {
      sealed.clear();
      noise_->seal(plaintext, sealed);
      out = sealed;
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
