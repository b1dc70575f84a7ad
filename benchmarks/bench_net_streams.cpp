// hm-bench-net (a), (b): one-stream throughput over Noise+Yamux and plaintext+Yamux, and the
// bounds it is compared with: ChaCha20-Poly1305 seal+open on one core, raw TCP on loopback.
#include <algorithm>
#include <array>
#include <stdexcept>

#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <sodium.h>

#include "bench_net.hpp"
#include "chacha20_poly1305.hpp"
#include "hivemind/core/bytes.hpp"
#include "hivemind/net/error.hpp"
#include "interop_support.hpp"

namespace hivemind::bench {
namespace {

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;

/// Writes `total` bytes of `chunk` (repeated) to `stream`, closes, reads the 8-byte count.
asio::awaitable<Result<double>> sink_once(std::shared_ptr<net::Host> client,
                                          net::PeerId server,
                                          std::size_t total,
                                          std::size_t write_size) {
  const Bytes chunk = interop::make_payload(write_size, 7);
  HM_CO_TRY(auto stream, co_await client->new_stream(server, std::string(interop::kSinkProtocol)));
  const auto start = Clock::now();
  for (std::size_t off = 0; off < total; off += write_size) {
    const std::size_t n = std::min(write_size, total - off);
    HM_CO_TRY_VOID(co_await stream->write(BytesView(chunk).first(n)));
  }
  HM_CO_TRY_VOID(stream->close_write());
  Bytes reply;
  HM_CO_TRY_VOID(co_await stream->read_exact(reply, 8));
  const double seconds = seconds_since(start);
  if (load_be<std::uint64_t>(reply.data()) != total)
    co_return Err(net::NetErrc::kProtocolViolation, "sink counted a different byte count");
  co_return static_cast<double>(total) / seconds / 1e6;
}

/// Raw TCP server: accepts one connection, counts bytes until EOF, answers the count.
asio::awaitable<void> raw_sink(std::shared_ptr<tcp::acceptor> acceptor) {
  std::error_code ec;
  auto socket = co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
  if (ec)
    co_return;
  Bytes buffer(256 * 1024);
  std::uint64_t count = 0;
  while (true) {
    const std::size_t n = co_await socket.async_read_some(
        asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    count += n;
    if (ec)
      break;
  }
  if (ec != asio::error::eof)
    co_return;
  Bytes reply(8);
  store_be<std::uint64_t>(reply.data(), count);
  co_await asio::async_write(
      socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace

double measure_seal_open(std::size_t total_bytes, std::size_t message, AeadImpl impl) {
  if (sodium_init() < 0)
    throw std::runtime_error("sodium_init failed");
  std::array<std::uint8_t, net::detail::kAeadKeySize> key{};
  std::array<std::uint8_t, net::detail::kAeadNonceSize> nonce{};
  std::array<std::uint8_t, net::detail::kAeadTagSize> tag{};
  randombytes_buf(key.data(), key.size());
  const Bytes plain = interop::make_payload(message, 3);
  Bytes sealed(message);
  Bytes opened(message);
  std::uint64_t counter = 0;
  const auto start = Clock::now();
  std::size_t done = 0;
  for (; done < total_bytes; done += message) {
    // Noise transport nonces: 4 zero bytes + 64-bit little-endian counter.
    for (int k = 0; k < 8; ++k)
      nonce[4 + k] = static_cast<std::uint8_t>(counter >> (8 * k));
    ++counter;
    bool opened_ok = false;
    if (impl == AeadImpl::kLibsodium) {
      crypto_aead_chacha20poly1305_ietf_encrypt_detached(sealed.data(),
                                                         tag.data(),
                                                         nullptr,
                                                         plain.data(),
                                                         message,
                                                         nullptr,
                                                         0,
                                                         nullptr,
                                                         nonce.data(),
                                                         key.data());
      opened_ok = crypto_aead_chacha20poly1305_ietf_decrypt_detached(opened.data(),
                                                                     nullptr,
                                                                     sealed.data(),
                                                                     message,
                                                                     tag.data(),
                                                                     nullptr,
                                                                     0,
                                                                     nonce.data(),
                                                                     key.data())
                  == 0;
    } else {
      opened_ok =
          net::detail::aead_seal(key, nonce, {}, plain.data(), sealed.data(), message, tag.data())
          && net::detail::aead_open(
              key, nonce, {}, sealed.data(), opened.data(), message, tag.data());
    }
    if (!opened_ok)
      throw std::runtime_error("decrypt failed");
  }
  const double seconds = seconds_since(start);
  if (opened != plain)
    throw std::runtime_error("seal/open round trip differs");
  return static_cast<double>(done) / seconds / 1e6;
}

Result<double> measure_raw_tcp(Loopback& loop, std::size_t total, std::size_t write_size) {
  auto acceptor = std::make_shared<tcp::acceptor>(
      loop.server_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto endpoint = acceptor->local_endpoint();
  asio::co_spawn(loop.server_executor(), raw_sink(acceptor), asio::detached);
  Result<double> result = Err(net::NetErrc::kCancelled);
  loop.run_client([&]() -> asio::awaitable<void> {
    std::error_code ec;
    tcp::socket socket(loop.client_executor());
    co_await socket.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      result = Err(ec);
      co_return;
    }
    socket.set_option(tcp::no_delay(true));
    const Bytes chunk = interop::make_payload(write_size, 7);
    const auto start = Clock::now();
    for (std::size_t off = 0; off < total && !ec; off += write_size) {
      const std::size_t n = std::min(write_size, total - off);
      co_await asio::async_write(
          socket, asio::buffer(chunk.data(), n), asio::redirect_error(asio::use_awaitable, ec));
    }
    socket.shutdown(tcp::socket::shutdown_send, ec);
    Bytes reply(8);
    co_await asio::async_read(
        socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      result = Err(ec);
      co_return;
    }
    const double seconds = seconds_since(start);
    if (load_be<std::uint64_t>(reply.data()) != total)
      result = Err(net::NetErrc::kProtocolViolation, "raw sink counted a different byte count");
    else
      result = static_cast<double>(total) / seconds / 1e6;
  });
  // The server coroutine has finished (it answered); close the acceptor on its thread.
  loop.run_server([acceptor]() -> asio::awaitable<void> {
    acceptor->close();
    co_return;
  });
  return result;
}

Result<double> measure_host_stream(Loopback& loop,
                                   net::Security security,
                                   std::size_t total,
                                   std::size_t write_size,
                                   std::uint32_t receive_window) {
  HM_TRY(auto pair,
         start_hosts(
             loop,
             security,
             [](net::Host& host) { interop::serve_test_protocols(host); },
             receive_window));
  Result<double> result = Err(net::NetErrc::kCancelled);
  const net::PeerId server = pair.server->peer_id();
  loop.run_client([&]() -> asio::awaitable<void> {
    // Warm up the connection (window growth, allocations) with a short run first.
    auto warm = co_await sink_once(pair.client, server, 4 << 20, write_size);
    if (!warm) {
      result = Err(warm.error());
      co_return;
    }
    result = co_await sink_once(pair.client, server, total, write_size);
  });
  stop_hosts(loop, pair);
  return result;
}

}  // namespace hivemind::bench
