#pragma once
// Helpers of the MoEBeamSearcher tests (dmoe_beam_search*_test.cpp): in-process DHT swarms where
// experts are declared as servers declare them (moe::declare_experts), no expert servers.
// Everything that builds option structs or scores is a plain function, called outside
// coroutines (g++ 12, docs/threading.md).
#include <algorithm>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "hivemind/core/clock.hpp"
#include "hivemind/moe/client/beam_search.hpp"
#include "hivemind/moe/expert_dht.hpp"
#include "testutil/dht_test.hpp"

namespace hivemind::moe::client::testing {

inline constexpr float kExcluded = -std::numeric_limits<float>::infinity();

inline double dht_now() {
  return SystemClock::instance().unix_seconds();
}

inline std::unique_ptr<MoEBeamSearcher> make_searcher(std::shared_ptr<dht::DhtNode> node,
                                                      std::string prefix,
                                                      std::vector<int> grid,
                                                      std::size_t num_workers = 64,
                                                      const Clock* clock = nullptr) {
  BeamSearchOptions options;
  options.num_workers = num_workers;
  options.clock = clock;
  return std::make_unique<MoEBeamSearcher>(
      std::move(node), std::move(prefix), std::move(grid), options);
}

/// Standard normal scores for every coordinate of `grid`.
inline GridScores random_scores(const std::vector<int>& grid, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  GridScores scores(grid.size());
  for (std::size_t d = 0; d < grid.size(); ++d)
    for (int i = 0; i < grid[d]; ++i)
      scores[d].push_back(normal(rng));
  return scores;
}

/// The experts `prefix + i.j.k...` of the dense box [begin[d], end[d]) of a grid.
struct Box {
  std::vector<std::string> uids;
  std::vector<std::vector<int>> coordinates;  ///< per uid
};

inline Box make_box(const std::string& prefix,
                    const std::vector<int>& begin,
                    const std::vector<int>& end) {
  Box box;
  box.coordinates = {{}};
  for (std::size_t d = 0; d < begin.size(); ++d) {
    std::vector<std::vector<int>> longer;
    for (const auto& head : box.coordinates)
      for (int i = begin[d]; i < end[d]; ++i) {
        longer.push_back(head);
        longer.back().push_back(i);
      }
    box.coordinates = std::move(longer);
  }
  for (const auto& coordinates : box.coordinates) {
    std::string uid = prefix;
    for (std::size_t d = 0; d < coordinates.size(); ++d)
      uid += (d == 0 ? "" : ".") + std::to_string(coordinates[d]);
    box.uids.push_back(uid);
  }
  return box;
}

struct ExhaustiveEntry {
  double score = 0;
  std::string uid;
};

/// The `k` best of `coordinates` (one per uid) by summed score, ties by uid: the reference
/// that beam search must reproduce on a dense box.
inline std::vector<ExhaustiveEntry> exhaustive_top_k(
    const std::vector<std::string>& uids,
    const std::vector<std::vector<int>>& coordinates,
    const GridScores& scores,
    std::size_t k) {
  std::vector<ExhaustiveEntry> all;
  for (std::size_t e = 0; e < uids.size(); ++e) {
    double score = 0;
    for (std::size_t d = 0; d < scores.size(); ++d)
      score += scores[d][coordinates[e][d]];
    all.push_back(ExhaustiveEntry{score, uids[e]});
  }
  std::sort(all.begin(), all.end(), [](const ExhaustiveEntry& a, const ExhaustiveEntry& b) {
    return a.score != b.score ? a.score > b.score : a.uid < b.uid;
  });
  all.resize(std::min(k, all.size()));
  return all;
}

inline std::vector<std::string> uids_of(const std::vector<ScoredExpert>& experts) {
  std::vector<std::string> uids;
  for (const auto& expert : experts)
    uids.push_back(expert.info.uid);
  return uids;
}

}  // namespace hivemind::moe::client::testing
