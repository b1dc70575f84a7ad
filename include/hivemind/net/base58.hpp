#pragma once
/// \file
/// base58btc (the Bitcoin alphabet), the canonical text form of libp2p peer ids. Pure functions,
/// thread-safe.

#include <cstddef>
#include <string>
#include <string_view>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::net {

/// Longest text `base58_decode` accepts, in characters. Peer ids are at most 62 characters
/// (identity multihash of 42 bytes); the cap bounds the quadratic decoding work on hostile input.
inline constexpr std::size_t kBase58MaxTextLength = 256;

/// base58btc text of `data`; each leading zero byte becomes a leading '1'. Thread-safe.
std::string base58_encode(BytesView data);

/// Decodes base58btc text. Fails with NetErrc::kMalformedPeerId on a character outside the
/// alphabet, on empty text, or on text longer than kBase58MaxTextLength. Thread-safe.
Result<Bytes> base58_decode(std::string_view text);

}  // namespace hivemind::net
