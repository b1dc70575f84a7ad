#include "blacklist.hpp"

#include <algorithm>
#include <cmath>

namespace hivemind::dht {

Blacklist::Blacklist(double base_time_s, double backoff_rate, double max_ban_s,
                     std::size_t max_entries)
    : base_time_s_(base_time_s),
      backoff_rate_(backoff_rate),
      max_ban_s_(max_ban_s),
      max_entries_(max_entries) {}

bool Blacklist::is_banned(const net::PeerId& peer, double now) const {
  auto it = entries_.find(peer);
  return it != entries_.end() && it->second.banned_until > now;
}

void Blacklist::register_failure(const net::PeerId& peer, double now) {
  if (base_time_s_ <= 0) return;
  if (!entries_.contains(peer) && entries_.size() >= max_entries_) {
    auto first_to_end = std::min_element(entries_.begin(), entries_.end(), [](auto& a, auto& b) {
      return a.second.banned_until < b.second.banned_until;
    });
    entries_.erase(first_to_end);
  }
  Entry& entry = entries_[peer];
  double exponent = static_cast<double>(std::min<std::size_t>(entry.failures, 64));
  entry.banned_until = now + std::min(base_time_s_ * std::pow(backoff_rate_, exponent), max_ban_s_);
  ++entry.failures;
}

void Blacklist::register_success(const net::PeerId& peer) { entries_.erase(peer); }

std::size_t Blacklist::failures(const net::PeerId& peer) const {
  auto it = entries_.find(peer);
  return it == entries_.end() ? 0 : it->second.failures;
}

}  // namespace hivemind::dht
