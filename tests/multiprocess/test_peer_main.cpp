// hm-test-peer: one Host on 127.0.0.1 serving the Test.* RPCs of test_peer_protocol.hpp, driven
// by the multi-process tests. Prints JSON lines on stdout ("listening", "call", "sleep_*",
// "stopped", "error"); logs go to stderr. Runs until stdin closes or SIGTERM/SIGINT, then stops
// the host cleanly and exits 0. Command line and events: docs/protocols/multiprocess-tests.md.
#include <array>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <unistd.h>

#include "hivemind/net/error.hpp"
#include "hivemind/net/host.hpp"
#include "hivemind/net/rpc.hpp"
#include "test_peer_protocol.hpp"

namespace {

using namespace std::chrono_literals;
using namespace hivemind;            // NOLINT(google-build-using-namespace)
using namespace hivemind::net;       // NOLINT(google-build-using-namespace)
using namespace hivemind::testpeer;  // NOLINT(google-build-using-namespace)

constexpr auto kForwardTimeout = 10s;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      std::array<char, 8> escaped{};
      std::snprintf(escaped.data(), escaped.size(), "\\u%04x", static_cast<unsigned>(c));
      out += escaped.data();
    } else {
      out += c;
    }
  }
  return out + "\"";
}

/// Prints one JSON object line: {"event":"<event>"<extra>} (extra = ,"key":value,... or "").
void emit(std::string_view event, const std::string& extra = {}) {
  const std::string line = "{\"event\":" + quote(event) + extra + "}\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

void emit_call(const RpcContext& context) {
  emit("call",
       ",\"method\":" + quote(context.method) + ",\"from\":" + quote(context.remote.to_string()));
}

/// A decimal number in [0, max]; nullopt for anything else (network input: no exceptions).
std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || value > max)
    return std::nullopt;
  return value;
}

asio::awaitable<Result<Bytes>> serve_echo(RpcContext context, Bytes request) {
  emit_call(context);
  co_return request;
}

asio::awaitable<Result<Bytes>> serve_fail(RpcContext context, Bytes request) {
  emit_call(context);
  co_return Err(NetErrc::kRemoteError, "boom: " + std::string(as_chars(request)));
}

asio::awaitable<Result<Bytes>> serve_sleep(RpcContext context, Bytes request) {
  emit_call(context);
  const auto ms = parse_decimal(as_chars(request), kMaxSleepMs);
  if (!ms)
    co_return Err(NetErrc::kMalformedMessage, "rpc_sleep: expected decimal milliseconds");
  emit("sleep_started", ",\"ms\":" + std::to_string(*ms));
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(*ms));
  auto [ec] = co_await timer.async_wait(kTuple);
  if (ec) {  // the caller went away (reset, deadline) or the host is stopping
    emit("sleep_cancelled", ",\"ms\":" + std::to_string(*ms));
    co_return Err(NetErrc::kCancelled);
  }
  emit("sleep_done", ",\"ms\":" + std::to_string(*ms));
  co_return to_bytes("slept " + std::to_string(*ms));
}

asio::awaitable<Result<void>> serve_stream_echo(RpcContext context,
                                                RpcStreamReader& in,
                                                RpcStreamWriter& out) {
  emit_call(context);
  while (true) {
    HM_CO_TRY(auto message, co_await in.next());
    if (!message)
      co_return ok();
    HM_CO_TRY_VOID(co_await out.write(*message));
  }
}

asio::awaitable<Result<void>> serve_count(RpcContext context,
                                          RpcStreamReader& in,
                                          RpcStreamWriter& out) {
  emit_call(context);
  HM_CO_TRY(auto request, co_await in.next());
  if (!request)
    co_return Err(NetErrc::kMalformedMessage, "rpc_count: no request");
  const auto n = parse_decimal(as_chars(*request), kMaxCount);
  if (!n)
    co_return Err(NetErrc::kMalformedMessage, "rpc_count: expected a decimal count");
  for (std::uint64_t i = 0; i < *n; ++i) {
    const Bytes message = count_message(i);
    HM_CO_TRY_VOID(co_await out.write(message));
  }
  co_return ok();
}

/// Test.rpc_forward on `host`: "<peer-id>|<payload>" -> rpc_echo(payload) on that peer, or
/// rpc_forward(payload) when the payload starts with another "<peer-id>|" (a chain of hops).
asio::awaitable<Result<Bytes>> serve_forward(Host* host, RpcContext context, Bytes request) {
  emit_call(context);
  const std::string_view text = as_chars(request);
  const auto bar = text.find('|');
  if (bar == std::string_view::npos)
    co_return Err(NetErrc::kMalformedMessage, "rpc_forward: expected <peer-id>|<payload>");
  auto target = PeerId::from_string(text.substr(0, bar));
  if (!target)
    co_return Err(NetErrc::kMalformedMessage, "rpc_forward: bad peer id");
  const std::string_view payload = text.substr(bar + 1);
  const auto next_bar = payload.find('|');
  const bool another_hop = next_bar != std::string_view::npos
                           && PeerId::from_string(payload.substr(0, next_bar)).has_value();
  const std::string method = another_hop ? kForward : kEcho;
  const Bytes inner = to_bytes(payload);
  auto answer = co_await call_unary(*host, *target, method, inner, kForwardTimeout);
  if (!answer)
    co_return Err(NetErrc::kRemoteError,
                  "forward to " + target->to_string() + ": " + answer.error().message());
  co_return std::move(*answer);
}

