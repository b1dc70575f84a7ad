#pragma once
// BeamSearchRun: one batched beam search over the expert grid as a state machine without I/O
// (DESIGN.md §2.2). The searcher's coroutine asks it which prefixes to look up next, fetches
// them from the DHT and hands the results back, until it asks for nothing more. All samples of a
// batch move through the grid dimensions in lockstep, so one step's lookups of all samples are
// one deduplicated set of DHT keys. Thread affinity: the owner's thread; not thread-safe.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "beam_search_entries.hpp"
#include "hivemind/moe/client/beam_search.hpp"

namespace hivemind::moe::client::detail {

using SuccessorsPtr = std::shared_ptr<const Successors>;

class BeamSearchRun {
 public:
  /// `batch[b]` are sample b's scores (for `initial_only`, only batch[b][0] is read). Scores of
  /// -inf or NaN exclude their coordinate. References to `uid_prefix` and `grid_size` are kept.
  BeamSearchRun(const std::string& uid_prefix,
                const std::vector<int>& grid_size,
                std::vector<GridScores> batch,
                std::size_t beam_size,
                bool initial_only);

  /// The prefixes to look up next, deduplicated across samples, at most one step of the search;
  /// prefixes found unexpired in `cache` are used without being returned. Empty: finished.
  std::vector<std::string> next_lookups(PrefixCache& cache);

  /// Takes the DHT's answer for a prefix returned by next_lookups (nullopt: not found) and
  /// returns its valid successors (to be cached by the caller).
  SuccessorsPtr provide(const std::string& prefix, const std::optional<dht::FoundValue>& found);

  /// After next_lookups() returned empty: the best experts of each sample, best first.
  std::vector<std::vector<ScoredExpert>> results() const;

  /// After next_lookups() returned empty: sample b's initial beam as (score, prefix).
  std::vector<std::pair<double, std::string>> initial_beam(std::size_t sample) const;

 private:
  struct BeamEntry {
    double score;
    std::string prefix;
    SuccessorsPtr successors;
  };

  struct Sample {
    GridScores scores;
    std::vector<int> order;  ///< dimension-0 coordinates, best first, excluded ones dropped
    std::size_t next;        ///< first coordinate of `order` not yet consumed
    std::vector<BeamEntry> beam;
    std::vector<BeamEntry> initial;  ///< the initial beam, kept for initial_beam()
    std::vector<std::pair<double, std::string>> candidates;  ///< the next step's prefixes
    std::unordered_map<std::string, ScoredExpert> experts;   ///< found so far, by uid
  };

  const SuccessorsPtr* resolve(const std::string& prefix, PrefixCache& cache);
  void request(const std::string& prefix, std::vector<std::string>& wanted);
  void initial_lookups(Sample& sample, PrefixCache& cache, std::vector<std::string>& wanted);
  void prepare_candidates(Sample& sample) const;
  void collect_experts(Sample& sample) const;
  std::string child_prefix(const std::string& prefix, std::int64_t coordinate) const;

  const std::string& uid_prefix_;
  const std::vector<int>& grid_size_;
  std::size_t beam_size_;
  bool initial_only_;
  std::size_t prefix_dots_;  ///< delimiters in uid_prefix_ (a prefix's depth = its dots - this)
  std::vector<Sample> samples_;
  std::unordered_map<std::string, SuccessorsPtr> known_;  ///< this run's resolved prefixes
  std::unordered_set<std::string> requested_;             ///< this round's wanted prefixes
  std::size_t dim_ = 0;            ///< 0: initial beam; 1..dims-2: expansion; then finished
  bool candidates_ready_ = false;  ///< the current expansion step's candidates are prepared
  bool finished_ = false;
};

}  // namespace hivemind::moe::client::detail
