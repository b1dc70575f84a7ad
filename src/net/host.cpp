#include "hivemind/net/host.hpp"

#include <algorithm>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "connection.hpp"
#include "hivemind/core/check.hpp"
#include "hivemind/core/log.hpp"
#include "hivemind/core/timeout.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/multistream.hpp"
#include "upgrade.hpp"

namespace hivemind::net {
namespace {
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace

std::shared_ptr<Host> Host::create(asio::any_io_executor executor, HostOptions options) {
  HM_CHECK(!options.security.empty(), "HostOptions.security must name at least one protocol");
  std::shared_ptr<Host> host(new Host(std::move(executor), std::move(options)));
  host->install_builtin_handlers();
  host->tasks_.spawn(host->prune_loop());
  return host;
}

Host::Host(asio::any_io_executor executor, HostOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      identity_(options_.identity ? *options_.identity : KeyPair::generate()),
      peer_id_(PeerId::from_public_key(identity_.public_key())),
      tasks_(executor_, "host") {}

Host::~Host() = default;

Result<void> Host::listen() {
  for (const Multiaddr& addr : options_.listen_addrs) {
    auto target = addr.tcp_target();
    if (!target
        || (target->host_protocol != Protocol::kIp4 && target->host_protocol != Protocol::kIp6)) {
      return Err(NetErrc::kMalformedMultiaddr,
                 "cannot listen on " + addr.to_string() + ": need /ip4|ip6/<addr>/tcp/<port>");
    }
    asio::error_code ec;
    const auto ip = asio::ip::make_address(target->host, ec);
    if (ec)
      return Err(NetErrc::kMalformedMultiaddr, "bad listen address " + target->host);
    auto acceptor = std::make_shared<asio::ip::tcp::acceptor>(executor_);
    const asio::ip::tcp::endpoint endpoint(ip, target->port);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec)
      acceptor->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec)
      acceptor->bind(endpoint, ec);
    if (!ec)
      acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Err(NetErrc::kConnectionRefused,
                 "cannot listen on " + addr.to_string() + ": " + ec.message());
    }
    const auto local = acceptor->local_endpoint();
    auto bound = Multiaddr::from_ip_tcp(local.address().to_string(), local.port());
    if (bound)
      bound_addrs_.push_back(*bound);
    acceptors_.push_back(acceptor);
    tasks_.spawn(accept_loop(acceptor));
  }
  return ok();
}

std::vector<Multiaddr> Host::listen_addrs() const {
  return bound_addrs_;
}

namespace {

/// The machine's interface addresses of one family (loopback included), as text.
std::vector<std::string> interface_ips(int family) {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0)
    return out;
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != family || !(it->ifa_flags & IFF_UP))
      continue;
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = family == AF_INET
                          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(it->ifa_addr)->sin_addr)
                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(it->ifa_addr)->sin6_addr);
    if (family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(
                                  &reinterpret_cast<sockaddr_in6*>(it->ifa_addr)->sin6_addr))
      continue;  // link-local addresses need a zone id to be dialable
    if (inet_ntop(family, raw, text, sizeof(text)) != nullptr &&
        std::find(out.begin(), out.end(), text) == out.end())
      out.emplace_back(text);
  }
  freeifaddrs(list);
  return out;
}

/// A wildcard listen address (0.0.0.0 or ::) stands for every interface address of its family.
std::vector<Multiaddr> expand_unspecified(const Multiaddr& addr) {
  auto target = addr.tcp_target();
  if (!target || (target->host != "0.0.0.0" && target->host != "::"))
    return std::vector<Multiaddr>(1, addr);
  std::vector<Multiaddr> out;
  for (const auto& ip : interface_ips(target->host == "::" ? AF_INET6 : AF_INET))
    if (auto expanded = Multiaddr::from_ip_tcp(ip, target->port))
      out.push_back(std::move(*expanded));
  return out;
}

}  // namespace

std::vector<Multiaddr> Host::visible_addrs() const {
  std::vector<Multiaddr> out;
  if (!options_.announce_addrs.empty()) {
    for (const auto& addr : options_.announce_addrs)
      out.push_back(addr.with_peer_id(peer_id_));
    return out;
  }
  for (const auto& bound : bound_addrs_)
    for (const auto& addr : expand_unspecified(bound))
      out.push_back(addr.with_peer_id(peer_id_));
  return out;
}

void Host::set_stream_handler(const std::string& protocol, StreamHandler handler) {
  handlers_[protocol] = std::move(handler);
}

void Host::remove_stream_handler(const std::string& protocol) {
  handlers_.erase(protocol);
}

