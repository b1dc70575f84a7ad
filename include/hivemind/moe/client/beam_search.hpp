#pragma once
/// \file
/// `MoEBeamSearcher`: finds the experts with the highest gating scores in a grid of expert uids
/// declared in the DHT (hivemind/moe/client/beam_search.py), walking the prefix dictionaries that
/// servers declare (docs/protocols/moe-dht.md) one grid dimension at a time and keeping the
/// `beam_size` best prefixes. An expert's score is the sum over dimensions d of
/// `grid_scores[d][coordinate_d]`; higher is better.
///
/// Differences from hivemind: prefix lookups of all samples of a batch share one cache and one
/// lookup per distinct prefix in flight; found prefixes are cached for `cache_ttl`, prefixes with
/// no live experts for `negative_cache_ttl`, both in this searcher only (hivemind writes its
/// negative entries into the DHT, where they can shadow a 1-D grid's expert at subkey -1, and its
/// batch path crashes on them). Torch-free.
///
/// Thread affinity: the node's host thread (every coroutine is awaited there); the searcher's
/// cache is not shared with other threads. Several searches may run on one searcher at once
/// (they share its cache). Ownership: shares the node; the searcher must outlive every search
/// started on it.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/awaitable.hpp>

#include "hivemind/core/clock.hpp"
#include "hivemind/dht/node.hpp"
#include "hivemind/moe/expert_dht.hpp"

namespace hivemind::moe::client {

/// Options of MoEBeamSearcher.
struct BeamSearchOptions {
  /// Most prefixes asked of the DHT in one DhtNode::get_many call (hivemind `num_workers`); a
  /// step that needs more sends several calls, one after another. 0 counts as 1.
  std::size_t num_workers = 64;
  /// How long a found prefix (its dictionary of successors) is reused without asking the DHT.
  std::chrono::duration<double> cache_ttl = std::chrono::seconds(5);
  /// How long a prefix with no live experts is remembered as empty (hivemind `negative_caching`
  /// with `cache_expiration`); zero disables negative caching.
  std::chrono::duration<double> negative_cache_ttl = std::chrono::seconds(10);
  /// Time source for the caches (SystemClock when null); must outlive the searcher.
  const Clock* clock = nullptr;
};

/// One found expert and its score.
struct ScoredExpert {
  ExpertInfo info;
  std::vector<int> coordinates;  ///< its grid coordinates, one per dimension
  double score = 0;
  bool operator==(const ScoredExpert&) const = default;
};

/// Per-dimension scores of one sample: scores[d][i] is the score of coordinate i in dimension d
/// (size grid_size[d]; -inf excludes a coordinate).
using GridScores = std::vector<std::vector<float>>;

class MoEBeamSearcher {
 public:
  /// `uid_prefix` gets a trailing '.' if missing (hivemind); `grid_size` has one entry (> 0) per
  /// dimension. Preconditions (HM_CHECK): node non-null, the prefix with its '.' is_valid_prefix,
  /// grid_size non-empty with positive entries.
  MoEBeamSearcher(std::shared_ptr<dht::DhtNode> node,
                  std::string uid_prefix,
                  std::vector<int> grid_size,
                  BeamSearchOptions options = {});
  MoEBeamSearcher(const MoEBeamSearcher&) = delete;
  MoEBeamSearcher& operator=(const MoEBeamSearcher&) = delete;
  ~MoEBeamSearcher();

  /// Up to `beam_size` experts of the grid with the highest scores for one sample, best first
  /// (ties: smaller uid first). Only experts whose uid has exactly grid_size.size() coordinates,
  /// each within its dimension, count; coordinates scored -inf or NaN are never chosen. Empty
  /// when nothing is declared (or every lookup failed) or beam_size is 0. Like hivemind's, the
  /// search is exact on grids whose live experts form a dense box, approximate otherwise.
  /// Precondition (HM_CHECK): scores.size() == grid_size.size(), scores[d].size() == grid_size[d].
  asio::awaitable<std::vector<ScoredExpert>> find_best_experts(GridScores scores,
                                                               std::size_t beam_size);

  /// find_best_experts for every sample of a batch at once (hivemind
  /// `batch_find_best_experts`); result[b] is sample b's experts. The samples advance through
  /// the dimensions together, so each step looks every distinct prefix up once for all of them.
  /// Precondition (HM_CHECK): every sample's scores as for find_best_experts.
  asio::awaitable<std::vector<std::vector<ScoredExpert>>> batch_find_best_experts(
      std::vector<GridScores> batch_scores, std::size_t beam_size);

  /// The first step alone (hivemind `get_initial_beam`): up to `beam_size` prefixes
  /// `uid_prefix + i + '.'` of dimension 0 that have live experts below them, best score first,
  /// as (score, prefix). For tests and diagnostics. Precondition (HM_CHECK):
  /// dim0_scores.size() == grid_size[0].
  asio::awaitable<std::vector<std::pair<double, std::string>>> get_initial_beam(
      std::vector<float> dim0_scores, std::size_t beam_size);

  /// The prefix with its trailing '.' (e.g. "ffn."). Any thread.
  const std::string& uid_prefix() const noexcept { return uid_prefix_; }

  /// Coordinates per dimension. Any thread.
  const std::vector<int>& grid_size() const noexcept { return grid_size_; }

  /// Drops every cached prefix (e.g. after a server is known to have left).
  void clear_cache();

  /// Prefix lookups sent to the DHT so far (cache hits and shared lookups not counted).
  std::size_t dht_lookups() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string uid_prefix_;
  std::vector<int> grid_size_;
};

}  // namespace hivemind::moe::client
