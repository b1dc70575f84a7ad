#pragma once
// One call to one expert as a coroutine on the caller's executor (RemoteExpert's forward and
// backward), and how the client finds its DHT node.

#include <chrono>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>
#include <asio/awaitable.hpp>

#include "hivemind/moe/client/remote_call.hpp"

namespace hivemind::dht {
class DHT;
class DhtNode;
}  // namespace hivemind::dht

namespace hivemind::moe::client {

/// The node behind `dht` (blocks briefly; not on the network thread).
std::shared_ptr<dht::DhtNode> node_of(dht::DHT& dht);

/// Sends `tensors` to `expert` (serialized with `request_schema`) and decodes the reply against
/// `reply_schema` with `batch` samples. Throws std::system_error on any failure.
asio::awaitable<std::vector<at::Tensor>> call_expert(std::shared_ptr<dht::DHT> dht,
                                                     std::shared_ptr<dht::DhtNode> node,
                                                     ExpertInfo expert,
                                                     ExpertMethod method,
                                                     std::vector<at::Tensor> tensors,
                                                     std::vector<TensorSchema> request_schema,
                                                     std::vector<TensorSchema> reply_schema,
                                                     std::chrono::milliseconds timeout,
                                                     bool check_finite);

}  // namespace hivemind::moe::client
