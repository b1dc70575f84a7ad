#pragma once
// Private: the inside of a Server, shared by server.cpp (lifecycle) and server_experts.cpp
// (choosing uids, building the experts and their pools).

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "hivemind/compression/worker_pool.hpp"
#include "hivemind/moe/connection_handler.hpp"
#include "hivemind/moe/expert_dht.hpp"
#include "hivemind/moe/runtime.hpp"
#include "hivemind/moe/server.hpp"
#include "hivemind/moe/task_pool.hpp"

namespace hivemind::moe {

struct Server::State {
  ServerOptions options;
  std::unique_ptr<dht::DHT> dht;
  std::unique_ptr<compression::WorkerPool> codec_pool;
  std::vector<std::string> uids;
  std::vector<std::shared_ptr<ExpertBackend>> backends;
  std::map<std::string, ServedExpert> served;
  std::unique_ptr<Runtime> runtime;
  std::shared_ptr<ConnectionHandler> handler;  // used on the DHT thread only
  std::unique_ptr<ExpertDeclarer> declarer;    // used on the DHT thread only
  StartupTimes times;

  std::thread checkpoint_thread;  // saves every update_period while running
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;  // guarded by mutex
  bool shut_down = false;
};

namespace server_detail {

/// The uids to host: explicit, generated (skipping uids the DHT already knows), or checkpointed.
/// Errors: kInvalidUid, kInvalidPattern, kBadConfig.
Result<std::vector<std::string>> choose_uids(const ServerOptions& options, dht::DHT& dht);

/// Builds one backend per uid from the registry's class, loads checkpoints, and makes the
/// forward/backward pools. Errors: kBadConfig (unknown class, backend misuse), kCheckpointError.
Result<void> build_experts(Server::State& state, const ExpertRegistry& registry);

/// The device the experts run on: options.device, or cuda when available, else cpu.
std::string resolve_device(const std::string& requested);

}  // namespace server_detail
}  // namespace hivemind::moe
