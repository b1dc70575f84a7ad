#pragma once
// FakeExpertServer: a server-mode DHT whose host serves the expert RPCs by hand, each uid with a
// scripted behaviour (honest, hanging, wrong shapes, NaN, garbage, wrong tensor count or batch,
// a stream broken after one part), declared in the DHT like a real server's experts. Its handlers
// count what they do, so that tests can wait for "no call left in flight".
#include <chrono>
#include <condition_variable>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "hivemind/compression/serialization.hpp"
#include "hivemind/compression/streaming.hpp"
#include "hivemind/core/clock.hpp"
#include "hivemind/dht/dht.hpp"
#include "hivemind/moe/connection_handler.hpp"
#include "hivemind/moe/error.hpp"
#include "hivemind/moe/expert_dht.hpp"
#include "hivemind/moe/expert_messages.hpp"
#include "hivemind/moe/tensor_schema.hpp"
#include "hivemind/net/multiaddr.hpp"
#include "hivemind/net/rpc.hpp"

namespace hivemind::moe::testing {

/// How a fake expert answers rpc_forward / rpc_backward (rpc_info is always honest).
enum class FakeMode {
  kHonest,           ///< outputs fake_factor(uid) * input; backward: factor * grad
  kHang,             ///< forward never answers (until the caller resets the stream)
  kWrongShape,       ///< an output [B, hidden + 1]
  kNaN,              ///< an output of the right shape full of NaN
  kGarbage,          ///< bytes that are no ExpertResponse
  kWrongCount,       ///< two outputs instead of one
  kWrongBatch,       ///< an output [B + 1, hidden]
  kPartialThenFail,  ///< streamed: the first part of the honest output, then an error
  kPartialThenHang,  ///< streamed: the first part of the honest output, then silence
};

/// The honest fake expert `uid` computes fake_factor(uid) * input: 2 + its last coordinate.
inline double fake_factor(const std::string& uid) {
  return 2.0 + std::stod(uid.substr(uid.rfind('.') + 1));
}

/// What the handlers of one fake server did. Thread-safe.
class FakeExpertStats {
 public:
  struct Counts {
    int in_flight = 0;     ///< forward/backward handlers running now
    int calls = 0;         ///< forward/backward handlers started
    int hung = 0;          ///< handlers that started hanging (kHang, kPartialThenHang)
    int cancelled = 0;     ///< hanging handlers that saw their wait aborted (caller reset)
    int partial_sent = 0;  ///< partial stream replies sent
  };

  /// Applies `change` to the counts and wakes waiters.
  void update(const std::function<void(Counts&)>& change) {
    std::lock_guard lock(mutex_);
    change(counts_);
    changed_.notify_all();
  }

  /// Waits until `done(counts)` holds; false when `limit` passed first (a failure bound).
  bool wait(const std::function<bool(const Counts&)>& done,
            std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return done(counts_); });
  }

  Counts counts() {
    std::lock_guard lock(mutex_);
    return counts_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  Counts counts_;
};

/// A fake expert server on loopback. Create with start(); shutdown() is a crash (nothing is
/// withdrawn from the DHT).
class FakeExpertServer {
 public:
  /// Starts the DHT (joined to `bootstrap`, if any), registers the handlers for `modes` (schema
  /// [*, hidden] -> [*, hidden], float32) and declares the uids for ten minutes.
  static std::unique_ptr<FakeExpertServer> start(std::map<std::string, FakeMode> modes,
                                                 std::int64_t hidden,
                                                 std::vector<net::Multiaddr> bootstrap = {});

  ~FakeExpertServer() { shutdown(); }

  /// Stops the host: open connections drop, later dials are refused. Idempotent.
  void shutdown() { dht_->shutdown(); }

  const net::PeerId& peer_id() const { return dht_->peer_id(); }

  std::vector<net::Multiaddr> visible_multiaddrs() const { return dht_->visible_multiaddrs(); }

  dht::DHT& dht() { return *dht_; }

  FakeExpertStats& stats() { return *stats_; }

 private:
  FakeExpertServer() = default;

  std::shared_ptr<dht::DHT> dht_;
  std::shared_ptr<FakeExpertStats> stats_;
};

namespace fake_detail {

struct Shared {
  std::map<std::string, FakeMode> modes;
  std::int64_t hidden = 0;
  std::shared_ptr<FakeExpertStats> stats;
};

// Counts a forward/backward handler as in flight for its lifetime.
class InFlight {
 public:
  explicit InFlight(std::shared_ptr<FakeExpertStats> stats) : stats_(std::move(stats)) {
    stats_->update([](FakeExpertStats::Counts& c) {
      ++c.in_flight;
      ++c.calls;
    });
  }

  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

