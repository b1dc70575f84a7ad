#pragma once
/// \file
/// What `hm-test-peer` serves, shared by the peer and the tests that drive it: RPC names and the
/// deterministic messages of `Test.rpc_count`. Header-only, no I/O. The peer's command line and
/// JSON events are described in docs/protocols/multiprocess-tests.md.

#include <cstddef>
#include <cstdint>

#include "hivemind/core/bytes.hpp"

namespace hivemind::testpeer {

/// Unary: returns the request unchanged.
inline constexpr char kEcho[] = "Test.rpc_echo";
/// Unary: fails with the message "boom: <request text>".
inline constexpr char kFail[] = "Test.rpc_fail";
/// Unary: request = decimal milliseconds (at most kMaxSleepMs); waits that long, then answers
/// "slept <ms>". Prints sleep_started, then sleep_done or sleep_cancelled.
inline constexpr char kSleep[] = "Test.rpc_sleep";
/// Bidirectional streaming: echoes every request message as it arrives.
inline constexpr char kStreamEcho[] = "Test.rpc_stream_echo";
/// Server streaming: first request = decimal N (at most kMaxCount); answers count_message(0..N-1).
inline constexpr char kCount[] = "Test.rpc_count";
/// Unary: request = "<peer-id>|<payload>"; calls kEcho with <payload> on that peer (or kForward,
/// when <payload> itself starts with "<peer-id>|") and returns its answer.
inline constexpr char kForward[] = "Test.rpc_forward";

inline constexpr std::uint64_t kMaxSleepMs = 3'600'000;
inline constexpr std::uint64_t kMaxCount = 100'000'000;
/// Size of every kCount message, in bytes.
inline constexpr std::size_t kCountMessageSize = 1024;

/// Message `index` of kCount: the index as a big-endian uint64, then bytes (index * 31 + j) mod
/// 256 for positions j = 8 .. kCountMessageSize - 1. Pure.
inline Bytes count_message(std::uint64_t index) {
  Bytes out;
  out.reserve(kCountMessageSize);
  append_be<std::uint64_t>(out, index);
  for (std::size_t j = out.size(); j < kCountMessageSize; ++j)
    out.push_back(static_cast<std::uint8_t>(index * 31 + j));
  return out;
}

}  // namespace hivemind::testpeer
