// rpc_forward_stream / rpc_backward_stream: the request arrives as ExpertRequest messages each
// carrying tensor parts (hivemind: split_for_streaming at 4 MiB, the uid repeated on every
// message); the parts are checked under StreamLimits as they arrive, so a hostile stream cannot
// make the server buffer more than the limits allow, and each tensor's parts are joined once,
// into the memory its tensor adopts (tensor_parts.hpp). The response is one ExpertResponse per
// output part, as hivemind sends it, each written straight from the output's bytes into one
// message buffer reused from part to part.
#include "connection_handler_calls.hpp"
#include "hivemind/compression/serialization.hpp"
#include "hivemind/moe/error.hpp"
#include "hivemind/moe/expert_messages.hpp"
#include "tensor_parts.hpp"

namespace hivemind::moe {
namespace {

namespace comp = hivemind::compression;

/// Reads a whole streaming request into a checked call.
asio::awaitable<Result<detail::Call>> read_stream_call(
    const std::map<std::string, ServedExpert>& experts,
    net::RpcStreamReader& in,
    bool backward,
    const ConnectionHandlerOptions& options) {
  detail::TensorPartJoiner joiner(options.stream_limits);
  std::optional<std::string> uid;
  std::size_t messages = 0;
  while (true) {
    HM_CO_TRY(auto message, co_await in.next());
    if (!message)
      break;
    if (++messages > options.max_stream_messages)
      co_return Err(MoeErrc::kBadRequest,
                    "more than " + std::to_string(options.max_stream_messages) + " messages");
    HM_CO_TRY(auto view, parse_expert_message(*message));
    if (!uid)
      uid = std::string(view.uid);
    else if (*uid != view.uid)
      co_return Err(MoeErrc::kBadRequest, "expert uids differ in one request");
    if (messages == 1) {
      // Fail fast on an unknown expert, before buffering any tensor.
      HM_CO_TRY_VOID(detail::find_expert(experts, *uid));
    }
    // The parts view *message; moving it into the joiner keeps its bytes where they are.
    auto pushed = joiner.push(view.tensors, std::move(*message));
    if (!pushed)
      co_return Err(MoeErrc::kBadRequest, "tensor stream: " + pushed.error().message());
  }
  if (!uid)
    co_return Err(MoeErrc::kBadRequest, "empty request stream");
  HM_CO_TRY(auto expert, detail::find_expert(experts, *uid));
  auto parts = joiner.finish();
  if (!parts)
    co_return Err(MoeErrc::kBadRequest, "tensor stream: " + parts.error().message());
  detail::Call call{.expert = expert, .backward = backward, .tensors = {}};
  const comp::CodecOptions codec{.pool = options.codec_pool};
  for (std::size_t i = 0; i < parts->size(); ++i) {
    auto tensor = comp::deserialize_tensor(std::move((*parts)[i]), codec);
    if (!tensor)
      co_return Err(
          MoeErrc::kBadRequest,
          "tensor " + std::to_string(i) + " does not decode: " + tensor.error().message());
    call.tensors.push_back(std::move(*tensor));
  }
  HM_CO_TRY_VOID(detail::check_call(call, options.check_finite));
  co_return call;
}

/// Sends every output as parts of at most `chunk_bytes`, one ExpertResponse per part.
asio::awaitable<Result<void>> write_stream(detail::CallResults results,
                                           net::RpcStreamWriter& out,
                                           std::size_t chunk_bytes,
                                           comp::WorkerPool* codec_pool) {
  // Everything is encoded before the first write, so that an output that does not encode is an
  // error response rather than a truncated one.
  const comp::CodecOptions codec{.pool = codec_pool};
  std::vector<detail::PartSource> sources;
  sources.reserve(results.tensors.size());
  for (std::size_t i = 0; i < results.tensors.size(); ++i) {
    auto source = detail::prepare_parts(results.tensors[i], results.types[i], codec);
    if (!source)
      co_return Err(
          MoeErrc::kExpertFailed,
          "output " + std::to_string(i) + " does not encode: " + source.error().message());
    sources.push_back(std::move(*source));
  }
  results.tensors.clear();  // the sources hold what they view
  Bytes message;            // reused: write() is done with it once it completes
  for (const auto& source : sources) {
    const std::size_t parts = detail::part_count(source, chunk_bytes);
    for (std::size_t k = 0; k < parts; ++k) {
      detail::encode_part_message(message, {}, source, k, chunk_bytes);
      HM_CO_TRY_VOID(co_await out.write(message));
    }
  }
  co_return ok();
}

asio::awaitable<Result<void>> serve_stream(const ConnectionHandler& handler,
                                           net::RpcStreamReader& in,
                                           net::RpcStreamWriter& out,
                                           bool backward,
                                           const ConnectionHandlerOptions& options) {
  HM_CO_TRY(auto call, co_await read_stream_call(handler.experts(), in, backward, options));
  HM_CO_TRY(auto results, co_await detail::compute_call(std::move(call)));
  co_return co_await write_stream(
      std::move(results), out, options.stream_chunk_bytes, options.codec_pool);
}

}  // namespace

asio::awaitable<Result<void>> ConnectionHandler::forward_stream(net::RpcStreamReader& in,
                                                                net::RpcStreamWriter& out) {
  auto self = shared_from_this();
  co_return co_await serve_stream(*this, in, out, false, options_);
}

asio::awaitable<Result<void>> ConnectionHandler::backward_stream(net::RpcStreamReader& in,
                                                                 net::RpcStreamWriter& out) {
  auto self = shared_from_this();
  co_return co_await serve_stream(*this, in, out, true, options_);
}

}  // namespace hivemind::moe
