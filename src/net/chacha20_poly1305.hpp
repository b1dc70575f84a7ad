#pragma once
// ChaCha20-Poly1305 (RFC 8439, the IETF variant: 96-bit nonce) on OpenSSL's libcrypto. The Noise
// transport uses it for every byte after the handshake; OpenSSL's implementation is about three
// times faster than libsodium 1.0.18's here (AVX-512), see docs/benchmarks.md.

#include <cstddef>
#include <cstdint>
#include <span>

#include "hivemind/core/bytes.hpp"

namespace hivemind::net::detail {

constexpr std::size_t kAeadKeySize = 32;
constexpr std::size_t kAeadNonceSize = 12;
constexpr std::size_t kAeadTagSize = 16;

/// Encrypts `size` bytes from `in` to `out` (equal pointers allowed, other overlaps not) with
/// associated data `ad`, and writes the 16-byte tag to `tag`. Thread-safe (one cached OpenSSL
/// context per thread). Returns false only if OpenSSL fails internally (out of memory).
bool aead_seal(std::span<const std::uint8_t, kAeadKeySize> key,
               std::span<const std::uint8_t, kAeadNonceSize> nonce,
               BytesView ad,
               const std::uint8_t* in,
               std::uint8_t* out,
               std::size_t size,
               std::uint8_t* tag);

/// As aead_seal over the concatenation of `parts` (a gather: no part is copied first); the
/// ciphertext of all parts lands contiguously at `out`, which must not overlap any part.
bool aead_seal_parts(std::span<const std::uint8_t, kAeadKeySize> key,
                     std::span<const std::uint8_t, kAeadNonceSize> nonce,
                     BytesView ad,
                     std::span<const BytesView> parts,
                     std::uint8_t* out,
                     std::uint8_t* tag);

/// Decrypts `size` bytes from `in` to `out` (equal pointers allowed) and checks `tag`. Returns
/// false on a bad tag (or an OpenSSL failure); the `size` bytes at `out` are then zeroed, never
/// left as unauthenticated plaintext. Thread-safe like aead_seal.
bool aead_open(std::span<const std::uint8_t, kAeadKeySize> key,
               std::span<const std::uint8_t, kAeadNonceSize> nonce,
               BytesView ad,
               const std::uint8_t* in,
               std::uint8_t* out,
               std::size_t size,
               const std::uint8_t* tag);

}  // namespace hivemind::net::detail
