#include "raw_channel.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "hivemind/net/error.hpp"
#include "hivemind/net/multistream.hpp"
#include "hivemind/net/rpc_codec.hpp"

namespace hivemind::net {

namespace {
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace

void RawChannel::consume(std::size_t n) {
  offset_ += n;
  if (offset_ == inbound_.size()) {
    inbound_.clear();
    offset_ = 0;
  }
}

Result<void> RawChannel::start_noise(NoiseTransport transport) {
  noise_.emplace(std::move(transport));
  Bytes early = take_buffered();
  if (!early.empty())
    return noise_->open(early, inbound_);
  return ok();
}

Bytes RawChannel::take_buffered() {
  Bytes out(inbound_.begin() + static_cast<std::ptrdiff_t>(offset_), inbound_.end());
  inbound_.clear();
  offset_ = 0;
  return out;
}

asio::awaitable<Result<void>> RawChannel::read_more(std::size_t max_buffered) {
  if (buffered().size() > max_buffered)
    co_return Err(NetErrc::kMessageTooLarge);
  if (offset_ > 0) {  // compact before growing
    inbound_.erase(inbound_.begin(), inbound_.begin() + static_cast<std::ptrdiff_t>(offset_));
    offset_ = 0;
  }
  wire_.resize(64 * 1024);
  auto [ec, n] = co_await socket_.async_read_some(asio::buffer(wire_), kNoThrow);
  if (ec)
    co_return Err(NetErrc::kConnectionClosed, "read failed: " + ec.message());
  const BytesView received(wire_.data(), n);
  if (noise_) {
    HM_CO_TRY_VOID(noise_->open(received, inbound_));
  } else {
    append(inbound_, received);
  }
  co_return ok();
}

asio::awaitable<Result<void>> RawChannel::write(BytesView plaintext) {
  BytesView out = plaintext;
  if (noise_) {
    wire_.clear();
    noise_->seal(plaintext, wire_);
    out = wire_;
  }
  auto [ec, n] =
      co_await asio::async_write(socket_, asio::buffer(out.data(), out.size()), kNoThrow);
  if (ec)
    co_return Err(NetErrc::kConnectionClosed, "write failed: " + ec.message());
  co_return ok();
}

asio::awaitable<Result<std::string>> RawChannel::read_multistream_message() {
  while (true) {
    HM_CO_TRY(auto decoded, decode_multistream_message(buffered()));
    if (decoded) {
      consume(decoded->consumed);
      co_return std::move(decoded->text);
    }
    HM_CO_TRY_VOID(co_await read_more());
  }
}

asio::awaitable<Result<Bytes>> RawChannel::read_length_prefixed16() {
  while (true) {
    const BytesView data = buffered();
    if (data.size() >= 2) {
      const std::size_t length = load_be<std::uint16_t>(data.data());
      if (data.size() >= 2 + length) {
        Bytes message(data.begin() + 2, data.begin() + 2 + static_cast<std::ptrdiff_t>(length));
        consume(2 + length);
        co_return message;
      }
    }
    HM_CO_TRY_VOID(co_await read_more());
  }
}

asio::awaitable<Result<Bytes>> RawChannel::read_delimited(std::size_t max_size) {
  while (true) {
    HM_CO_TRY(auto decoded, decode_delimited(buffered(), max_size));
    if (decoded) {
      Bytes message(decoded->message.begin(), decoded->message.end());
      consume(decoded->consumed);
      co_return message;
    }
    HM_CO_TRY_VOID(co_await read_more());
  }
}

}  // namespace hivemind::net
