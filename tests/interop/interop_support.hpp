#pragma once
/// \file
/// Support for talking to the js-libp2p interop peer (tests/interop/js/peer.mjs, run through
/// run_node.sh; CLI and wire semantics in docs/protocols/interop.md): starting it as a child
/// process, the deterministic payloads it uses, and C++ handlers for its two test protocols.
/// gtest-free, so hm-bench-net compiles it too. Thread affinity: handlers and coroutines run on
/// the host's io_context thread; the rest is plain functions.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/net/host.hpp"
#include "hivemind/net/multiaddr.hpp"
#include "hivemind/net/peer_id.hpp"
#include "hivemind/net/stream.hpp"
#include "testutil/child_process.hpp"

namespace hivemind::interop {

/// `/hm/echo/1.0.0`: the responder writes back every byte it reads until the initiator's FIN,
/// then sends FIN.
inline constexpr char kEchoProtocol[] = "/hm/echo/1.0.0";
/// `/hm/sink/1.0.0`: the responder reads until FIN, then writes the byte count as a big-endian
/// uint64 and sends FIN.
inline constexpr char kSinkProtocol[] = "/hm/sink/1.0.0";
/// Seed of the JS listener's Ed25519 key (32 bytes 0x01) and the peer id it gives (the libp2p
/// vector also listed in DESIGN.md).
inline constexpr char kJsSeedHex[] =
    "0101010101010101010101010101010101010101010101010101010101010101";
inline constexpr char kJsSeedPeerId[] = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";

/// Directory of the JS peer (tests/interop/js in the source tree, fixed at build time).
std::string js_dir();
/// Empty if the JS peer is installed; else a message saying what is missing and how to fix it
/// (`npm ci` in js_dir(), which scripts/install_deps.sh runs).
std::string js_install_problem();

/// The payload peer.mjs sends for (`size`, stream `index`): xorshift32 (13, 17, 5) words stored
/// little-endian, the last word truncated; state (0x9E3779B9 ^ size ^ (index + 1) * 0x85EBCA6B)
/// mod 2^32, or 1 if that is 0.
Bytes make_payload(std::size_t size, std::uint32_t index);

/// Stream handlers with peer.mjs's semantics. Both reset the stream on any stream error.
asio::awaitable<void> echo_handler(std::shared_ptr<net::Stream> stream);
asio::awaitable<void> sink_handler(std::shared_ptr<net::Stream> stream);
/// Registers both handlers on `host` (host thread).
void serve_test_protocols(net::Host& host);

/// When the initiator of an echo stream sends its FIN.
enum class EchoFin {
  /// Right after the last write, possibly before the remote confirmed the optimistically
  /// negotiated protocol (proposal, data and FIN can reach the remote in one segment).
  kImmediate,
  /// After the last write and after the first echoed bytes arrived (so the remote's multistream
  /// answer has been read). js-libp2p 3.3.11 needs this: it never sends its own FIN on a stream
  /// whose FIN arrived before its multistream negotiation finished (docs/benchmarks.md notes).
  kAfterFirstEcho,
};

/// Opens an echo stream to `peer` (optimistic negotiation), writes `payload` in 64 KiB writes
/// concurrently with reading the echo back, sends FIN as `fin` says and returns everything echoed
/// (error kMessageTooLarge beyond payload.size() bytes).
asio::awaitable<Result<Bytes>> echo_roundtrip(std::shared_ptr<net::Host> host,
                                              net::PeerId peer,
                                              Bytes payload,
                                              EchoFin fin);

/// A running `run_node.sh listen` child and what it announced.
struct JsListener {
  testing::ChildProcess process;
  net::PeerId peer_id;
  net::Multiaddr addr;  ///< /ip4/127.0.0.1/tcp/<port>/p2p/<peer_id>
};

/// Starts the JS peer in listen mode (`extra_args` appended, e.g. --seed) and waits up to
/// `timeout` for its "listening" line. Errors: the install problem, spawn failure, an "error"
/// line from the peer (its text as detail), timeout, unparsable announcement.
Result<JsListener> start_js_listener(std::vector<std::string> extra_args,
                                     std::chrono::milliseconds timeout);
/// Stops a listener politely (closes stdin, waits up to `timeout` for exit, then kills) without
/// blocking the io_context. Returns the exit code.
asio::awaitable<Result<int>> stop_js_listener(JsListener& listener,
                                              std::chrono::milliseconds timeout);

/// Runs `run_node.sh dial <addr> --test <test> <extra_args...>` and returns its "result" object
/// (whatever its "ok"), waiting up to `timeout` without blocking the io_context (the C++ host it
/// dials keeps serving). Errors: install problem, spawn failure, an "error" line, timeout, no
/// result line before the output ended.
asio::awaitable<Result<testing::JsonValue>> run_js_dial(const net::Multiaddr& addr,
                                                        std::string test,
                                                        std::vector<std::string> extra_args,
                                                        std::chrono::milliseconds timeout);

}  // namespace hivemind::interop
