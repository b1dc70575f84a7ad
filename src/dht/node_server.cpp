// The DHTProtocol handlers a (non-client) node serves. Decoding and storage rules live in
// request_handler.cpp; here are only the coroutine wrappers and the routing-table side effects.
#include "hivemind/dht/error.hpp"
#include "hivemind/net/rpc.hpp"
#include "node_state.hpp"
#include "request_handler.hpp"

namespace hivemind::dht {
namespace {

using Handler = Result<Bytes> (*)(RequestContext&, BytesView, Sender&);

/// Applies `handle` to the node's tables (synchronous: store and find never wait on the network).
Result<Bytes> serve(DhtNode::State& state,
                    Handler handle,
                    const net::PeerId& remote,
                    BytesView request) {
  net::Host& host = state.host;
  RequestContext context{state.id,
                         state.table,
                         state.storage,
                         state.cache,
                         state.validator(),
                         state.options.max_keys_per_request,
                         state.options.bucket_size,
                         [&host](const net::PeerId& peer) -> const std::vector<net::Multiaddr>* {
                           const net::PeerInfo* info = host.peer_store().find(peer);
                           return info != nullptr ? &info->addrs : nullptr;
                         }};
  Sender sender;
  auto response = handle(context, request, sender);
  state.on_request_from(remote, sender.id);
  return response;
}

}  // namespace

void DhtNode::State::register_handlers() {
  if (options.client_mode)
    return;
  for (auto [name, handle] :
       {std::pair{&protocol::kStore, &handle_store}, std::pair{&protocol::kFind, &handle_find}}) {
    net::add_unary_handler(host,
                           *name,
                           [weak = owner, handle](net::RpcContext context,
                                                  Bytes request) -> asio::awaitable<Result<Bytes>> {
                             auto node = weak.lock();
                             if (!node)
                               co_return Err(DhtErrc::kShuttingDown);
                             co_return serve(*node->state_, handle, context.remote, request);
                           });
  }
  net::add_unary_handler(
      host,
      protocol::kPing,
      [weak = owner](net::RpcContext context, Bytes request) -> asio::awaitable<Result<Bytes>> {
        auto node = weak.lock();
        if (!node)
          co_return Err(DhtErrc::kShuttingDown);
        State& state = *node->state_;
        HM_CO_TRY(auto info, decode_ping_request(request));
        bool available = false;
        if (info.sender.id && info.validate) {
          // hivemind: ping the sender back to tell it whether it is reachable; the answer also
          // adds it to our table.
          auto back = co_await state.call_ping(context.remote, false);
          available = back && back->peer == info.sender.id;
        } else {
          state.on_request_from(context.remote, info.sender.id);
        }
        co_return encode_ping_response(state.id, state.now(), available);
      });
}

void DhtNode::State::unregister_handlers() {
  if (options.client_mode)
    return;
  for (const auto* name : {&protocol::kPing, &protocol::kStore, &protocol::kFind})
    host.remove_stream_handler(*name);
}

}  // namespace hivemind::dht
