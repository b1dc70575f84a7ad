#pragma once
// Fixture for in-process expert server tests: a Server on 127.0.0.1 and a client-mode DHT that
// joins it and calls the expert RPCs with hand-built runtime.proto messages.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "hivemind/compression/serialization.hpp"
#include "hivemind/compression/streaming.hpp"
#include "hivemind/dht/dht.hpp"
#include "hivemind/moe/connection_handler.hpp"
#include "hivemind/moe/expert_messages.hpp"
#include "hivemind/moe/server.hpp"
#include "hivemind/net/rpc.hpp"

namespace hivemind::moe::testing {

inline net::Multiaddr loopback() {
  return *net::Multiaddr::from_string("/ip4/127.0.0.1/tcp/0");
}

/// Server options for small CPU experts on loopback.
inline ServerOptions small_server(std::string cls, std::vector<std::string> uids, int hidden) {
  ServerOptions o;
  o.expert_cls = std::move(cls);
  o.expert_uids = std::move(uids);
  o.hidden_dim = hidden;
  o.device = "cpu";
  o.dht.host.listen_addrs.push_back(loopback());
  return o;
}

/// A client-mode DHT node that joined `server`, with helpers to call its experts.
class ExpertClient {
 public:
  explicit ExpertClient(const Server& server) : server_peer_(server.peer_id()) {
    dht::DHTOptions options;
    options.host.listen_addrs.push_back(loopback());
    options.node.client_mode = true;
    options.node.initial_peers = server.visible_multiaddrs();
    auto created = dht::DHT::create(options);
    EXPECT_TRUE(created.has_value()) << created.error().message();
    dht_ = std::move(*created);
  }

  dht::DHT& dht() { return *dht_; }

  /// One unary call to the server.
  Result<Bytes> unary(const std::string& method, Bytes request) {
    return unary(method, std::move(request), std::chrono::seconds(60));
  }

  /// One unary call with a deadline (the stream is reset when it passes).
  Result<Bytes> unary(const std::string& method, Bytes request, std::chrono::milliseconds timeout) {
    const net::PeerId peer = server_peer_;
    // (futures need a default-constructible value: hence the optional)
    using Reply = std::optional<Result<Bytes>>;
    return *dht_->run_coroutine<Reply>([peer, method, request = std::move(request), timeout](
                                           dht::DhtNode& node) -> asio::awaitable<Reply> {
                  co_return co_await net::call_unary(node.host(), peer, method, request, timeout);
                })
                .get();
  }

  /// A libp2p ping to the server over the connection the calls use. Frames on a connection are
  /// handled in order, so when it returns the server has processed everything sent before it
  /// (e.g. the RST of a call that gave up).
  bool ping_server() {
    const net::PeerId peer = server_peer_;
    return dht_
        ->run_coroutine<bool>([peer](dht::DhtNode& node) -> asio::awaitable<bool> {
          auto rtt = co_await node.host().ping(peer);
          co_return rtt.has_value();
        })
        .get();
  }

  /// One streaming call: every request message sent, every response collected.
  Result<std::vector<Bytes>> streaming(const std::string& method, std::vector<Bytes> requests) {
    const net::PeerId peer = server_peer_;
    using Replies = std::optional<Result<std::vector<Bytes>>>;
    return *dht_->run_coroutine<Replies>([peer, method, requests = std::move(requests)](
                                             dht::DhtNode& node) -> asio::awaitable<Replies> {
                  co_return co_await net::call_streaming(
                      node.host(), peer, method, requests, std::chrono::seconds(60));
                })
                .get();
  }

  /// rpc_forward / rpc_backward with uncompressed tensors; returns the decoded results.
  Result<std::vector<at::Tensor>> call(
      const std::string& method,
      const std::string& uid,
      const std::vector<at::Tensor>& tensors,
      std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    HM_TRY(auto reply, unary(method, request(uid, tensors), timeout));
    HM_TRY(auto view, parse_expert_message(reply));
    std::vector<at::Tensor> out;
    for (const auto& part : view.tensors) {
      HM_TRY(auto t, compression::deserialize_tensor_message(part));
      out.push_back(std::move(t));
    }
    return out;
  }

  /// An ExpertRequest carrying `tensors` uncompressed.
  static Bytes request(const std::string& uid, const std::vector<at::Tensor>& tensors) {
    std::vector<Bytes> messages;
    for (const auto& t : tensors)
      messages.push_back(
          *compression::serialize_tensor_message(t, compression::CompressionType::kNone));
    return encode_expert_request(uid, messages);
  }

  /// The request messages of a streaming call: each tensor cut into parts of `part_bytes`.
  static std::vector<Bytes> stream_requests(const std::string& uid,
                                            const std::vector<at::Tensor>& tensors,
                                            std::size_t part_bytes) {
    std::vector<Bytes> requests;
    for (const auto& t : tensors) {
      auto serialized = *compression::serialize_tensor(t, compression::CompressionType::kNone);
      for (auto& part : compression::split_tensor_messages(serialized, part_bytes)) {
        std::vector<Bytes> one;
        one.push_back(std::move(part));
        requests.push_back(encode_expert_request(uid, one));
      }
    }
    return requests;
  }

  /// The streaming variant: tensors cut into parts of `part_bytes`, one request message each.
  Result<std::vector<at::Tensor>> call_stream(const std::string& method,
                                              const std::string& uid,
                                              const std::vector<at::Tensor>& tensors,
                                              std::size_t part_bytes,
                                              std::size_t* response_messages = nullptr) {
    HM_TRY(auto replies, streaming(method, stream_requests(uid, tensors, part_bytes)));
    if (response_messages != nullptr)
      *response_messages = replies.size();
    compression::TensorStreamAssembler assembler;
    for (const auto& reply : replies) {
      HM_TRY(auto view, parse_expert_message(reply));
      for (const auto& part : view.tensors)
        HM_TRY_VOID(assembler.push_message(part));
    }
    HM_TRY(auto parts, assembler.finish());
    std::vector<at::Tensor> out;
    for (auto& part : parts) {
      HM_TRY(auto t, compression::deserialize_tensor(std::move(part)));
      out.push_back(std::move(t));
    }
    return out;
  }

 private:
  net::PeerId server_peer_;
  std::unique_ptr<dht::DHT> dht_;
};

}  // namespace hivemind::moe::testing
