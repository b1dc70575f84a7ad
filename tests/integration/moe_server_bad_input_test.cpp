// Hostile and unlucky clients of an expert server: truncated and mixed-up streams, a flood beyond
// the queue limit, callers that give up mid-call. The expert here is a gate the test opens, so
// that "the queue is full" and "the caller left while queued" happen deterministically.
#include <condition_variable>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "hivemind/moe/error.hpp"
#include "hivemind/moe/expert_module.hpp"
#include "moe_server_fixture.hpp"

namespace hivemind::moe {
namespace {

using testing::ExpertClient;
using testing::small_server;

/// Holds every batch until opened; counts the batches and samples it computed.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  int entered = 0;
  std::int64_t samples = 0;

  void wait_open() {
    std::unique_lock lock(mutex);
    ++entered;
    changed.notify_all();
    changed.wait(lock, [&] { return open; });
  }

  bool wait_entered(int n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, std::chrono::seconds(60), [&] { return entered >= n; });
  }

  void release() {
    std::lock_guard lock(mutex);
    open = true;
    changed.notify_all();
  }
};

Gate* gate = nullptr;  // the current test's gate

class GateExpert : public ExpertModule {
 public:
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override {
    gate->wait_open();
    {
      std::lock_guard lock(gate->mutex);
      gate->samples += inputs[0].size(0);
    }
    return {inputs[0] * 2};
  }
};

class MoeServerBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override { gate = &gate_; }

  void TearDown() override {
    gate_.release();
    if (server_)
      server_->shutdown();
    gate = nullptr;
  }

  /// One gate expert "gate.0": batches of at most 4 samples, at most 8 queued.
  void start() {
    ExpertRegistry registry;
    ASSERT_TRUE(registry
                    .add("gate",
                         {.make = [](std::int64_t) { return std::make_shared<GateExpert>(); },
                          .sample_input =
                              [](std::int64_t batch, std::int64_t h) {
                                return std::vector<at::Tensor>{at::zeros({batch, h})};
                              }})
                    .has_value());
    auto options = small_server("gate", {"gate.0"}, 4);
    options.optimizer.name = "none";
    options.max_batch_size = 4;
    options.max_queued_samples = 8;
    gate_.open = true;  // the server runs the sample input through the expert at start
    auto server = Server::create(options, registry);
    ASSERT_TRUE(server.has_value()) << server.error().message();
    server_ = std::move(*server);
    std::lock_guard lock(gate_.mutex);
    gate_.open = false;
    gate_.entered = 0;
    gate_.samples = 0;
  }

  Gate gate_;
  std::unique_ptr<Server> server_;
};

TEST_F(MoeServerBadInputTest, AFloodBeyondTheQueueLimitIsRefusedAndTheRestIsServed) {
  start();
  ExpertClient client(*server_);
  // The first request occupies the expert; then 6 more of 4 samples: 8 samples fit the queue.
  Result<std::vector<at::Tensor>> first = Err(MoeErrc::kCancelled);
  std::thread running([&] { first = client.call(kRpcForward, "gate.0", {at::ones({4, 4})}); });
  ASSERT_TRUE(gate_.wait_entered(1));
  constexpr int kFlood = 6;
  std::vector<Result<std::vector<at::Tensor>>> results(kFlood, Err(MoeErrc::kCancelled));
  std::vector<std::thread> flood;
  std::atomic<int> refused{0};
  for (int i = 0; i < kFlood; ++i)
    flood.emplace_back([&, i] {
      results[i] = client.call(kRpcForward, "gate.0", {at::full({4, 4}, static_cast<float>(i))});
      if (!results[i])
        ++refused;
    });
  // Refusals come back while the expert is still closed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (refused.load() < kFlood - 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  EXPECT_EQ(refused.load(), kFlood - 2);
  gate_.release();
  running.join();
  for (auto& t : flood)
    t.join();
  ASSERT_TRUE(first.has_value()) << first.error().message();
  int served = 0;
  for (int i = 0; i < kFlood; ++i) {
    if (results[i]) {
      ++served;
      EXPECT_TRUE(at::equal((*results[i])[0], at::full({4, 4}, 2.0F * static_cast<float>(i))));
    } else {
      EXPECT_NE(results[i].error().message().find("queued samples at most"), std::string::npos)
          << results[i].error().message();
    }
  }
  EXPECT_EQ(served, 2);
  EXPECT_EQ(gate_.samples, 12);  // 3 requests of 4 samples
}

TEST_F(MoeServerBadInputTest, ACallerThatGivesUpWhileQueuedIsNeverComputed) {
  start();
  ExpertClient client(*server_);
  Result<std::vector<at::Tensor>> first = Err(MoeErrc::kCancelled);
  std::thread running([&] { first = client.call(kRpcForward, "gate.0", {at::ones({3, 4})}); });
  ASSERT_TRUE(gate_.wait_entered(1));
  auto impatient =
      client.call(kRpcForward, "gate.0", {at::ones({1, 4})}, std::chrono::milliseconds(300));
  ASSERT_FALSE(impatient.has_value());
  // The caller's RST travels to the server asynchronously: opening the gate now would race it
  // against the runtime taking the queued task. A ping on the same connection is answered only
  // after the server's network thread handled the RST queued before it, which cancels the task.
  ASSERT_TRUE(client.ping_server());
  gate_.release();
  running.join();
  ASSERT_TRUE(first.has_value());
  auto later = client.call(kRpcForward, "gate.0", {at::ones({2, 4})});
  ASSERT_TRUE(later.has_value()) << later.error().message();
  EXPECT_EQ(gate_.samples, 5);  // 3 + 2: the impatient caller's sample was dropped unrun
}

TEST_F(MoeServerBadInputTest, TruncatedAndMixedStreamsAreRefused) {
  start();
  gate_.release();
  ExpertClient client(*server_);
  const at::Tensor x = at::ones({4, 4});
  auto parts = ExpertClient::stream_requests("gate.0", {x}, 16);  // 64 bytes -> 4 parts
  ASSERT_EQ(parts.size(), 4u);

  auto truncated = parts;
  truncated.pop_back();
  auto cut = client.streaming(kRpcForwardStream, truncated);
  ASSERT_FALSE(cut.has_value());
  EXPECT_NE(cut.error().message().find("stream"), std::string::npos) << cut.error().message();

  auto mixed = parts;
  mixed[2] = ExpertClient::stream_requests("gate.1", {x}, 16)[2];
  auto differ = client.streaming(kRpcForwardStream, mixed);
  ASSERT_FALSE(differ.has_value());
  EXPECT_NE(differ.error().message().find("differ"), std::string::npos);

  auto empty = client.streaming(kRpcForwardStream, {});
  ASSERT_FALSE(empty.has_value());

  auto garbage = client.streaming(kRpcForwardStream, {Bytes{0x12, 0x05, 0x01}});
  ASSERT_FALSE(garbage.has_value());

  auto whole = client.streaming(kRpcForwardStream, parts);
  ASSERT_TRUE(whole.has_value()) << whole.error().message();
  EXPECT_EQ(gate_.samples, 4);
}

}  // namespace
}  // namespace hivemind::moe
