#include "expert_call.hpp"

#include "call_batch.hpp"
#include "client_errors.hpp"
#include "hivemind/dht/dht.hpp"

namespace hivemind::moe::client {

std::shared_ptr<dht::DhtNode> node_of(dht::DHT& dht) {
  return dht
      .run_coroutine<std::shared_ptr<dht::DhtNode>>(
          [](dht::DhtNode& node) -> asio::awaitable<std::shared_ptr<dht::DhtNode>> {
            co_return node.shared_from_this();
          })
      .get();
}

asio::awaitable<std::vector<at::Tensor>> call_expert(std::shared_ptr<dht::DHT> dht,
                                                     std::shared_ptr<dht::DhtNode> node,
                                                     ExpertInfo expert,
                                                     ExpertMethod method,
                                                     std::vector<at::Tensor> tensors,
                                                     std::vector<TensorSchema> request_schema,
                                                     std::vector<TensorSchema> reply_schema,
                                                     std::chrono::milliseconds timeout,
                                                     bool check_finite) {
  const std::int64_t batch = tensors.empty() ? 0 : tensors.front().size(0);
  std::vector<PendingCall> calls;
  calls.push_back(PendingCall{
      .peer = expert.peer_id,
      .request = value_or_throw(make_request(expert.uid, method, tensors, request_schema))});
  auto pending = CallBatch::start(std::move(node), dht->executor(), std::move(calls), timeout);
  auto result = co_await pending->async_next(CallBatch::Clock::time_point::max());
  if (!result->reply)
    throw_error(result->reply.error());
  co_return value_or_throw(decode_reply(*result->reply, reply_schema, batch, check_finite));
}

}  // namespace hivemind::moe::client