  ~InFlight() {
    stats_->update([](FakeExpertStats::Counts& c) { --c.in_flight; });
  }

 private:
  std::shared_ptr<FakeExpertStats> stats_;
};

struct Request {
  std::string uid;
  std::vector<at::Tensor> tensors;
};

inline Result<Request> decode_request(const std::vector<Bytes>& messages) {
  compression::TensorStreamAssembler assembler;
  Request request;
  for (const auto& message : messages) {
    HM_TRY(auto view, parse_expert_message(message));
    request.uid = std::string(view.uid);
    for (const auto& part : view.tensors)
      HM_TRY_VOID(assembler.push_message(part));
  }
  HM_TRY(auto parts, assembler.finish());
  for (auto& part : parts) {
    HM_TRY(auto tensor, compression::deserialize_tensor(std::move(part)));
    request.tensors.push_back(std::move(tensor));
  }
  if (request.tensors.empty())
    return Err(MoeErrc::kBadRequest, "fake: no tensors");
  return request;
}

inline compression::SerializedTensor serialize(const at::Tensor& tensor) {
  return *compression::serialize_tensor(tensor.contiguous(), compression::CompressionType::kNone);
}

// The reply tensors of `mode`; a backward request carries (input, grad_output).
inline std::vector<at::Tensor> reply_tensors(FakeMode mode,
                                             const Request& request,
                                             std::int64_t hidden) {
  const at::Tensor& x = request.tensors.back();
  const std::int64_t batch = x.size(0);
  const at::Tensor honest = x * fake_factor(request.uid);
  switch (mode) {
    case FakeMode::kWrongShape:
      return {at::zeros({batch, hidden + 1})};
    case FakeMode::kNaN:
      return {at::full({batch, hidden}, std::numeric_limits<float>::quiet_NaN())};
    case FakeMode::kWrongCount:
      return {honest, honest};
    case FakeMode::kWrongBatch:
      return {at::zeros({batch + 1, hidden})};
    default:
      return {honest};
  }
}

inline Bytes encode_reply(const std::vector<at::Tensor>& tensors) {
  std::vector<compression::SerializedTensor> serialized;
  for (const auto& t : tensors)
    serialized.push_back(serialize(t));
  return encode_expert_message("", serialized);
}

// Field 2, length-delimited, declaring far more bytes than follow.
inline Bytes garbage() {
  return Bytes{0x12, 0xff, 0xff, 0xff, 0x0f, 0x01};
}

// Waits until the caller resets the stream (the handler is cancelled); counts both events.
inline asio::awaitable<void> hang(std::shared_ptr<FakeExpertStats> stats) {
  stats->update([](FakeExpertStats::Counts& c) { ++c.hung; });
  asio::steady_timer never(co_await asio::this_coro::executor,
                           asio::steady_timer::time_point::max());
  auto [ec] = co_await never.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  if (ec == asio::error::operation_aborted)
    stats->update([](FakeExpertStats::Counts& c) { ++c.cancelled; });
}

inline asio::awaitable<Result<Bytes>> serve_unary(std::shared_ptr<Shared> s,
                                                  bool backward,
                                                  Bytes bytes) {
  InFlight guard(s->stats);
  std::vector<Bytes> messages;
  messages.push_back(std::move(bytes));
  HM_CO_TRY(auto request, decode_request(messages));
  const auto it = s->modes.find(request.uid);
  if (it == s->modes.end())
    co_return Err(MoeErrc::kUnknownExpert, "fake: no expert " + request.uid);
  if (it->second == FakeMode::kHang && !backward) {
    co_await hang(s->stats);
    co_return Err(MoeErrc::kCancelled, "fake: hung");
  }
  if (it->second == FakeMode::kGarbage)
    co_return garbage();
  co_return encode_reply(reply_tensors(it->second, request, s->hidden));
}

inline asio::awaitable<Result<void>> serve_stream(std::shared_ptr<Shared> s,
                                                  bool backward,
                                                  net::RpcStreamReader& in,
                                                  net::RpcStreamWriter& out) {
  InFlight guard(s->stats);
  std::vector<Bytes> messages;
  for (;;) {
    HM_CO_TRY(auto next, co_await in.next());
    if (!next)
      break;
    messages.push_back(std::move(*next));
  }
  HM_CO_TRY(auto request, decode_request(messages));
  const auto it = s->modes.find(request.uid);
  if (it == s->modes.end())
    co_return Err(MoeErrc::kUnknownExpert, "fake: no expert " + request.uid);
  const FakeMode mode = it->second;
  if ((mode == FakeMode::kHang && !backward) || mode == FakeMode::kGarbage) {
    co_return Err(MoeErrc::kBadRequest, "fake: streamed mode not scripted");
  }
  const std::vector<at::Tensor> tensors = reply_tensors(mode, request, s->hidden);
  const bool partial = mode == FakeMode::kPartialThenFail || mode == FakeMode::kPartialThenHang;
  for (const auto& tensor : tensors) {
    const std::size_t part_bytes =
        partial ? std::size_t{1} << 16 : compression::kMoEStreamChunkBytes;
    for (const auto& part : compression::split_for_streaming(serialize(tensor), part_bytes)) {
      const std::vector<compression::SerializedTensor> one{part};
      const Bytes message = encode_expert_message("", one);
      HM_CO_TRY_VOID(co_await out.write(message));
      if (!partial)
        continue;
      s->stats->update([](FakeExpertStats::Counts& c) { ++c.partial_sent; });
      if (mode == FakeMode::kPartialThenFail)
        co_return Err(MoeErrc::kExpertFailed, "fake: broke off after one part");
      co_await hang(s->stats);
      co_return Err(MoeErrc::kCancelled, "fake: hung");
    }
  }
  co_return ok();
}

inline asio::awaitable<Result<Bytes>> serve_info(std::shared_ptr<Shared> s, Bytes bytes) {
  HM_CO_TRY(auto uid, parse_expert_uid(bytes));
  if (!s->modes.contains(uid))
    co_return Err(MoeErrc::kUnknownExpert, "fake: no expert " + uid);
  const TensorSchema tensor{.shape = {s->hidden}};
  const ExpertSchema schema{.args = {tensor}, .outputs = {tensor}};
  co_return encode_expert_info_message(encode_expert_info(schema));
}

inline void register_handlers(net::Host& host, std::shared_ptr<Shared> s) {
  net::add_unary_handler(host, kRpcInfo, [s](net::RpcContext, Bytes request) {
    return serve_info(s, std::move(request));
  });
  for (const bool backward : {false, true}) {
    net::add_unary_handler(
        host, backward ? kRpcBackward : kRpcForward, [s, backward](net::RpcContext, Bytes request) {
          return serve_unary(s, backward, std::move(request));
        });
    net::add_streaming_handler(
        host,
        backward ? kRpcBackwardStream : kRpcForwardStream,
        [s, backward](net::RpcContext, net::RpcStreamReader& in, net::RpcStreamWriter& out) {
          return serve_stream(s, backward, in, out);
        });
  }
}

}  // namespace fake_detail

