#pragma once
/// \file
/// `Host`: a libp2p-compatible peer. Listens and dials over TCP, secures connections with Noise
/// (or plaintext, when allowed), multiplexes them with Yamux, negotiates protocols per stream with
/// multistream-select, answers identify and ping, and dispatches inbound streams to handlers.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "hivemind/core/result.hpp"
#include "hivemind/core/task_group.hpp"
#include "hivemind/net/identity.hpp"
#include "hivemind/net/multiaddr.hpp"
#include "hivemind/net/peer_id.hpp"
#include "hivemind/net/peer_store.hpp"
#include "hivemind/net/stream.hpp"
#include "hivemind/net/yamux.hpp"

namespace hivemind::net {

/// Connection security. Plaintext (libp2p /plaintext/2.0.0: peers exchange keys, nothing is
/// encrypted or authenticated beyond that) is for trusted networks and benchmarks only.
enum class Security { kNoise, kPlaintext };

/// Options of a Host. Durations are wall-clock.
struct HostOptions {
  /// Identity key; a fresh random Ed25519 key when absent.
  std::optional<KeyPair> identity;
  /// Addresses to listen on, e.g. /ip4/127.0.0.1/tcp/0 (port 0 picks a free port).
  std::vector<Multiaddr> listen_addrs;
  /// Addresses announced to others instead of the bound ones (identify); empty = bound ones.
  std::vector<Multiaddr> announce_addrs;
  /// Security protocols in preference order (offered when dialing, accepted when listening).
  /// (Not a braced default: g++ 12 miscompiles initializer lists built inside coroutines.)
  std::vector<Security> security = std::vector<Security>(1, Security::kNoise);
  YamuxOptions yamux;
  std::size_t max_connections = 1024;      ///< inbound beyond this are closed at once
  std::size_t max_handler_streams = 4096;  ///< concurrently running inbound handlers, all peers
  std::chrono::milliseconds dial_timeout{10'000};         ///< TCP connect + security + muxer
  std::chrono::milliseconds negotiation_timeout{10'000};  ///< multistream on one stream
  std::chrono::milliseconds idle_timeout{120'000};  ///< close connections with no stream this long
  std::string agent_version = "hivemind-cpp/0.1.0";
  /// Identify every new connection (learn the remote's addresses and protocols).
  bool identify_on_connect = true;
};

/// An inbound stream handler. Runs as its own coroutine; the stream is already negotiated.
using StreamHandler = std::function<asio::awaitable<void>(std::shared_ptr<Stream>)>;

/// Facts identify reported about a remote peer.
struct IdentifyInfo {
  std::vector<Multiaddr> listen_addrs;
  std::vector<std::string> protocols;
  std::optional<Multiaddr> observed_addr;  ///< how the remote sees us
  std::string agent_version;
  std::string protocol_version;
};

/// A libp2p host. Create with `Host::create` on a single-threaded executor; every member function
/// must be called on that executor's thread (coroutines run there too). `stop()` closes every
/// connection and waits for every coroutine the host started; call it before destroying the host.
class Host : public std::enable_shared_from_this<Host> {
 public:
  /// Creates a host (does not listen yet). Misuse (e.g. no security) throws invalid_argument.
  static std::shared_ptr<Host> create(asio::any_io_executor executor, HostOptions options = {});
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;
  ~Host();

  /// Binds every `options.listen_addrs` entry and starts accepting (the bound addresses are
  /// known when this returns). Errors: the address is not /ip4|ip6/<addr>/tcp/<port>, or binding
  /// fails (the detail says which address).
  Result<void> listen();
  /// The bound addresses (with real ports), without /p2p/.
  std::vector<Multiaddr> listen_addrs() const;
  /// What others should dial, each ending in /p2p/<our id>: the announce addrs if any, else the
  /// bound addrs with a wildcard (0.0.0.0, ::) replaced by every interface address of its family.
  std::vector<Multiaddr> visible_addrs() const;

  const PeerId& peer_id() const { return peer_id_; }

  const KeyPair& identity() const { return identity_; }

  PeerStore& peer_store() { return peer_store_; }

  asio::any_io_executor executor() const { return executor_; }

  /// Handles inbound streams negotiated to `protocol`, replacing any previous handler.
  void set_stream_handler(const std::string& protocol, StreamHandler handler);
  void remove_stream_handler(const std::string& protocol);
  /// Protocol ids with handlers (what identify advertises).
  std::vector<std::string> protocols() const;

  /// Ensures a connection to the peer at `addr` (dials unless connected; concurrent connects to
  /// the same peer share one dial). If `addr` ends in /p2p/<id>, the remote must authenticate as
  /// that peer (kPeerIdMismatch otherwise). Returns the authenticated peer id.
  asio::awaitable<Result<PeerId>> connect(Multiaddr addr);
  /// Ensures a connection to `peer`, dialing its peer-store addresses if needed.
  asio::awaitable<Result<void>> connect(const PeerId& peer);
  /// Opens a stream to `peer` negotiated to one of `protocols` (in preference order). With a
  /// single protocol the proposal is pipelined with the first data (the remote's answer is checked
  /// on the first read), saving a round trip.
  asio::awaitable<Result<std::shared_ptr<Stream>>> new_stream(const PeerId& peer,
                                                              std::vector<std::string> protocols);
  /// Opens a stream for a single protocol (optimistic negotiation). Prefer this overload over a
  /// braced list: g++ 12 miscompiles `co_await f({...})` ("array used as initializer").
  asio::awaitable<Result<std::shared_ptr<Stream>>> new_stream(const PeerId& peer,
                                                              std::string protocol);
  /// libp2p ping; returns the round-trip time.
  asio::awaitable<Result<std::chrono::microseconds>> ping(const PeerId& peer);
  /// Runs identify against `peer` now (also done automatically on every new connection).
  asio::awaitable<Result<IdentifyInfo>> identify(const PeerId& peer);

  /// Addresses at which remotes reported seeing us (from identify).
  const std::vector<Multiaddr>& observed_addrs() const { return observed_addrs_; }

  bool is_connected(const PeerId& peer) const;
  std::size_t connection_count() const;
  /// Closes every connection to `peer`.
  void disconnect(const PeerId& peer);

  /// Stops listening, closes all connections, cancels and awaits every coroutine started by the
  /// host (handlers included). Idempotent.
  asio::awaitable<void> stop();

  // --- used by Connection ---
  void on_inbound_stream(std::shared_ptr<Stream> stream);
  void on_connection_closed(const std::shared_ptr<Connection>& connection);

  TaskGroup& tasks() { return tasks_; }

  const HostOptions& options() const { return options_; }

 private:
  Host(asio::any_io_executor executor, HostOptions options);
  struct PendingDial;

  asio::awaitable<void> accept_loop(std::shared_ptr<asio::ip::tcp::acceptor> acceptor);
  asio::awaitable<void> handle_inbound_connection(asio::ip::tcp::socket socket);
  asio::awaitable<Result<std::shared_ptr<Connection>>> dial(Multiaddr addr,
                                                            std::optional<PeerId> expected);
  asio::awaitable<Result<std::shared_ptr<Connection>>> dial_any(const PeerId& peer);
  asio::awaitable<Result<std::shared_ptr<Connection>>> connection_to(const PeerId& peer);
  void add_connection(std::shared_ptr<Connection> connection);
  std::shared_ptr<Connection> best_connection(const PeerId& peer) const;
  asio::awaitable<void> handle_stream(std::shared_ptr<Stream> stream);
  asio::awaitable<void> identify_connection(std::shared_ptr<Connection> connection);
  asio::awaitable<Result<IdentifyInfo>> identify_once(PeerId peer);
  asio::awaitable<Result<std::chrono::microseconds>> ping_once(PeerId peer);
  void remember_observed_addr(const Multiaddr& addr);
  asio::awaitable<void> prune_loop();
  void install_builtin_handlers();

  asio::any_io_executor executor_;
  HostOptions options_;
  KeyPair identity_;
  PeerId peer_id_;
  PeerStore peer_store_;
  TaskGroup tasks_;
  std::vector<std::shared_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::vector<Multiaddr> bound_addrs_;
  std::vector<Multiaddr> observed_addrs_;
  std::map<std::string, StreamHandler> handlers_;
  std::unordered_map<PeerId, std::vector<std::shared_ptr<Connection>>> connections_;
  std::map<std::string, std::shared_ptr<PendingDial>> pending_dials_;
  std::size_t running_handlers_ = 0;
  bool stopped_ = false;
};

}  // namespace hivemind::net
