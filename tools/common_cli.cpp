#include "common_cli.hpp"

#include <utility>

#include "hivemind/net/identity.hpp"

namespace hivemind::tools {

CLI::Validator multiaddr_check(bool need_peer_id) {
  return CLI::Validator(
      [need_peer_id](std::string& text) -> std::string {
        auto parsed = net::Multiaddr::from_string(text);
        if (!parsed)
          return "bad multiaddr '" + text + "' (" + parsed.error().message() + ")";
        if (need_peer_id && !parsed->peer_id())
          return "multiaddr '" + text + "' has no /p2p/<peer id> component";
        return {};
      },
      "MULTIADDR");
}

CLI::Validator log_level_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        static const char* const kLevels[] = {
            "trace", "debug", "info", "warn", "error", "critical", "off"};
        for (const char* level : kLevels)
          if (text == level)
            return {};
        return "unknown log level '" + text + "'";
      },
      "LEVEL");
}

Result<std::vector<net::Multiaddr>> parse_multiaddrs(const std::vector<std::string>& texts,
                                                     const char* flag) {
  std::vector<net::Multiaddr> out;
  for (const auto& text : texts) {
    auto addr = net::Multiaddr::from_string(text);
    if (!addr)
      return Err(addr.error().code(), std::string(flag) + ": bad multiaddr '" + text + "'");
    out.push_back(std::move(*addr));
  }
  return out;
}

Result<dht::DHTOptions> make_network_options(const NetworkFlags& flags) {
  HM_TRY(auto listen, parse_multiaddrs(flags.host_maddrs, "--host_maddrs"));
  HM_TRY(auto announce, parse_multiaddrs(flags.announce_maddrs, "--announce_maddrs"));
  HM_TRY(auto initial, parse_multiaddrs(flags.initial_peers, "--initial_peers"));
  dht::DHTOptions options;
  if (!flags.client_mode)
    options.host.listen_addrs = std::move(listen);
  options.host.announce_addrs = std::move(announce);
  if (!flags.identity_path.empty()) {
    auto identity = net::load_or_create_key_file(flags.identity_path);
    if (!identity)
      return Err(identity.error().code(),
                 "--identity_path " + flags.identity_path + ": " + identity.error().message());
    options.host.identity = std::move(*identity);
  }
  options.node.initial_peers = std::move(initial);
  options.node.client_mode = flags.client_mode;
  return options;
}

}  // namespace hivemind::tools