inline std::unique_ptr<FakeExpertServer> FakeExpertServer::start(
    std::map<std::string, FakeMode> modes,
    std::int64_t hidden,
    std::vector<net::Multiaddr> bootstrap) {
  dht::DHTOptions options;
  options.host.listen_addrs.push_back(*net::Multiaddr::from_string("/ip4/127.0.0.1/tcp/0"));
  options.node.initial_peers = std::move(bootstrap);
  auto created = dht::DHT::create(options);
  EXPECT_TRUE(created.has_value()) << created.error().message();
  if (!created)
    return nullptr;
  auto server = std::unique_ptr<FakeExpertServer>(new FakeExpertServer());
  server->dht_ = std::move(*created);
  server->stats_ = std::make_shared<FakeExpertStats>();
  auto shared = std::make_shared<fake_detail::Shared>(
      fake_detail::Shared{.modes = modes, .hidden = hidden, .stats = server->stats_});
  std::vector<std::string> uids;
  for (const auto& [uid, mode] : modes)
    uids.push_back(uid);
  const double expiration = SystemClock::instance().unix_seconds() + 600;
  auto declared =
      server->dht_
          ->run_coroutine<std::vector<bool>>(
              [shared, uids, expiration](dht::DhtNode& node) -> asio::awaitable<std::vector<bool>> {
                fake_detail::register_handlers(node.host(), shared);
                co_return co_await declare_experts(node, uids, expiration);
              })
          .get();
  for (const bool ok : declared)
    EXPECT_TRUE(ok);
  return server;
}

}  // namespace hivemind::moe::testing
