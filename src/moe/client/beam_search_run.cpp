// The beam search state machine (beam_search_run.hpp), following hivemind's
// `MoEBeamSearcher._find_best_experts`:
//  1. initial beam: dimension-0 coordinates in score order; prefixes `uid_prefix + i + '.'` are
//     looked up until `beam_size` of them have valid successors (each round asks for as many
//     untried prefixes as could still fill the beam, like hivemind's min(beam_size, num_workers)
//     lookups in flight);
//  2. for each dimension d in 1 .. dims-2: the experts attached to the beam (each dictionary
//     entry names one example expert) join the candidates; the beam_size best prefixes
//     `prefix + c + '.'` by prefix score + scores[d][c] are looked up, and those with valid
//     successors form the next beam (an empty beam ends the search early);
//  3. the experts attached to the final beam join the candidates; the best beam_size are the
//     result, by score (the sum of per-dimension scores of the expert's own coordinates), ties
//     by uid.
// Deviations from hivemind: all samples of a batch advance in lockstep and share lookups (one
// per distinct prefix); coordinates scored -inf or NaN are skipped; ties are broken by uid/prefix
// rather than by Python tuple comparison; prefixes are cached by the searcher, not in the DHT.
#include "beam_search_run.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "hivemind/core/log.hpp"
#include "hivemind/moe/expert_uid.hpp"

