#pragma once
// RawChannel: a TCP socket plus an optional Noise transport, with a buffer of received plaintext
// that has not been consumed yet. Used while a connection is upgraded (multistream, security
// handshake, muxer selection); afterwards its parts move into a Connection. Network thread only.

#include <cstddef>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "hivemind/core/bytes.hpp"
#include "hivemind/net/noise.hpp"

namespace hivemind::net {

class RawChannel {
 public:
  /// Disables Nagle's algorithm at once: the handshake's small back-to-back writes would
  /// otherwise wait for the peer's delayed ACK (40 ms per dial on Linux loopback).
  explicit RawChannel(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
    asio::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  }

  asio::ip::tcp::socket& socket() { return socket_; }

  std::optional<NoiseTransport>& noise() { return noise_; }

  /// Switches to Noise transport; bytes already received after the handshake are ciphertext and
  /// are decrypted now.
  Result<void> start_noise(NoiseTransport transport);

  /// Received plaintext not yet consumed.
  BytesView buffered() const { return BytesView(inbound_).subspan(offset_); }

  void consume(std::size_t n);
  /// Moves the unconsumed plaintext out.
  Bytes take_buffered();

  /// Reads once from the socket (decrypting when Noise is on) and appends to the buffer.
  /// Errors: kConnectionClosed on EOF or socket error, Noise errors, kMessageTooLarge when more
  /// than `max_buffered` bytes pile up unconsumed.
  asio::awaitable<Result<void>> read_more(std::size_t max_buffered = 256 * 1024);
  /// Writes `plaintext` (sealed when Noise is on).
  asio::awaitable<Result<void>> write(BytesView plaintext);

  /// Reads one multistream-select message.
  asio::awaitable<Result<std::string>> read_multistream_message();
  /// Reads one Noise handshake message (2-byte big-endian length prefix).
  asio::awaitable<Result<Bytes>> read_length_prefixed16();
  /// Reads one uvarint-delimited message of at most `max_size` bytes.
  asio::awaitable<Result<Bytes>> read_delimited(std::size_t max_size);

 private:
  asio::ip::tcp::socket socket_;
  std::optional<NoiseTransport> noise_;
  Bytes inbound_;
  std::size_t offset_ = 0;
  Bytes wire_;  // scratch for sealed output and raw input
};

}  // namespace hivemind::net
