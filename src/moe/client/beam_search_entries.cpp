// Validation of prefix dictionaries from the DHT and the searcher's prefix cache
// (beam_search_entries.hpp).
//
// Deviation from hivemind's `_select_valid_entries`: besides "int subkey, 2-tuple value" we
// require the uid to be an expert of *this* grid lying below the looked-up prefix (its type,
// coordinate count, ranges and the subkey's coordinate all agree) and the peer id to parse, so
// that a hostile record can neither shape the search nor yield an expert that cannot be called.
#include "beam_search_entries.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "hivemind/moe/expert_uid.hpp"
#include "hivemind/net/peer_id.hpp"

namespace hivemind::moe::client::detail {
namespace {

namespace mp = dht::msgpack;

/// The coordinate `text` as an int when it is `0` or decimal digits without a leading zero and
/// below `limit`.
std::optional<int> parse_coordinate(std::string_view text, int limit) {
  if (text.empty() || text.size() > 10 || (text.size() > 1 && text.front() == '0'))
    return std::nullopt;
  std::int64_t value = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9')
      return std::nullopt;
    value = value * 10 + (ch - '0');
  }
  if (value >= limit)
    return std::nullopt;
  return static_cast<int>(value);
}

/// The items of a msgpack tuple or array, else null.
const std::vector<mp::Value>* items_of(const mp::Value& value) {
  if (value.is<mp::Tuple>())
    return &value.as<mp::Tuple>().items;
  if (value.is<mp::Array>())
    return &value.as<mp::Array>().items;
  return nullptr;
}

/// Whether `uid + '.'` starts with `prefix` (which ends with the delimiter).
bool below_prefix(std::string_view uid, std::string_view prefix) {
  const std::string_view head = prefix.substr(0, prefix.size() - 1);
  return uid.starts_with(head) && (uid.size() == head.size() || uid[head.size()] == kUidDelimiter);
}

/// `ttl` as a clock duration (at most ten years); nullopt when it disables caching.
std::optional<Clock::Duration> to_ttl(std::chrono::duration<double> ttl) {
  constexpr double kMaxSeconds = 10.0 * 365 * 24 * 3600;
  const double seconds = ttl.count();
  if (!(seconds > 0))  // also NaN
    return std::nullopt;
  return std::chrono::duration_cast<Clock::Duration>(
      std::chrono::duration<double>(std::min(seconds, kMaxSeconds)));
}

}  // namespace

std::optional<std::vector<int>> parse_expert_coordinates(std::string_view uid,
                                                         std::string_view uid_prefix,
                                                         const std::vector<int>& grid_size) {
  if (!uid.starts_with(uid_prefix))
    return std::nullopt;
  std::string_view rest = uid.substr(uid_prefix.size());
  std::vector<int> coordinates;
  coordinates.reserve(grid_size.size());
  for (std::size_t d = 0; d < grid_size.size(); ++d) {
    const std::size_t dot = rest.find(kUidDelimiter);
    const bool last = d + 1 == grid_size.size();
    if (last != (dot == std::string_view::npos))
      return std::nullopt;  // too few or too many coordinates
    auto coordinate = parse_coordinate(rest.substr(0, dot), grid_size[d]);
    if (!coordinate)
      return std::nullopt;
    coordinates.push_back(*coordinate);
    if (!last)
      rest.remove_prefix(dot + 1);
  }
  return coordinates;
}

Successors select_valid_entries(const dht::FoundValue& found,
                                std::string_view prefix,
                                std::size_t depth,
                                std::string_view uid_prefix,
                                const std::vector<int>& grid_size) {
  Successors successors;
  const std::size_t dims = grid_size.size();
  const bool flat = dims == 1;
  if (!found.is_dictionary || depth == 0 || depth > dims || (!flat && depth == dims))
    return successors;
  for (const auto& [subkey, entry] : found.subkeys) {
    if (!subkey.is<std::int64_t>())
      continue;
    const std::int64_t coordinate = subkey.as<std::int64_t>();
    if (flat ? coordinate != kFlatExpert : (coordinate < 0 || coordinate >= grid_size[depth]))
      continue;
    const auto* items = items_of(entry.value);
    if (items == nullptr || items->size() != 2 || !(*items)[0].is<mp::Str>()
        || !(*items)[1].is<mp::Str>())
      continue;
    const std::string& uid = (*items)[0].as<mp::Str>().text;
    if (!is_valid_uid(uid))
      continue;
    auto coordinates = parse_expert_coordinates(uid, uid_prefix, grid_size);
    // The uid lies below the prefix, through the subkey's coordinate (a flat expert's uid is
    // the prefix without its trailing delimiter).
    if (!coordinates || !below_prefix(uid, prefix)
        || (!flat && (*coordinates)[depth] != coordinate))
      continue;
    auto peer = net::PeerId::from_string((*items)[1].as<mp::Str>().text);
    if (!peer)
      continue;
    successors.push_back(
        Successor{coordinate, ExpertInfo{uid, std::move(*peer)}, std::move(*coordinates)});
  }
  std::stable_sort(
      successors.begin(), successors.end(), [](const Successor& a, const Successor& b) {
        return a.coordinate < b.coordinate;
      });
  auto duplicates =
      std::unique(successors.begin(), successors.end(), [](const Successor& a, const Successor& b) {
        return a.coordinate == b.coordinate;
      });
  successors.erase(duplicates, successors.end());
  return successors;
}

PrefixCache::PrefixCache(const Clock& clock,
                         std::chrono::duration<double> ttl,
                         std::chrono::duration<double> negative_ttl)
    : clock_(&clock), ttl_(to_ttl(ttl)), negative_ttl_(to_ttl(negative_ttl)) {}

std::shared_ptr<const Successors> PrefixCache::find(const std::string& prefix) {
  auto it = entries_.find(prefix);
  if (it == entries_.end())
    return nullptr;
  if (clock_->now() >= it->second.expires) {
    entries_.erase(it);
    return nullptr;
  }
  return it->second.successors;
}

void PrefixCache::put(const std::string& prefix, std::shared_ptr<const Successors> successors) {
  const auto& ttl = successors->empty() ? negative_ttl_ : ttl_;
  if (!ttl) {
    entries_.erase(prefix);
    return;
  }
  const auto now = clock_->now();
  entries_.insert_or_assign(prefix, Entry{std::move(successors), now + *ttl});
  if (entries_.size() >= sweep_at_)
    sweep(now);
}

void PrefixCache::sweep(Clock::TimePoint now) {
  std::erase_if(entries_, [now](const auto& item) { return now >= item.second.expires; });
  sweep_at_ = std::max<std::size_t>(1024, 2 * entries_.size());
}

}  // namespace hivemind::moe::client::detail
