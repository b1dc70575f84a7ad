#pragma once
/// \file
/// `PeerStore`: what this host knows about other peers (addresses, protocols, agent), fed by
/// dials, identify and the user.

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "hivemind/net/multiaddr.hpp"
#include "hivemind/net/peer_id.hpp"

namespace hivemind::net {

/// Known facts about one peer.
struct PeerInfo {
  std::vector<Multiaddr> addrs;        ///< transport addresses without /p2p/, most recent first
  std::vector<std::string> protocols;  ///< from identify
  std::string agent_version;           ///< from identify
  std::string protocol_version;        ///< from identify
};

/// Address book of a Host. Thread affinity: the host's network thread. Bounded: at most
/// `kMaxAddrsPerPeer` addresses per peer and `kMaxProtocols` protocols are kept.
class PeerStore {
 public:
  static constexpr std::size_t kMaxAddrsPerPeer = 16;
  static constexpr std::size_t kMaxProtocols = 128;

  /// Adds addresses (a trailing /p2p/ component is stripped); the newest go first.
  void add_addrs(const PeerId& peer, const std::vector<Multiaddr>& addrs);
  /// Replaces identify facts for `peer`.
  void set_identify(const PeerId& peer,
                    std::vector<std::string> protocols,
                    std::string agent_version,
                    std::string protocol_version);
  /// What we know, or nullopt for an unknown peer.
  std::optional<PeerInfo> get(const PeerId& peer) const;
  std::vector<Multiaddr> addrs(const PeerId& peer) const;
  /// What we know without a copy, or null for an unknown peer; valid until the store changes.
  const PeerInfo* find(const PeerId& peer) const;
  /// Forgets a peer entirely.
  void remove(const PeerId& peer);

  std::size_t size() const { return peers_.size(); }

 private:
  std::unordered_map<PeerId, PeerInfo> peers_;
};

}  // namespace hivemind::net
