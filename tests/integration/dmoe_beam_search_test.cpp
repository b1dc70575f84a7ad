// MoEBeamSearcher against experts declared in an in-process DHT swarm: hivemind's test facts
// (tests/test_dht_experts.py, tests/test_moe.py::test_beam_search_correctness), the true top-k
// on a dense box of a 3-D grid, and batch results equal to single-sample ones.
#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "dmoe_beam_search_fixture.hpp"

namespace hivemind::moe::client {
namespace {

using hivemind::testing::DhtTest;
using namespace testing;  // NOLINT(google-build-using-namespace): the fixture's helpers

GridScores hivemind_scores() {
  GridScores scores(1);
  for (int i = 0; i < 9; ++i)
    scores[0].push_back(static_cast<float>(i));
  scores[0].push_back(kExcluded);  // hivemind's test passes 9 scores for a grid of 10
  return scores;
}

std::vector<float> hivemind_initial_scores() {
  std::vector<float> scores = {3, 2, 1, 0, -1, -2, -3};
  scores.resize(10, kExcluded);
  return scores;
}

TEST_F(DhtTest, DmoeBeamSearchReproducesHivemindFacts) {
  const std::vector<std::vector<std::string>> declarations = {{"expert.1", "expert.2", "expert.3"},
                                                              {"ffn.1", "ffn.2"},
                                                              {"e.1.2.3", "e.1.2.5", "e.2.0"},
                                                              {"expert.5", "expert.2"}};
  const std::vector<std::pair<double, std::string>> expected_beam = {
      {2.0, "expert.1."}, {1.0, "expert.2."}, {0.0, "expert.3."}};
  std::mt19937 rng(7);
  const GridScores scores_2d = random_scores({3, 6}, rng);
  const GridScores scores_3d = random_scores({3, 3, 6}, rng);
  const GridScores small_scores = {{0, 1, 2}};
  run_dht([&]() -> asio::awaitable<void> {
    auto swarm = co_await make_swarm(2, dht::DhtNodeOptions(), 1);
    HM_CO_ASSERT(swarm.size() == 2);
    auto& server = *swarm[0];
    double expiration = dht_now() + 600;
    for (const auto& uids : declarations) {
      // Later declarations expire later, as in hivemind (a record is replaced by a newer one).
      expiration += 1;
      auto stored = co_await declare_experts(server, uids, expiration);
      EXPECT_EQ(std::count(stored.begin(), stored.end(), true),
                static_cast<std::ptrdiff_t>(stored.size()));
    }

    auto searcher = make_searcher(swarm[1], "expert", {10});
    EXPECT_EQ(searcher->uid_prefix(), "expert.");
    auto best = co_await searcher->find_best_experts(hivemind_scores(), 2);
    HM_CO_ASSERT(best.size() == 2);
    EXPECT_EQ(uids_of(best), (std::vector<std::string>{"expert.5", "expert.3"}));
    EXPECT_EQ(best[0].score, 5.0);
    EXPECT_EQ(best[1].score, 3.0);
    EXPECT_EQ(best[0].coordinates, std::vector<int>{5});
    EXPECT_EQ(best[0].info.peer_id, server.peer_id());

    auto beam = co_await searcher->get_initial_beam(hivemind_initial_scores(), 3);
    EXPECT_EQ(beam, expected_beam);

    // Only uids with exactly one coordinate per grid dimension count.
    auto two_d = make_searcher(swarm[1], "e.", {3, 6});
    auto found_2d = co_await two_d->find_best_experts(scores_2d, 10);
    EXPECT_EQ(uids_of(found_2d), std::vector<std::string>{"e.2.0"});
    auto three_d = make_searcher(swarm[1], "e.", {3, 3, 6});
    auto found_3d = co_await three_d->find_best_experts(scores_3d, 10);
    HM_CO_ASSERT(found_3d.size() == 2);
    auto uids_3d = uids_of(found_3d);
    std::sort(uids_3d.begin(), uids_3d.end());
    EXPECT_EQ(uids_3d, (std::vector<std::string>{"e.1.2.3", "e.1.2.5"}));
    EXPECT_GE(found_3d[0].score, found_3d[1].score);
    EXPECT_EQ(found_3d[0].score,
              static_cast<double>(scores_3d[0][1]) + scores_3d[1][2]
                  + scores_3d[2][found_3d[0].coordinates[2]]);
    // A smaller grid sees only the experts within it.
    auto too_small = make_searcher(swarm[1], "expert.", {3});
    auto none = co_await too_small->find_best_experts(small_scores, 4);
    EXPECT_EQ(uids_of(none), (std::vector<std::string>{"expert.2", "expert.1"}));
  });
}

TEST_F(DhtTest, DmoeBeamSearchFindsTheTrueTopKOfADenseBox) {
  const std::vector<int> grid = {32, 32, 32};
  const Box box = make_box("ffn.", {5, 10, 15}, {15, 20, 25});  // hivemind's 1000 experts
  const std::vector<std::size_t> beam_sizes = {1, 4, 9};
  std::mt19937 rng(20240601);
  std::vector<GridScores> draws;
  for (int i = 0; i < 25; ++i)
    draws.push_back(random_scores(grid, rng));
  run_dht([&]() -> asio::awaitable<void> {
    auto swarm = co_await make_swarm(3, dht::DhtNodeOptions(), 2);
    HM_CO_ASSERT(swarm.size() == 3);
    auto stored = co_await declare_experts(*swarm[0], box.uids, dht_now() + 600);
    HM_CO_ASSERT(std::count(stored.begin(), stored.end(), false) == 0);

    auto searcher = make_searcher(swarm[2], "ffn.", grid);
    std::vector<std::vector<ScoredExpert>> singles;
    for (std::size_t k : beam_sizes)
      for (const GridScores& scores : draws) {
        auto found = co_await searcher->find_best_experts(scores, k);
        auto reference = exhaustive_top_k(box.uids, box.coordinates, scores, k);
        HM_CO_ASSERT(found.size() == k);
        for (std::size_t i = 0; i < k; ++i) {
          EXPECT_EQ(found[i].score, reference[i].score) << "rank " << i;
          EXPECT_EQ(found[i].info.uid, reference[i].uid) << "rank " << i;
          EXPECT_EQ(found[i].info.peer_id, swarm[0]->peer_id());
        }
        if (k == 4)
          singles.push_back(std::move(found));
      }

    // batch result[b] == find_best_experts(sample b), also with one key per get_many call and
    // with a cold cache.
    auto batch = co_await searcher->batch_find_best_experts(draws, 4);
    EXPECT_EQ(batch, singles);
    auto narrow = make_searcher(swarm[1], "ffn", grid, 1);
    auto narrow_batch = co_await narrow->batch_find_best_experts(draws, 4);
    EXPECT_EQ(narrow_batch, singles);
    EXPECT_GT(narrow->dht_lookups(), 0u);
    auto empty = co_await narrow->batch_find_best_experts(std::vector<GridScores>(), 4);
    EXPECT_TRUE(empty.empty());
  });
}

TEST_F(DhtTest, DmoeBeamSearchSkipsExcludedCoordinatesAndEmptyGrids) {
  const Box box = make_box("x.", {0, 0}, {3, 3});
  const GridScores scores = {{5, kExcluded, 1}, {0, 2, kExcluded}};
  const GridScores zeros = {{0, 0, 0, 0}, {0, 0, 0, 0}};
  run_dht([&]() -> asio::awaitable<void> {
    auto swarm = co_await make_swarm(2, dht::DhtNodeOptions(), 1);
    HM_CO_ASSERT(swarm.size() == 2);
    auto stored = co_await declare_experts(*swarm[0], box.uids, dht_now() + 600);
    HM_CO_ASSERT(std::count(stored.begin(), stored.end(), false) == 0);
    auto searcher = make_searcher(swarm[1], "x.", {3, 3});
    auto found = co_await searcher->find_best_experts(scores, 10);
    EXPECT_EQ(uids_of(found), (std::vector<std::string>{"x.0.1", "x.0.0", "x.2.1", "x.2.0"}));
    auto nothing = co_await searcher->find_best_experts(scores, 0);
    EXPECT_TRUE(nothing.empty());

    auto absent = make_searcher(swarm[1], "nobody.", {4, 4});
    auto none = co_await absent->find_best_experts(zeros, 3);
    EXPECT_TRUE(none.empty());
    EXPECT_EQ(absent->dht_lookups(), 4u);  // every dimension-0 prefix once, then nothing left
  });
}

}  // namespace
}  // namespace hivemind::moe::client
