// Host: dialing (with deduplication of concurrent dials) and stream negotiation.
#include <algorithm>

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>

#include "connection.hpp"
#include "hivemind/core/check.hpp"
#include "hivemind/core/log.hpp"
#include "hivemind/core/timeout.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/host.hpp"
#include "hivemind/net/multistream.hpp"
#include "stream_watchdog.hpp"
#include "upgrade.hpp"

namespace hivemind::net {
namespace {
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

/// Feeds multistream messages read from `stream` to `machine` (a MultistreamInitiator or
/// MultistreamResponder) until it selects a protocol; bytes read past the last message are put
/// back into the stream for the protocol that follows.
template <typename Machine>
asio::awaitable<Result<std::string>> run_multistream(std::shared_ptr<Stream> stream,
                                                     std::shared_ptr<Machine> machine) {
  Bytes buffer;
  while (true) {
    HM_CO_TRY(auto message, decode_multistream_message(buffer));
    if (!message) {
      HM_CO_TRY(std::size_t n, co_await stream->read_some(buffer, kMaxMultistreamMessage + 2));
      if (n == 0)
        co_return Err(NetErrc::kProtocolNotSupported, "stream closed while negotiating");
      continue;
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(message->consumed));
    Bytes reply;
    HM_CO_TRY(auto selected, machine->on_message(message->text, reply));
    if (!reply.empty())
      HM_CO_TRY_VOID(co_await stream->write(reply));
    if (selected) {
      stream->unread(buffer);
      co_return std::move(*selected);
    }
  }
}

}  // namespace

/// A dial in progress; later connects to the same peer wait for it instead of dialing again.
struct Host::PendingDial {
  explicit PendingDial(const asio::any_io_executor& ex) : done(ex) {}

