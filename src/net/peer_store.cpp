#include "hivemind/net/peer_store.hpp"

#include <algorithm>

namespace hivemind::net {

void PeerStore::add_addrs(const PeerId& peer, const std::vector<Multiaddr>& addrs) {
  auto& known = peers_[peer].addrs;
  for (const auto& raw : addrs) {
    Multiaddr addr = raw.without_peer_id();
    std::erase(known, addr);
    known.insert(known.begin(), std::move(addr));
  }
  if (known.size() > kMaxAddrsPerPeer)
    known.resize(kMaxAddrsPerPeer);
}

void PeerStore::set_identify(const PeerId& peer,
                             std::vector<std::string> protocols,
                             std::string agent_version,
                             std::string protocol_version) {
  auto& info = peers_[peer];
  if (protocols.size() > kMaxProtocols)
    protocols.resize(kMaxProtocols);
  info.protocols = std::move(protocols);
  info.agent_version = std::move(agent_version);
  info.protocol_version = std::move(protocol_version);
}

std::optional<PeerInfo> PeerStore::get(const PeerId& peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end())
    return std::nullopt;
  return it->second;
}

std::vector<Multiaddr> PeerStore::addrs(const PeerId& peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? std::vector<Multiaddr>{} : it->second.addrs;
}

const PeerInfo* PeerStore::find(const PeerId& peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? nullptr : &it->second;
}

void PeerStore::remove(const PeerId& peer) {
  peers_.erase(peer);
}

}  // namespace hivemind::net