namespace hivemind::moe::client::detail {
namespace {

bool excluded(float score) {
  return std::isnan(score) || score == -std::numeric_limits<float>::infinity();
}

/// Best first; ties by the smaller text.
template <class Item>
bool better(const Item& a, const Item& b) {
  return a.first != b.first ? a.first > b.first : a.second < b.second;
}

}  // namespace

BeamSearchRun::BeamSearchRun(const std::string& uid_prefix,
                             const std::vector<int>& grid_size,
                             std::vector<GridScores> batch,
                             std::size_t beam_size,
                             bool initial_only)
    : uid_prefix_(uid_prefix),
      grid_size_(grid_size),
      beam_size_(beam_size),
      initial_only_(initial_only),
      prefix_dots_(static_cast<std::size_t>(
          std::count(uid_prefix.begin(), uid_prefix.end(), kUidDelimiter))) {
  samples_.resize(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Sample& sample = samples_[i];
    sample.scores = std::move(batch[i]);
    sample.next = 0;
    const std::vector<float>& dim0 = sample.scores[0];
    for (std::size_t c = 0; c < dim0.size(); ++c)
      if (!excluded(dim0[c]))
        sample.order.push_back(static_cast<int>(c));
    std::stable_sort(sample.order.begin(), sample.order.end(), [&dim0](int a, int b) {
      return dim0[a] > dim0[b];
    });
  }
  if (beam_size_ == 0)
    finished_ = true;
}

std::string BeamSearchRun::child_prefix(const std::string& prefix, std::int64_t coordinate) const {
  std::string child = prefix;
  child += std::to_string(coordinate);
  child += kUidDelimiter;
  return child;
}

const SuccessorsPtr* BeamSearchRun::resolve(const std::string& prefix, PrefixCache& cache) {
  if (auto it = known_.find(prefix); it != known_.end())
    return &it->second;
  auto cached = cache.find(prefix);
  if (!cached)
    return nullptr;
  return &known_.emplace(prefix, std::move(cached)).first->second;
}

void BeamSearchRun::request(const std::string& prefix, std::vector<std::string>& wanted) {
  if (requested_.insert(prefix).second)
    wanted.push_back(prefix);
}

void BeamSearchRun::initial_lookups(Sample& sample,
                                    PrefixCache& cache,
                                    std::vector<std::string>& wanted) {
  // Consume the resolved prefixes in score order.
  while (sample.beam.size() < beam_size_ && sample.next < sample.order.size()) {
    const int coordinate = sample.order[sample.next];
    std::string prefix = child_prefix(uid_prefix_, coordinate);
    const SuccessorsPtr* successors = resolve(prefix, cache);
    if (successors == nullptr)
      break;
    if (!(*successors)->empty())
      sample.beam.push_back(
          BeamEntry{sample.scores[0][coordinate], std::move(prefix), *successors});
    ++sample.next;
  }
  if (sample.beam.size() >= beam_size_ || sample.next == sample.order.size())
    return;
  // Ask for as many untried prefixes as could still fill the beam.
  std::size_t quota = beam_size_ - sample.beam.size();
  for (std::size_t i = sample.next; i < sample.order.size() && quota > 0; ++i) {
    std::string prefix = child_prefix(uid_prefix_, sample.order[i]);
    if (const SuccessorsPtr* successors = resolve(prefix, cache)) {
      quota -= (*successors)->empty() ? 0 : 1;
      continue;
    }
    request(prefix, wanted);
    --quota;
  }
}

void BeamSearchRun::prepare_candidates(Sample& sample) const {
  const std::vector<float>& dim_scores = sample.scores[dim_];
  sample.candidates.clear();
  for (const BeamEntry& entry : sample.beam)
    for (const Successor& successor : *entry.successors) {
      const float score = dim_scores[static_cast<std::size_t>(successor.coordinate)];
      if (!excluded(score))
        sample.candidates.emplace_back(entry.score + score,
                                       child_prefix(entry.prefix, successor.coordinate));
    }
  const std::size_t keep = std::min(beam_size_, sample.candidates.size());
  std::partial_sort(sample.candidates.begin(),
                    sample.candidates.begin() + keep,
                    sample.candidates.end(),
                    better<std::pair<double, std::string>>);
  sample.candidates.resize(keep);
}

void BeamSearchRun::collect_experts(Sample& sample) const {
  for (const BeamEntry& entry : sample.beam)
    for (const Successor& successor : *entry.successors) {
      double score = 0;
      bool usable = true;
      for (std::size_t d = 0; d < successor.coordinates.size() && usable; ++d) {
        const float dim_score = sample.scores[d][successor.coordinates[d]];
        usable = !excluded(dim_score);
        score += dim_score;
      }
      if (usable)
        sample.experts.try_emplace(successor.expert.uid,
                                   ScoredExpert{successor.expert, successor.coordinates, score});
    }
}

std::vector<std::string> BeamSearchRun::next_lookups(PrefixCache& cache) {
  std::vector<std::string> wanted;
  requested_.clear();
  const std::size_t dims = grid_size_.size();
  while (!finished_) {
    if (dim_ == 0) {
      for (Sample& sample : samples_)
        initial_lookups(sample, cache, wanted);
      if (!wanted.empty())
        return wanted;
      for (Sample& sample : samples_)
        sample.initial = sample.beam;
      finished_ = initial_only_;
      dim_ = 1;
    } else if (dim_ + 1 < dims) {
      if (!candidates_ready_) {
        for (Sample& sample : samples_) {
          collect_experts(sample);
          prepare_candidates(sample);
        }
        candidates_ready_ = true;
      }
      for (Sample& sample : samples_)
        for (const auto& [score, prefix] : sample.candidates)
          if (resolve(prefix, cache) == nullptr)
            request(prefix, wanted);
      if (!wanted.empty())
        return wanted;
      for (Sample& sample : samples_) {
        const bool had_beam = !sample.beam.empty();
        sample.beam.clear();
        for (auto& [score, prefix] : sample.candidates) {
          const SuccessorsPtr& successors = known_.at(prefix);
          if (!successors->empty())
            sample.beam.push_back(BeamEntry{score, std::move(prefix), successors});
        }
        sample.candidates.clear();
        if (had_beam && sample.beam.empty())
          logger("moe")->debug(
              "beam search for {} ended early: empty beam at dimension {}", uid_prefix_, dim_);
      }
      candidates_ready_ = false;
      ++dim_;
    } else {
      for (Sample& sample : samples_)
        collect_experts(sample);
      finished_ = true;
    }
  }
  return wanted;
}

SuccessorsPtr BeamSearchRun::provide(const std::string& prefix,
                                     const std::optional<dht::FoundValue>& found) {
  auto successors = std::make_shared<Successors>();
  if (found) {
    const auto dots =
        static_cast<std::size_t>(std::count(prefix.begin(), prefix.end(), kUidDelimiter));
    if (dots > prefix_dots_)
      *successors =
          select_valid_entries(*found, prefix, dots - prefix_dots_, uid_prefix_, grid_size_);
  }
  SuccessorsPtr result = std::move(successors);
  known_.insert_or_assign(prefix, result);
  return result;
}

std::vector<std::vector<ScoredExpert>> BeamSearchRun::results() const {
  std::vector<std::vector<ScoredExpert>> results(samples_.size());
  for (std::size_t i = 0; i < samples_.size(); ++i) {
    auto& experts = results[i];
    for (const auto& [uid, expert] : samples_[i].experts)
      experts.push_back(expert);
    std::sort(experts.begin(), experts.end(), [](const ScoredExpert& a, const ScoredExpert& b) {
      return a.score != b.score ? a.score > b.score : a.info.uid < b.info.uid;
    });
    if (experts.size() > beam_size_)
      experts.erase(experts.begin() + static_cast<std::ptrdiff_t>(beam_size_), experts.end());
  }
  return results;
}

std::vector<std::pair<double, std::string>> BeamSearchRun::initial_beam(std::size_t sample) const {
  std::vector<std::pair<double, std::string>> beam;
  for (const BeamEntry& entry : samples_.at(sample).initial)
    beam.emplace_back(entry.score, entry.prefix);
  return beam;
}

}  // namespace hivemind::moe::client::detail
