#include "interop_support.hpp"

#include <algorithm>
#include <utility>

#include <asio/experimental/awaitable_operators.hpp>
#include <unistd.h>

#include "hivemind/core/async_signal.hpp"
#include "hivemind/net/error.hpp"

#ifndef HM_INTEROP_JS_DIR
#error "HM_INTEROP_JS_DIR must name tests/interop/js"
#endif

namespace hivemind::interop {
namespace {

constexpr std::size_t kChunk = 64 * 1024;

bool is_event(const testing::JsonValue& line, const char* a, const char* b) {
  const auto event = line["event"].as_string();
  return event == a || event == b;
}

Err js_error(const testing::JsonValue& line) {
  return Err(std::make_error_code(std::errc::io_error),
             "js peer: " + line["error"].as_string("(no error text)"));
}

Result<testing::ChildProcess> spawn_js(std::vector<std::string> args) {
  if (auto problem = js_install_problem(); !problem.empty())
    return Err(std::make_error_code(std::errc::no_such_file_or_directory), problem);
  testing::ChildOptions options;
  options.argv.push_back(js_dir() + "/run_node.sh");
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  return testing::ChildProcess::spawn(std::move(options));
}

}  // namespace

std::string js_dir() {
  return HM_INTEROP_JS_DIR;
}

std::string js_install_problem() {
  const std::string dir = js_dir();
  if (::access((dir + "/run_node.sh").c_str(), X_OK) != 0)
    return dir + "/run_node.sh is missing or not executable";
  if (::access((dir + "/node_modules/libp2p/package.json").c_str(), R_OK) != 0)
    return "the js-libp2p interop peer is not installed: " + dir
           + "/node_modules is missing. Run `npm ci` in " + dir
           + " (scripts/install_deps.sh does this).";
  return {};
}

Bytes make_payload(std::size_t size, std::uint32_t index) {
  Bytes out(size);
  std::uint32_t x = 0x9E3779B9u ^ static_cast<std::uint32_t>(size) ^ ((index + 1u) * 0x85EBCA6Bu);
  if (x == 0)
    x = 1;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  };
  std::size_t i = 0;
  for (; i + 4 <= size; i += 4) {
    const std::uint32_t w = next();
    for (std::size_t k = 0; k < 4; ++k)
      out[i + k] = static_cast<std::uint8_t>(w >> (8 * k));
  }
  if (i < size) {
    const std::uint32_t w = next();
    for (std::size_t k = 0; i < size; ++i, ++k)
      out[i] = static_cast<std::uint8_t>(w >> (8 * k));
  }
  return out;
}

asio::awaitable<void> echo_handler(std::shared_ptr<net::Stream> stream) {
  Bytes buffer;
  while (true) {
    buffer.clear();
    auto n = co_await stream->read_some(buffer, kChunk);
    if (!n) {
      stream->reset();
      co_return;
    }
    if (*n == 0)
      break;
    if (!co_await stream->write(buffer)) {
      stream->reset();
      co_return;
    }
  }
  if (!stream->close_write())
    stream->reset();
}

asio::awaitable<void> sink_handler(std::shared_ptr<net::Stream> stream) {
  Bytes buffer;
  std::uint64_t count = 0;
  while (true) {
    buffer.clear();
    auto n = co_await stream->read_some(buffer, kChunk);
    if (!n) {
      stream->reset();
      co_return;
    }
    if (*n == 0)
      break;
    count += *n;
  }
  Bytes reply(8);
  store_be<std::uint64_t>(reply.data(), count);
  if (!co_await stream->write(reply) || !stream->close_write())
    stream->reset();
}

void serve_test_protocols(net::Host& host) {
  host.set_stream_handler(kEchoProtocol, echo_handler);
  host.set_stream_handler(kSinkProtocol, sink_handler);
}