  AsyncSignal done;
  std::optional<Result<std::shared_ptr<Connection>>> result;
};

asio::awaitable<Result<std::shared_ptr<Connection>>> Host::dial(Multiaddr addr,
                                                                std::optional<PeerId> expected) {
  auto target = addr.tcp_target();
  if (!target) {
    co_return Err(NetErrc::kMalformedMultiaddr, "cannot dial " + addr.to_string());
  }
  asio::ip::tcp::resolver resolver(executor_);
  auto [rec, endpoints] = co_await resolver.async_resolve(target->host,
                                                          std::to_string(target->port),
                                                          asio::ip::resolver_base::numeric_service,
                                                          kNoThrow);
  if (rec)
    co_return Err(NetErrc::kConnectionRefused, "cannot resolve " + target->host);
  asio::ip::tcp::socket socket(executor_);
  auto [cec, endpoint] = co_await asio::async_connect(socket, endpoints, kNoThrow);
  if (cec) {
    co_return Err(NetErrc::kConnectionRefused,
                  "cannot connect to " + addr.to_string() + ": " + cec.message());
  }
  auto channel = std::make_shared<RawChannel>(std::move(socket));
  HM_CO_TRY(PeerId remote,
            co_await upgrade_connection(*channel, true, identity_, options_.security, expected));
  if (stopped_)
    co_return Err(NetErrc::kShuttingDown);
  auto connection = std::make_shared<Connection>(*this,
                                                 std::move(channel->socket()),
                                                 std::move(channel->noise()),
                                                 channel->take_buffered(),
                                                 remote,
                                                 true,
                                                 addr.without_peer_id());
  add_connection(connection);
  co_return connection;
}

asio::awaitable<Result<PeerId>> Host::connect(Multiaddr addr) {
  if (stopped_)
    co_return Err(NetErrc::kShuttingDown);
  const std::optional<PeerId> expected = addr.peer_id();
  if (expected) {
    if (*expected == peer_id_)
      co_return Err(NetErrc::kDialSelf);
    if (best_connection(*expected))
      co_return *expected;
  }
  const std::string key = expected ? expected->to_string() : addr.to_string();
  if (auto it = pending_dials_.find(key); it != pending_dials_.end()) {
    auto pending = it->second;
    while (!pending->result)
      co_await pending->done.wait();
    if (!*pending->result)
      co_return Err(pending->result->error());
    co_return (**pending->result)->remote_peer();
  }
  auto pending = std::make_shared<PendingDial>(executor_);
  pending_dials_[key] = pending;
  auto result = co_await with_timeout(dial(addr, expected), options_.dial_timeout);
  pending_dials_.erase(key);
  pending->result = result;
  pending->done.notify_all();
  if (!result) {
    logger("net")->debug("dial {} failed: {}", addr.to_string(), result.error().message());
    co_return Err(result.error());
  }
  const PeerId remote = (*result)->remote_peer();
  peer_store_.add_addrs(remote, {addr.without_peer_id()});
  co_return remote;
}

asio::awaitable<Result<void>> Host::connect(const PeerId& peer) {
  HM_CO_TRY_VOID(co_await connection_to(peer));
  co_return ok();
}

asio::awaitable<Result<std::shared_ptr<Connection>>> Host::connection_to(const PeerId& peer) {
  if (peer == peer_id_)
    co_return Err(NetErrc::kDialSelf);
  if (auto c = best_connection(peer))
    co_return c;
  const auto addrs = peer_store_.addrs(peer);
  if (addrs.empty())
    co_return Err(NetErrc::kNoAddresses, "no addresses for " + peer.to_string());
  Error last = NetErrc::kConnectionRefused;
  for (const auto& addr : addrs) {
    auto connected = co_await connect(addr.with_peer_id(peer));
    if (connected) {
      if (auto c = best_connection(peer))
        co_return c;
    } else {
      last = connected.error();
    }
  }
  co_return Err(last);
}

asio::awaitable<Result<std::shared_ptr<Stream>>> Host::new_stream(
    const PeerId& peer, std::vector<std::string> protocols) {
  HM_CHECK(!protocols.empty(), "new_stream needs at least one protocol");
  if (stopped_)
    co_return Err(NetErrc::kShuttingDown);
  HM_CO_TRY(auto connection, co_await connection_to(peer));
  HM_CO_TRY(auto stream, connection->open_stream());
  if (protocols.size() == 1) {
    // Optimistic: pipeline the proposal with the caller's first data; the first read checks the
    // remote's answer (libp2p's "lazy" multistream negotiation).
    Bytes hello;
    append_multistream_message(hello, kMultistreamProtocolId);
    append_multistream_message(hello, protocols.front());
    HM_CO_TRY_VOID(co_await stream->write(hello));
    stream->set_protocol(protocols.front());
    stream->expect_negotiation_echo(protocols.front());
    co_return stream;
  }
  auto initiator = std::make_shared<MultistreamInitiator>(std::move(protocols));
  HM_CO_TRY_VOID(co_await stream->write(initiator->start()));
  auto selected =
      co_await with_timeout(run_multistream(stream, initiator), options_.negotiation_timeout);
  if (!selected) {
    stream->reset();
    co_return Err(selected.error());
  }
  stream->set_protocol(std::move(*selected));
  co_return stream;
}

asio::awaitable<Result<std::shared_ptr<Stream>>> Host::new_stream(const PeerId& peer,
                                                                  std::string protocol) {
  std::vector<std::string> protocols;
  protocols.push_back(std::move(protocol));
  co_return co_await new_stream(peer, std::move(protocols));
}

void Host::on_inbound_stream(std::shared_ptr<Stream> stream) {
  if (stopped_ || running_handlers_ >= options_.max_handler_streams) {
    stream->reset();
    return;
  }
  tasks_.spawn(handle_stream(std::move(stream)));
}

asio::awaitable<void> Host::handle_stream(std::shared_ptr<Stream> stream) {
  ++running_handlers_;

  struct Release {
    std::size_t& n;

    ~Release() { --n; }
  } release{running_handlers_};

  auto responder = std::make_shared<MultistreamResponder>(
      [this](std::string_view p) { return handlers_.contains(std::string(p)); });
  responder->set_ls_source([this] { return protocols(); });
  // A proposal that arrived with the stream's first bytes is answered without a scheduler round
  // trip, so the answer leaves together with the handler's first reply (see StreamWatchdog).
  detail::StreamWatchdog deadline(stream, executor_, options_.negotiation_timeout);
  auto selected = co_await run_multistream(stream, responder);
  deadline.disarm();
  if (!selected) {
    logger("net")->debug("inbound stream from {}: negotiation failed: {}",
                         stream->remote_peer().to_string(),
                         deadline.expired() ? "timed out" : selected.error().message());
    if (deadline.expired())
      co_return;  // already reset
    // End our side instead of resetting: a reset could overtake the "na" we queued (an
    // optimistic caller's data after a refused proposal fails here at once) and the caller would
    // see a reset instead of "protocol not supported".
    if (!stream->close_write())
      co_return;
    co_await detail::linger(std::move(stream), options_.negotiation_timeout);
    co_return;
  }
  auto it = handlers_.find(*selected);
  if (it == handlers_.end()) {  // removed while negotiating
    stream->reset();
    co_return;
  }
  stream->set_protocol(*selected);
  StreamHandler handler = it->second;  // copy: the handler may be replaced while running
  co_await handler(std::move(stream));
}

}  // namespace hivemind::net