struct Args {
  std::optional<KeyPair> identity;
  Multiaddr listen;
  std::vector<Multiaddr> connect;
};

Result<Args> parse_args(int argc, char** argv) {
  Args args;
  HM_TRY(args.listen, Multiaddr::from_string("/ip4/127.0.0.1/tcp/0"));
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc)
      return Err(std::make_error_code(std::errc::invalid_argument),
                 "unknown flag or missing value: " + std::string(flag));
    const std::string_view value = argv[++i];
    if (flag == "--seed") {
      auto seed = from_hex(value);
      if (!seed || seed->size() != 32)
        return Err(std::make_error_code(std::errc::invalid_argument), "--seed needs 64 hex digits");
      args.identity = KeyPair::from_seed(std::span<const std::uint8_t, 32>(seed->data(), 32));
    } else if (flag == "--listen") {
      HM_TRY(args.listen, Multiaddr::from_string(value));
    } else if (flag == "--connect") {
      HM_TRY(auto addr, Multiaddr::from_string(value));
      if (!addr.peer_id())
        return Err(std::make_error_code(std::errc::invalid_argument), "--connect needs /p2p/<id>");
      args.connect.push_back(std::move(addr));
    } else {
      return Err(std::make_error_code(std::errc::invalid_argument),
                 "unknown flag: " + std::string(flag));
    }
  }
  return args;
}

/// The running peer: the host, its stop triggers (signals, stdin) and the exit code.
struct Peer {
  asio::io_context io{1};
  std::shared_ptr<Host> host;
  asio::signal_set signals{io, SIGTERM, SIGINT};
  asio::posix::stream_descriptor input{io};
  bool stopping = false;
  int exit_code = 0;

  /// Stops the host (once), then the triggers; prints "stopped". Host thread.
  void request_stop(int code) {
    if (stopping)
      return;
    stopping = true;
    exit_code = code;
    asio::co_spawn(io, shutdown(), asio::detached);
  }

  asio::awaitable<void> shutdown() {
    co_await host->stop();
    signals.cancel();
    asio::error_code ignored;
    input.cancel(ignored);
    emit("stopped");
  }

  /// Reads (and ignores) stdin until it ends, then stops.
  asio::awaitable<void> watch_stdin() {
    std::array<char, 256> buffer{};
    while (true) {
      auto [ec, n] = co_await input.async_read_some(asio::buffer(buffer), kTuple);
      if (ec)
        break;
    }
    request_stop(0);
  }

  /// Dials every --connect address, then announces the listening addresses.
  asio::awaitable<void> start(std::vector<Multiaddr> connect) {
    for (const Multiaddr& addr : connect) {
      auto remote = co_await host->connect(addr);
      if (!remote) {
        emit("error",
             ",\"message\":"
                 + quote("connect " + addr.to_string() + ": " + remote.error().message()));
        request_stop(1);
        co_return;
      }
      emit("connected", ",\"peer_id\":" + quote(remote->to_string()));
    }
    std::string addrs;
    for (const Multiaddr& addr : host->visible_addrs())
      addrs += (addrs.empty() ? "" : ",") + quote(addr.to_string());
    emit("listening",
         ",\"peer_id\":" + quote(host->peer_id().to_string()) + ",\"addrs\":[" + addrs + "]");
  }
};

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a vanished parent must not kill us mid-write
  auto args = parse_args(argc, argv);
  if (!args) {
    emit("error", ",\"message\":" + quote(args.error().message()));
    std::fprintf(stderr,
                 "usage: hm-test-peer [--seed <64 hex>] [--listen <multiaddr>] "
                 "[--connect <multiaddr/p2p/id>]...\n");
    return 2;
  }
  Peer peer;
  HostOptions options;
  options.identity = args->identity;
  options.listen_addrs.push_back(args->listen);
  peer.host = Host::create(peer.io.get_executor(), std::move(options));
  Host* host = peer.host.get();  // handlers never outlive the host (stop() awaits them)
  add_unary_handler(*host, kEcho, serve_echo);
  add_unary_handler(*host, kFail, serve_fail);
  add_unary_handler(*host, kSleep, serve_sleep);
  add_unary_handler(*host, kForward, [host](RpcContext context, Bytes request) {
    return serve_forward(host, std::move(context), std::move(request));
  });
  add_streaming_handler(*host, kStreamEcho, serve_stream_echo);
  add_streaming_handler(*host, kCount, serve_count);
  if (auto listening = host->listen(); !listening) {
    emit("error", ",\"message\":" + quote(listening.error().message()));
    return 1;
  }
  peer.signals.async_wait([&peer](const asio::error_code& ec, int) {
    if (!ec)
      peer.request_stop(0);
  });
  asio::error_code ec;
  peer.input.assign(STDIN_FILENO, ec);  // fails for regular files: then only signals stop us
  if (!ec)
    asio::co_spawn(peer.io, peer.watch_stdin(), asio::detached);
  asio::co_spawn(peer.io, peer.start(std::move(args->connect)), asio::detached);
  peer.io.run();
  if (peer.input.is_open())
    peer.input.release();  // not ours to close
  return peer.exit_code;
}
