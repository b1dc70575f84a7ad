#pragma once
// Helpers shared by the yamux_*_test.cpp files: raw frame builders and a client/server session
// pair wired in memory (each side's outbound bytes are moved into the other's receive()).

#include <algorithm>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "hivemind/core/bytes.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/yamux.hpp"

namespace hivemind::net::yamux_test {

using Kind = YamuxEvent::Kind;

/// One raw frame: header plus `payload` (for DATA, `length` defaults to the payload size).
inline Bytes frame(YamuxType type,
                   std::uint16_t flags,
                   std::uint32_t stream,
                   std::uint32_t length,
                   BytesView payload = {}) {
  Bytes out;
  append_yamux_header(out, {.type = type, .flags = flags, .stream = stream, .length = length});
  append(out, payload);
  return out;
}

inline Bytes data_frame(std::uint32_t stream, BytesView payload, std::uint16_t flags = 0) {
  return frame(
      YamuxType::kData, flags, stream, static_cast<std::uint32_t>(payload.size()), payload);
}

inline Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) {
    append(out, p);
  }
  return out;
}

/// Deterministic pseudo-random bytes (content checks of large transfers).
inline Bytes pattern(std::size_t n, std::uint32_t seed = 1) {
  Bytes out(n);
  std::uint32_t x = seed * 2654435761U + 1;
  for (auto& b : out) {
    x = x * 1103515245U + 12345U;
    b = static_cast<std::uint8_t>(x >> 24);
  }
  return out;
}

/// Splits a byte string into the headers it contains (payloads skipped). For checking outbound.
inline std::vector<YamuxHeader> headers_of(BytesView bytes) {
  std::vector<YamuxHeader> out;
  std::size_t pos = 0;
  while (pos + kYamuxHeaderSize <= bytes.size()) {
    auto h = decode_yamux_header(bytes.subspan(pos));
    if (!h) {
      break;
    }
    out.push_back(*h);
    pos += kYamuxHeaderSize + (h->type == YamuxType::kData ? h->length : 0);
  }
  return out;
}

inline std::size_t count_kind(const std::vector<YamuxEvent>& events, Kind kind) {
  return static_cast<std::size_t>(std::count_if(
      events.begin(), events.end(), [&](const YamuxEvent& e) { return e.kind == kind; }));
}

/// Client and server sessions connected back to back. Events taken after each delivery are
/// appended to `client_events` / `server_events`.
struct YamuxPair {
  explicit YamuxPair(YamuxOptions client_options = {}, YamuxOptions server_options = {})
      : client(YamuxRole::kClient, client_options), server(YamuxRole::kServer, server_options) {}

  /// Delivers the client's pending outbound bytes to the server.
  void to_server() {
    if (!client.has_outbound()) {
      return;
    }
    ASSERT_TRUE(server.receive(client.take_outbound()));
    auto e = server.take_events();
    server_events.insert(server_events.end(), e.begin(), e.end());
  }

  /// Delivers the server's pending outbound bytes to the client.
  void to_client() {
    if (!server.has_outbound()) {
      return;
    }
    ASSERT_TRUE(client.receive(server.take_outbound()));
    auto e = client.take_events();
    client_events.insert(client_events.end(), e.begin(), e.end());
  }

  /// Delivers in both directions until neither side has anything to send.
  void pump() {
    for (int round = 0; round < 1000 && (client.has_outbound() || server.has_outbound()); ++round) {
      to_server();
      to_client();
    }
    ASSERT_FALSE(client.has_outbound() || server.has_outbound());
  }

  YamuxSession client;
  YamuxSession server;
  std::vector<YamuxEvent> client_events;
  std::vector<YamuxEvent> server_events;
};

}  // namespace hivemind::net::yamux_test