std::vector<std::string> Host::protocols() const {
  std::vector<std::string> out;
  for (const auto& [protocol, handler] : handlers_)
    out.push_back(protocol);
  return out;
}

asio::awaitable<void> Host::accept_loop(std::shared_ptr<asio::ip::tcp::acceptor> acceptor) {
  while (!stopped_) {
    auto [ec, socket] = co_await acceptor->async_accept(kNoThrow);
    if (ec) {
      if (stopped_ || !acceptor->is_open())
        break;
      logger("net")->warn("accept failed: {}", ec.message());
      continue;
    }
    if (connection_count() >= options_.max_connections) {
      logger("net")->debug("refusing inbound connection: limit of {} reached",
                           options_.max_connections);
      asio::error_code ignored;
      socket.close(ignored);
      continue;
    }
    tasks_.spawn(handle_inbound_connection(std::move(socket)));
  }
}

asio::awaitable<void> Host::handle_inbound_connection(asio::ip::tcp::socket socket) {
  asio::error_code ec;
  const auto remote_endpoint = socket.remote_endpoint(ec);
  Multiaddr remote_addr =
      Multiaddr::from_ip_tcp(remote_endpoint.address().to_string(), remote_endpoint.port())
          .value_or(Multiaddr());
  auto channel = std::make_shared<RawChannel>(std::move(socket));
  auto upgraded = co_await with_timeout(
      upgrade_connection(*channel, false, identity_, options_.security, std::nullopt),
      options_.dial_timeout);
  if (!upgraded) {
    logger("net")->debug("inbound connection from {} failed: {}",
                         remote_addr.to_string(),
                         upgraded.error().message());
    co_return;
  }
  if (stopped_)
    co_return;
  auto connection = std::make_shared<Connection>(*this,
                                                 std::move(channel->socket()),
                                                 std::move(channel->noise()),
                                                 channel->take_buffered(),
                                                 *upgraded,
                                                 false,
                                                 remote_addr);
  add_connection(connection);
}

void Host::add_connection(std::shared_ptr<Connection> connection) {
  connections_[connection->remote_peer()].push_back(connection);
  connection->start();
  if (options_.identify_on_connect)
    tasks_.spawn(identify_connection(connection));
}

void Host::on_connection_closed(const std::shared_ptr<Connection>& connection) {
  auto it = connections_.find(connection->remote_peer());
  if (it == connections_.end())
    return;
  std::erase(it->second, connection);
  if (it->second.empty())
    connections_.erase(it);
}

std::shared_ptr<Connection> Host::best_connection(const PeerId& peer) const {
  auto it = connections_.find(peer);
  if (it == connections_.end())
    return nullptr;
  // The oldest live connection: all streams to a peer share it, later duplicates idle out.
  for (const auto& c : it->second) {
    if (!c->closed())
      return c;
  }
  return nullptr;
}

bool Host::is_connected(const PeerId& peer) const {
  return best_connection(peer) != nullptr;
}

std::size_t Host::connection_count() const {
  std::size_t n = 0;
  for (const auto& [peer, list] : connections_)
    n += list.size();
  return n;
}

void Host::disconnect(const PeerId& peer) {
  auto it = connections_.find(peer);
  if (it == connections_.end())
    return;
  auto copy = it->second;
  for (auto& c : copy)
    c->close(NetErrc::kConnectionClosed);
}

asio::awaitable<void> Host::stop() {
  if (stopped_)
    co_return;
  stopped_ = true;
  for (auto& acceptor : acceptors_) {
    asio::error_code ignored;
    acceptor->close(ignored);
  }
  std::vector<std::shared_ptr<Connection>> all;
  for (const auto& [peer, list] : connections_)
    all.insert(all.end(), list.begin(), list.end());
  for (auto& c : all)
    c->close(NetErrc::kShuttingDown);
  co_await tasks_.stop();
  connections_.clear();
}

asio::awaitable<void> Host::prune_loop() {
  asio::steady_timer timer(executor_);
  const auto period = std::max<std::chrono::milliseconds>(options_.idle_timeout / 4,
                                                          std::chrono::milliseconds(100));
  while (!stopped_) {
    timer.expires_after(period);
    co_await timer.async_wait(asio::use_awaitable);
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<Connection>> idle;
    for (const auto& [peer, list] : connections_) {
      for (const auto& c : list) {
        if (c->stream_count() == 0 && now - c->idle_since() > options_.idle_timeout) {
          idle.push_back(c);
        }
      }
    }
    for (auto& c : idle)
      c->close(NetErrc::kConnectionClosed);
  }
}

}  // namespace hivemind::net
