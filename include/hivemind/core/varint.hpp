#pragma once
/// \file
/// Unsigned varints as specified by multiformats/unsigned-varint (used by multistream-select,
/// multiaddr, multihash and libp2p length prefixes): little-endian base-128, at most 9 bytes
/// (values below 2^63), minimal encoding required when decoding. Pure functions.

#include <cstddef>
#include <cstdint>

#include "hivemind/core/bytes.hpp"

namespace hivemind {

/// Longest valid encoding in bytes.
inline constexpr std::size_t kMaxUvarintBytes = 9;

/// Appends the varint encoding of `value` (precondition: value < 2^63) to `out`.
void append_uvarint(Bytes& out, std::uint64_t value);

/// Number of bytes `append_uvarint(value)` writes.
std::size_t uvarint_size(std::uint64_t value) noexcept;

/// A decoded varint and how many bytes it took.
struct DecodedUvarint {
  std::uint64_t value = 0;
  std::size_t size = 0;
};

/// Decodes a varint at the start of `data`. Errors: kTruncated when `data` ends inside the varint
/// (more bytes may complete it), kOverflow past 9 bytes or 2^63, kNonMinimal for a trailing zero
/// byte such as `0x80 0x00`.
Result<DecodedUvarint> decode_uvarint(BytesView data);

}  // namespace hivemind
