#include "mixture_core.hpp"

#include <chrono>
#include <functional>
#include <set>

#include <ATen/ATen.h>

#include "client_errors.hpp"
#include "expert_call.hpp"
#include "hivemind/core/check.hpp"
#include "hivemind/dht/dht.hpp"
#include "hivemind/moe/client/remote_call.hpp"
#include "hivemind/moe/error.hpp"

namespace hivemind::moe::client {
namespace {

// Distinct experts asked for the schema before giving up.
constexpr std::size_t kSchemaAttempts = 3;
constexpr auto kSchemaTimeout = std::chrono::seconds(30);

void check_found(const ChosenExperts& chosen, const std::string& prefix) {
  for (const auto& sample : chosen)
    if (!sample.empty())
      return;
  throw_error(Error(make_error_code(MoeErrc::kNoExpertsFound),
                    "no responding experts found under '" + prefix + "' during beam search"));
}

// The first kSchemaAttempts distinct experts of the choice lists.
std::vector<ExpertInfo> schema_candidates(const ChosenExperts& chosen) {
  std::vector<ExpertInfo> out;
  std::set<std::string> seen;
  for (const auto& sample : chosen)
    for (const auto& e : sample)
      if (out.size() < kSchemaAttempts && seen.insert(e.info.uid).second)
        out.push_back(e.info);
  return out;
}

}  // namespace

std::vector<ExpertGroup> group_by_expert(const ChosenExperts& chosen) {
  std::vector<ExpertGroup> groups;
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t b = 0; b < chosen.size(); ++b) {
    for (std::size_t slot = 0; slot < chosen[b].size(); ++slot) {
      const ExpertInfo& info = chosen[b][slot].info;
      auto [it, inserted] = index.try_emplace(info.uid, groups.size());
      if (inserted)
        groups.push_back(ExpertGroup{.expert = info, .samples = {}, .slots = {}});
      groups[it->second].samples.push_back(static_cast<std::int64_t>(b));
      groups[it->second].slots.push_back(static_cast<std::int64_t>(slot));
    }
  }
  return groups;
}

MixtureCore::MixtureCore(std::shared_ptr<dht::DHT> dht,
                         std::string uid_prefix,
                         std::vector<int> grid_size,
                         std::size_t k_best,
                         FaultToleranceOptions fault_tolerance,
                         BeamSearchOptions beam_search)
    : dht_(std::move(dht)),
      uid_prefix_(std::move(uid_prefix)),
      grid_size_(std::move(grid_size)),
      k_best_(k_best),
      fault_tolerance_(fault_tolerance) {
  HM_CHECK(dht_ != nullptr, "MixtureCore: dht is null");
  HM_CHECK(k_best_ > 0, "k_best must be positive");
  node_ = node_of(*dht_);
  searcher_ = std::make_shared<MoEBeamSearcher>(node_, uid_prefix_, grid_size_, beam_search);
  uid_prefix_ = searcher_->uid_prefix();
}

MixtureCore::~MixtureCore() = default;

std::vector<GridScores> MixtureCore::to_grid_scores(const at::Tensor& scores) const {
  const at::Tensor cpu = scores.detach().to(at::kCPU, at::kFloat).contiguous();
  const std::int64_t batch = cpu.size(0);
  const std::int64_t width = cpu.size(1);
  const float* data = cpu.data_ptr<float>();
  std::vector<GridScores> out(static_cast<std::size_t>(batch));
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* row = data + b * width;
    for (const int size : grid_size_) {
      out[b].emplace_back(row, row + size);
      row += size;
    }
  }
  return out;
}

asio::awaitable<ChosenExperts> MixtureCore::choose(at::Tensor scores) {
  auto searcher = searcher_;
  auto batch = to_grid_scores(scores);
  const std::size_t k = k_best_;
  const auto start = std::chrono::steady_clock::now();
  // (a named std::function: g++ 12 mis-destroys a lambda temporary inside co_await)
  std::function<asio::awaitable<ChosenExperts>(dht::DhtNode&)> search =
      [searcher, batch = std::move(batch), k](dht::DhtNode&) -> asio::awaitable<ChosenExperts> {
    co_return co_await searcher->batch_find_best_experts(batch, k);
  };
  ChosenExperts chosen = co_await dht_->run<ChosenExperts>(std::move(search));
  {
    std::lock_guard lock(mutex_);
    report_.beam_search_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  check_found(chosen, uid_prefix_);
  co_return chosen;
}

asio::awaitable<ExpertSchema> MixtureCore::schema(ChosenExperts chosen) {
  {
    std::lock_guard lock(mutex_);
    if (schema_)
      co_return *schema_;
  }
  auto node = node_;
  std::optional<Error> last_error;
  for (const ExpertInfo& expert : schema_candidates(chosen)) {
    using Reply = std::optional<Result<ExpertSchema>>;
    std::function<asio::awaitable<Reply>(dht::DhtNode&)> fetch =
        [node, expert](dht::DhtNode&) -> asio::awaitable<Reply> {
      co_return co_await fetch_expert_schema(node->host(), expert, kSchemaTimeout);
    };
    Reply reply = co_await dht_->run<Reply>(std::move(fetch));
    if (reply && *reply) {
      std::lock_guard lock(mutex_);
      schema_ = **reply;
      co_return *schema_;
    }
    if (reply)
      last_error = reply->error();
  }
  throw_error(Error(make_error_code(MoeErrc::kTooFewExperts),
                    "could not get the experts' schema under '" + uid_prefix_ + "'"
                        + (last_error ? ": " + last_error->message() : std::string())));
}

MixtureCallReport MixtureCore::last_report() const {
  std::lock_guard lock(mutex_);
  return report_;
}

void MixtureCore::set_report(MixtureCallReport report) {
  std::lock_guard lock(mutex_);
  report.beam_search_seconds = report_.beam_search_seconds;
  report_ = std::move(report);
}

}  // namespace hivemind::moe::client
