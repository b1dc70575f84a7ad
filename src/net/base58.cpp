#include "hivemind/net/base58.hpp"

#include <array>
#include <cstdint>

#include "hivemind/net/error.hpp"

namespace hivemind::net {
namespace {

/// The Bitcoin alphabet: digits and letters without 0, O, I and l.
constexpr std::string_view kDigits = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
static_assert(kDigits.size() == 58);

/// Character -> digit value, or -1 for characters outside the alphabet.
constexpr std::array<std::int8_t, 256> make_decode_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& entry : table)
    entry = -1;
  for (std::size_t i = 0; i < kDigits.size(); ++i) {
    table[static_cast<unsigned char>(kDigits[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

constexpr std::array<std::int8_t, 256> kDecodeTable = make_decode_table();

}  // namespace

// Both directions are schoolbook base conversion on a big-endian digit array: O(n^2) in the
// input length, which is fine for the short strings (peer ids, <= 256 characters) we handle.
std::string base58_encode(BytesView data) {
  std::size_t zeros = 0;
  while (zeros < data.size() && data[zeros] == 0)
    ++zeros;
  // log(256)/log(58) ~= 1.366, so 138/100 digits per byte is enough.
  std::vector<std::uint8_t> digits((data.size() - zeros) * 138 / 100 + 1, 0);
  std::size_t used = 0;  // number of significant digits (stored at the end of `digits`)
  for (std::size_t i = zeros; i < data.size(); ++i) {
    std::uint32_t carry = data[i];
    std::size_t j = 0;
    for (auto it = digits.rbegin(); (carry != 0 || j < used) && it != digits.rend(); ++it, ++j) {
      carry += 256U * *it;
      *it = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    used = j;
  }
  std::string text(zeros, '1');
  text.reserve(zeros + used);
  for (std::size_t i = digits.size() - used; i < digits.size(); ++i)
    text.push_back(kDigits[digits[i]]);
  return text;
}

Result<Bytes> base58_decode(std::string_view text) {
  if (text.empty() || text.size() > kBase58MaxTextLength)
    return Err(NetErrc::kMalformedPeerId);
  std::size_t zeros = 0;
  while (zeros < text.size() && text[zeros] == '1')
    ++zeros;
  // log(58)/log(256) ~= 0.733, so 733/1000 bytes per digit is enough.
  Bytes bytes((text.size() - zeros) * 733 / 1000 + 1, 0);
  std::size_t used = 0;
  for (std::size_t i = zeros; i < text.size(); ++i) {
    const int digit = kDecodeTable[static_cast<unsigned char>(text[i])];
    if (digit < 0)
      return Err(NetErrc::kMalformedPeerId);
    auto carry = static_cast<std::uint32_t>(digit);
    std::size_t j = 0;
    for (auto it = bytes.rbegin(); (carry != 0 || j < used) && it != bytes.rend(); ++it, ++j) {
      carry += 58U * *it;
      *it = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    used = j;
  }
  Bytes out(zeros, 0);
  out.insert(out.end(), bytes.end() - static_cast<std::ptrdiff_t>(used), bytes.end());
  return out;
}

}  // namespace hivemind::net
