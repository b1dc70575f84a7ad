#pragma once
/// \file
/// Byte buffers: owning `Bytes`, non-owning `BytesView`, big-endian helpers and a bounds-checked
/// `ByteReader` for parsing untrusted input. All functions are pure and thread-compatible.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hivemind/core/result.hpp"

namespace hivemind {

/// Owning byte buffer.
using Bytes = std::vector<std::uint8_t>;
/// Non-owning view of bytes; the viewed memory must outlive the view.
using BytesView = std::span<const std::uint8_t>;

/// Views the characters of a string as bytes (no copy).
inline BytesView as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Views bytes as characters (no copy).
inline std::string_view as_chars(BytesView b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// Copies a string's characters into a new buffer.
inline Bytes to_bytes(std::string_view s) {
  auto v = as_bytes(s);
  return {v.begin(), v.end()};
}

/// Appends `data` to `out`.
inline void append(Bytes& out, BytesView data) {
  out.insert(out.end(), data.begin(), data.end());
}

/// Appends an unsigned integer in big-endian order, `sizeof(T)` bytes.
template <typename T>
void append_be(Bytes& out, T value) {
  for (int shift = (static_cast<int>(sizeof(T)) - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::uint8_t>(value >> shift));
  }
}

/// Writes an unsigned integer big-endian into `dst` (which must hold `sizeof(T)` bytes).
template <typename T>
void store_be(std::uint8_t* dst, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    dst[i] = static_cast<std::uint8_t>(value >> ((sizeof(T) - 1 - i) * 8));
  }
}

/// Reads an unsigned integer big-endian from `src` (which must hold `sizeof(T)` bytes).
template <typename T>
T load_be(const std::uint8_t* src) {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    value = static_cast<T>((value << 8) | src[i]);
  return value;
}

/// Lower-case hexadecimal text of `data`.
std::string to_hex(BytesView data);
/// Parses hexadecimal text (either case, even length); kInvalidArgument otherwise.
Result<Bytes> from_hex(std::string_view text);

/// Bounds-checked cursor over untrusted bytes. Every read fails with CoreErrc::kTruncated instead
/// of reading past the end; on failure the cursor does not move. Does not own the bytes.
class ByteReader {
 public:
  explicit ByteReader(BytesView data) noexcept : data_(data) {}

  std::size_t remaining() const noexcept { return data_.size() - pos_; }

  bool empty() const noexcept { return remaining() == 0; }

  std::size_t position() const noexcept { return pos_; }

  /// The bytes not yet consumed.
  BytesView rest() const noexcept { return data_.subspan(pos_); }

  Result<std::uint8_t> read_u8();
  Result<std::uint16_t> read_be16();
  Result<std::uint32_t> read_be32();
  Result<std::uint64_t> read_be64();
  /// An unsigned LEB128 varint as specified by multiformats (see varint.hpp).
  Result<std::uint64_t> read_uvarint();
  /// The next `n` bytes as a view into the underlying buffer.
  Result<BytesView> read_bytes(std::size_t n);

 private:
  BytesView data_;
  std::size_t pos_ = 0;
};

}  // namespace hivemind
