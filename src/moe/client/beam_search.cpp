// MoEBeamSearcher (beam_search.hpp): drives a BeamSearchRun (beam_search_run.hpp, the algorithm)
// over the DHT. Each round's prefixes go to DhtNode::get_many in chunks of at most num_workers
// keys, one chunk after another; what comes back is validated (beam_search_entries.hpp) and
// cached by this searcher only (hivemind stores negative entries in the DHT instead).
#include "hivemind/moe/client/beam_search.hpp"

#include <algorithm>
#include <utility>

#include "beam_search_entries.hpp"
#include "beam_search_run.hpp"
#include "hivemind/core/check.hpp"
#include "hivemind/moe/expert_uid.hpp"

namespace hivemind::moe::client {
namespace {

namespace mp = dht::msgpack;

std::string with_delimiter(std::string prefix) {
  if (prefix.empty() || prefix.back() != kUidDelimiter)
    prefix += kUidDelimiter;
  return prefix;
}

std::vector<mp::Value> keys_of(const std::vector<std::string>& prefixes,
                               std::size_t begin,
                               std::size_t end) {
  std::vector<mp::Value> keys;
  keys.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i)
    keys.emplace_back(prefixes[i]);
  return keys;
}

}  // namespace

struct MoEBeamSearcher::Impl {
  Impl(std::shared_ptr<dht::DhtNode> node_in, const BeamSearchOptions& options)
      : node(std::move(node_in)),
        num_workers(std::max<std::size_t>(1, options.num_workers)),
        cache(options.clock ? *options.clock : SystemClock::instance(),
              options.cache_ttl,
              options.negative_cache_ttl) {}

  /// Runs `run` to completion: lookups from the cache or the DHT until it wants nothing more.
  asio::awaitable<void> drive(detail::BeamSearchRun& run) {
    while (true) {
      std::vector<std::string> wanted = run.next_lookups(cache);
      if (wanted.empty())
        co_return;
      for (std::size_t begin = 0; begin < wanted.size(); begin += num_workers) {
        const std::size_t end = std::min(wanted.size(), begin + num_workers);
        std::vector<mp::Value> keys = keys_of(wanted, begin, end);
        lookups += keys.size();
        auto found = co_await node->get_many(std::move(keys));
        absorb(run, wanted, begin, end, found);
      }
    }
  }

  void absorb(detail::BeamSearchRun& run,
              const std::vector<std::string>& wanted,
              std::size_t begin,
              std::size_t end,
              const std::vector<std::optional<dht::FoundValue>>& found) {
    static const std::optional<dht::FoundValue> kMissing;
    for (std::size_t i = begin; i < end; ++i) {
      const std::size_t at = i - begin;
      cache.put(wanted[i], run.provide(wanted[i], at < found.size() ? found[at] : kMissing));
    }
  }

  std::shared_ptr<dht::DhtNode> node;
  std::size_t num_workers;
  detail::PrefixCache cache;
  std::size_t lookups = 0;
};

MoEBeamSearcher::MoEBeamSearcher(std::shared_ptr<dht::DhtNode> node,
                                 std::string uid_prefix,
                                 std::vector<int> grid_size,
                                 BeamSearchOptions options)
    : uid_prefix_(with_delimiter(std::move(uid_prefix))), grid_size_(std::move(grid_size)) {
  HM_CHECK(node != nullptr, "MoEBeamSearcher needs a DHT node");
  HM_CHECK(is_valid_prefix(uid_prefix_), "invalid expert uid prefix '" + uid_prefix_ + "'");
  HM_CHECK(!grid_size_.empty(), "the expert grid needs at least one dimension");
  for (int size : grid_size_)
    HM_CHECK(size > 0, "every grid dimension must be positive");
  impl_ = std::make_unique<Impl>(std::move(node), options);
}

MoEBeamSearcher::~MoEBeamSearcher() = default;

namespace {

void check_scores(const GridScores& scores, const std::vector<int>& grid_size) {
  HM_CHECK(scores.size() == grid_size.size(), "one score vector per grid dimension expected");
  for (std::size_t d = 0; d < scores.size(); ++d)
    HM_CHECK(scores[d].size() == static_cast<std::size_t>(grid_size[d]),
             "dimension " + std::to_string(d) + " needs one score per coordinate");
}

std::unique_ptr<detail::BeamSearchRun> make_run(const std::string& uid_prefix,
                                                const std::vector<int>& grid_size,
                                                std::vector<GridScores> batch,
                                                std::size_t beam_size,
                                                bool initial_only) {
  return std::make_unique<detail::BeamSearchRun>(
      uid_prefix, grid_size, std::move(batch), beam_size, initial_only);
}

}  // namespace

asio::awaitable<std::vector<ScoredExpert>> MoEBeamSearcher::find_best_experts(
    GridScores scores, std::size_t beam_size) {
  std::vector<GridScores> batch;
  batch.push_back(std::move(scores));
  auto results = co_await batch_find_best_experts(std::move(batch), beam_size);
  co_return std::move(results.front());
}

asio::awaitable<std::vector<std::vector<ScoredExpert>>> MoEBeamSearcher::batch_find_best_experts(
    std::vector<GridScores> batch_scores, std::size_t beam_size) {
  for (const GridScores& scores : batch_scores)
    check_scores(scores, grid_size_);
  auto run = make_run(uid_prefix_, grid_size_, std::move(batch_scores), beam_size, false);
  co_await impl_->drive(*run);
  co_return run->results();
}

asio::awaitable<std::vector<std::pair<double, std::string>>> MoEBeamSearcher::get_initial_beam(
    std::vector<float> dim0_scores, std::size_t beam_size) {
  HM_CHECK(dim0_scores.size() == static_cast<std::size_t>(grid_size_[0]),
           "dimension 0 needs one score per coordinate");
  std::vector<GridScores> batch(1);
  batch[0].push_back(std::move(dim0_scores));
  auto run = make_run(uid_prefix_, grid_size_, std::move(batch), beam_size, true);
  co_await impl_->drive(*run);
  co_return run->initial_beam(0);
}

void MoEBeamSearcher::clear_cache() {
  impl_->cache.clear();
}

std::size_t MoEBeamSearcher::dht_lookups() const noexcept {
  return impl_->lookups;
}

}  // namespace hivemind::moe::client
