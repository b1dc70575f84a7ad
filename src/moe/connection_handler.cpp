// The expert RPCs. A request is parsed (views, no copies), its tensors decoded and checked
// against the expert's schema on the host thread, then queued on the expert's task pool; the
// runtime batches it with other requests and the result comes back here to be encoded. hivemind
// does the same in a ConnectionHandler process; deviations are listed in docs/protocols/moe.md.
#include "hivemind/moe/connection_handler.hpp"

#include "connection_handler_calls.hpp"
#include "hivemind/moe/error.hpp"
#include "hivemind/moe/expert_backend.hpp"
#include "hivemind/moe/expert_messages.hpp"
#include "hivemind/moe/tensor_schema.hpp"
#include "hivemind/net/host.hpp"

namespace hivemind::moe {

ConnectionHandler::ConnectionHandler(std::map<std::string, ServedExpert> experts,
                                     ConnectionHandlerOptions options)
    : experts_(std::move(experts)), options_(std::move(options)) {}

void ConnectionHandler::add_handlers(net::Host& host) {
  using Body = asio::awaitable<Result<Bytes>> (ConnectionHandler::*)(Bytes);
  const std::pair<const char*, Body> unary[] = {{kRpcInfo, &ConnectionHandler::info},
                                                {kRpcForward, &ConnectionHandler::forward},
                                                {kRpcBackward, &ConnectionHandler::backward}};
  for (const auto& [name, body] : unary) {
    net::add_unary_handler(
        host,
        name,
        [weak = weak_from_this(), body](net::RpcContext,
                                        Bytes request) -> asio::awaitable<Result<Bytes>> {
          auto self = weak.lock();
          if (!self)
            co_return Err(MoeErrc::kShuttingDown);
          co_return co_await ((*self).*body)(std::move(request));
        },
        options_.rpc);
  }
  using StreamBody = asio::awaitable<Result<void>> (ConnectionHandler::*)(net::RpcStreamReader&,
                                                                          net::RpcStreamWriter&);
  const std::pair<const char*, StreamBody> streaming[] = {
      {kRpcForwardStream, &ConnectionHandler::forward_stream},
      {kRpcBackwardStream, &ConnectionHandler::backward_stream}};
  for (const auto& [name, body] : streaming) {
    net::add_streaming_handler(
        host,
        name,
        [weak = weak_from_this(), body](
            net::RpcContext,
            net::RpcStreamReader& in,
            net::RpcStreamWriter& out) -> asio::awaitable<Result<void>> {
          auto self = weak.lock();
          if (!self)
            co_return Err(MoeErrc::kShuttingDown);
          co_return co_await ((*self).*body)(in, out);
        },
        options_.rpc);
  }
}

void ConnectionHandler::remove_handlers(net::Host& host) {
  for (const char* name :
       {kRpcInfo, kRpcForward, kRpcBackward, kRpcForwardStream, kRpcBackwardStream})
    host.remove_stream_handler(name);
}

asio::awaitable<Result<Bytes>> ConnectionHandler::info(Bytes request) {
  HM_CO_TRY(auto uid, parse_expert_uid(request));
  HM_CO_TRY(auto expert, detail::find_expert(experts_, uid));
  co_return encode_expert_info_message(encode_expert_info(expert->backend->schema()));
}

asio::awaitable<Result<Bytes>> ConnectionHandler::forward(Bytes request) {
  auto self = shared_from_this();  // the experts outlive this call
  HM_CO_TRY(auto call, detail::decode_call(experts_, request, false, options_));
  HM_CO_TRY(auto outputs, co_await detail::run_call(std::move(call), options_));
  co_return encode_expert_message({}, outputs);
}

asio::awaitable<Result<Bytes>> ConnectionHandler::backward(Bytes request) {
  auto self = shared_from_this();
  HM_CO_TRY(auto call, detail::decode_call(experts_, request, true, options_));
  HM_CO_TRY(auto grads, co_await detail::run_call(std::move(call), options_));
  co_return encode_expert_message({}, grads);
}

}  // namespace hivemind::moe
