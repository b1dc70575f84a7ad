#pragma once
/// \file
/// Peers that failed to answer are skipped for a while, with exponential backoff (hivemind
/// `DHTNode.blacklist`: banned for `base_time * backoff_rate^k` seconds after the k-th successive
/// failure; a success clears the record). No I/O; owned by a node, used on its network thread.

#include <cstddef>
#include <unordered_map>

#include "hivemind/net/peer_id.hpp"

namespace hivemind::dht {

class Blacklist {
 public:
  /// `base_time_s` = 0 disables the blacklist. A ban never exceeds `max_ban_s` (hivemind's grows
  /// without bound, so a peer that was away for a while would stay banned for years).
  /// `max_entries` bounds memory: above it, the entry whose ban ends first is forgotten.
  Blacklist(double base_time_s, double backoff_rate, double max_ban_s = 3600,
            std::size_t max_entries = 100'000);

  /// Whether `peer` is banned at `now` (unix seconds).
  bool is_banned(const net::PeerId& peer, double now) const;
  void register_failure(const net::PeerId& peer, double now);
  void register_success(const net::PeerId& peer);
  /// Successive failures recorded for `peer` (0 if none).
  std::size_t failures(const net::PeerId& peer) const;
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    std::size_t failures = 0;
    double banned_until = 0;
  };
  double base_time_s_;
  double backoff_rate_;
  double max_ban_s_;
  std::size_t max_entries_;
  std::unordered_map<net::PeerId, Entry> entries_;
};

}  // namespace hivemind::dht