asio::awaitable<Result<Bytes>> echo_roundtrip(std::shared_ptr<net::Host> host,
                                              net::PeerId peer,
                                              Bytes payload,
                                              EchoFin fin) {
  using namespace asio::experimental::awaitable_operators;  // NOLINT
  HM_CO_TRY(auto stream, co_await host->new_stream(peer, std::string(kEchoProtocol)));

  // Shared by the two coroutines below; both finish before this frame ends.
  struct State {
    explicit State(const asio::any_io_executor& ex) : changed(ex) {}

    Bytes received;
    bool reader_done = false;
    AsyncSignal changed;
  } state(host->executor());

  const std::size_t limit = payload.size();
  auto writer = [](std::shared_ptr<net::Stream> s,
                   Bytes data,
                   EchoFin mode,
                   State& st) -> asio::awaitable<Result<void>> {
    for (std::size_t off = 0; off < data.size(); off += kChunk) {
      const std::size_t n = std::min(kChunk, data.size() - off);
      HM_CO_TRY_VOID(co_await s->write(BytesView(data).subspan(off, n)));
    }
    while (mode == EchoFin::kAfterFirstEcho && !data.empty() && st.received.empty()
           && !st.reader_done)
      co_await st.changed.wait();
    co_return s->close_write();
  };
  auto reader = [](std::shared_ptr<net::Stream> s,
                   std::size_t max,
                   State& st) -> asio::awaitable<Result<void>> {
    Result<void> outcome = ok();
    while (true) {
      auto n = co_await s->read_some(st.received, kChunk);
      if (!n) {
        outcome = Err(n.error());
        break;
      }
      if (*n == 0)
        break;
      st.changed.notify_all();
      if (st.received.size() > max) {
        outcome = Err(net::NetErrc::kMessageTooLarge, "echo returned more than was sent");
        break;
      }
    }
    st.reader_done = true;
    st.changed.notify_all();
    co_return outcome;
  };
  auto [written, read] =
      co_await (writer(stream, std::move(payload), fin, state) && reader(stream, limit, state));
  if (!written || !read) {
    stream->reset();
    co_return Err(!written ? written.error() : read.error());
  }
  co_return std::move(state.received);
}

Result<JsListener> start_js_listener(std::vector<std::string> extra_args,
                                     std::chrono::milliseconds timeout) {
  std::vector<std::string> args{"listen", "--port", "0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  HM_TRY(auto child, spawn_js(std::move(args)));
  HM_TRY(
      auto line,
      child.read_json([](const testing::JsonValue& v) { return is_event(v, "listening", "error"); },
                      timeout));
  if (line["event"].as_string() == "error")
    return js_error(line);
  HM_TRY(auto peer, net::PeerId::from_string(line["peer_id"].as_string()));
  const auto& addrs = line["addrs"].as_array();
  if (addrs.empty())
    return Err(std::make_error_code(std::errc::protocol_error), "js peer announced no address");
  HM_TRY(auto addr, net::Multiaddr::from_string(addrs.front().as_string()));
  return JsListener{std::move(child), std::move(peer), std::move(addr)};
}

asio::awaitable<Result<int>> stop_js_listener(JsListener& listener,
                                              std::chrono::milliseconds timeout) {
  listener.process.close_stdin();
  auto code = co_await listener.process.async_wait(timeout);
  listener.process.kill();
  co_return code;
}

asio::awaitable<Result<testing::JsonValue>> run_js_dial(const net::Multiaddr& addr,
                                                        std::string test,
                                                        std::vector<std::string> extra_args,
                                                        std::chrono::milliseconds timeout) {
  std::vector<std::string> args;
  args.push_back("dial");
  args.push_back(addr.to_string());
  args.push_back("--test");
  args.push_back(std::move(test));
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto child = spawn_js(std::move(args));
  if (!child)
    co_return Err(child.error());
  auto line = co_await child->async_read_json(
      [](const testing::JsonValue& v) { return is_event(v, "result", "error"); }, timeout);
  if (!line)
    co_return Err(line.error());
  if ((*line)["event"].as_string() == "error")
    co_return js_error(*line);
  // The peer stops its node (closing the connection to our host) and exits; keep serving
  // meanwhile, then make sure it is gone.
  (void)co_await child->async_wait(std::chrono::seconds(10));
  child->kill();
  co_return std::move(*line);
}

}  // namespace hivemind::interop
