#include "moe_server_process.hpp"

#include <csignal>
#include <system_error>
#include <utility>

#include "hivemind/compression/serialization.hpp"
#include "hivemind/moe/connection_handler.hpp"
#include "hivemind/moe/expert_messages.hpp"
#include "hivemind/net/multiaddr.hpp"
#include "hivemind/net/rpc.hpp"

namespace hivemind::moe::servertest {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

std::error_code protocol_error() {
  return std::make_error_code(std::errc::protocol_error);
}

/// The uids of "serving N cls experts on dev: a, b (startup: ...)".
std::vector<std::string> uids_of(const std::string& line) {
  std::vector<std::string> uids;
  const auto colon = line.find(": ");
  const auto end = line.find(" (startup");
  if (colon == std::string::npos || end == std::string::npos || end < colon)
    return uids;
  const std::string list = line.substr(colon + 2, end - colon - 2);
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto comma = list.find(", ", start);
    uids.push_back(
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos)
      break;
    start = comma + 2;
  }
  return uids;
}

}  // namespace

Result<ServerProcess> start_server(const std::vector<std::string>& args) {
  testing::ChildOptions options;
  options.argv = {HM_SERVER_TOOL_PATH, "--host_maddrs", "/ip4/127.0.0.1/tcp/0", "--device", "cpu"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.merge_stderr = true;
  HM_TRY(auto child, testing::ChildProcess::spawn(std::move(options)));
  const auto deadline = Clock::now() + kServerStartTimeout;
  std::vector<std::string> addrs;
  for (;;) {
    HM_TRY(auto line, child.read_line(left_until(deadline)));
    if (line.starts_with("/ip4/")) {
      addrs.push_back(line);
      continue;
    }
    if (!line.starts_with("serving "))
      continue;  // log lines
    if (addrs.empty())
      return Err(protocol_error(), "serving line before any multiaddr: " + line);
    auto addr = net::Multiaddr::from_string(addrs.front());
    if (!addr || !addr->peer_id())
      return Err(protocol_error(), "multiaddr line without /p2p/: " + addrs.front());
    ServerProcess server{std::move(child), std::move(addrs), *addr->peer_id(), line, uids_of(line)};
    return server;
  }
}

Result<ServerRun> run_server_tool(const std::vector<std::string>& args) {
  testing::ChildOptions options;
  options.argv = {HM_SERVER_TOOL_PATH};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.merge_stderr = true;
  return testing::run_to_exit(std::move(options), kToolRunTimeout);
}

Result<int> terminate(ServerProcess& server) {
  server.process.signal(SIGTERM);
  return server.process.wait(kServerExitTimeout);
}

Result<std::unique_ptr<ExpertClient>> ExpertClient::create(const std::string& initial_peer) {
  HM_TRY(auto peer, net::Multiaddr::from_string(initial_peer));
  dht::DHTOptions options;
  options.node.initial_peers.push_back(std::move(peer));
  options.node.client_mode = true;
  options.node.cache_locally = false;  // every lookup asks the network (sees withdrawals)
  HM_TRY(auto dht, dht::DHT::create(std::move(options)));
  return std::unique_ptr<ExpertClient>(new ExpertClient(std::move(dht)));
}

std::vector<std::optional<ExpertInfo>> ExpertClient::get_experts(std::vector<std::string> uids,
                                                                 bool latest) {
  return dht_
      ->run_coroutine<std::vector<std::optional<ExpertInfo>>>(
          [uids = std::move(uids), latest](dht::DhtNode& node) {
            return moe::get_experts(node, uids, latest);
          })
      .get();
}

Result<void> ExpertClient::connect(const std::string& addr) {
  HM_TRY(auto parsed, net::Multiaddr::from_string(addr));
  // Result has no default constructor, which asio's use_future needs: wrap it in an optional.
  auto connected =
      dht_->run_coroutine<std::optional<Result<net::PeerId>>>(
              [parsed](dht::DhtNode& node) -> asio::awaitable<std::optional<Result<net::PeerId>>> {
                co_return co_await node.host().connect(parsed);
              })
          .get();
  HM_TRY_VOID(*connected);
  return ok();
}

Result<Bytes> ExpertClient::call(const net::PeerId& peer,
                                 const std::string& method,
                                 Bytes request) {
  auto reply = dht_->run_coroutine<std::optional<Result<Bytes>>>(
                       [peer, method, request = std::move(request)](
                           dht::DhtNode& node) -> asio::awaitable<std::optional<Result<Bytes>>> {
                         co_return co_await net::call_unary(
                             node.host(), peer, method, request, kCallTimeout);
                       })
                   .get();
  return std::move(*reply);
}

Result<Bytes> ExpertClient::info(const net::PeerId& peer, const std::string& uid) {
  HM_TRY(auto reply, call(peer, kRpcInfo, encode_expert_uid(uid)));
  HM_TRY(auto info, parse_expert_info_message(reply));
  return Bytes(info.begin(), info.end());
}

Result<std::vector<at::Tensor>> ExpertClient::tensors_call(const net::PeerId& peer,
                                                           const std::string& method,
                                                           const std::string& uid,
                                                           const std::vector<at::Tensor>& tensors) {
  std::vector<Bytes> messages;
  for (const auto& tensor : tensors) {
    HM_TRY(auto message,
           compression::serialize_tensor_message(tensor, compression::CompressionType::kNone));
    messages.push_back(std::move(message));
  }
  HM_TRY(auto reply, call(peer, method, encode_expert_request(uid, messages)));
  HM_TRY(auto view, parse_expert_message(reply));
  std::vector<at::Tensor> out;
  for (const auto& part : view.tensors) {
    HM_TRY(auto tensor, compression::deserialize_tensor_message(part));
    out.push_back(std::move(tensor));
  }
  return out;
}

}  // namespace hivemind::moe::servertest
