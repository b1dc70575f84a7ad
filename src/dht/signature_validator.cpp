// Owner-protected records with Ed25519 signatures. Follows hivemind's RSASignatureValidator
// (hivemind/dht/crypto.py) except where noted:
// - Ed25519 (RFC 8032, libsodium) instead of RSA-2048-PSS; the owner marker carries an OpenSSH
//   `ssh-ed25519` public key instead of `ssh-rsa` (docs/protocols/dht-validation.md says why).
// - The signature marker must be the last 100 bytes of the value and is the only part removed.
//   hivemind counts `[signature:...]` matches anywhere in the value (exactly one required) and
//   strips all of them with re.sub; with a fixed-size trailing marker, earlier bytes are plain
//   signed data, so a value that happens to contain marker-like text still signs and validates.
// - strip_value only strips protected records: an unprotected value is never signed, so its
//   bytes are returned untouched even if they end with marker-like text.
#include "hivemind/dht/signature_validator.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include <sodium.h>

#include "hivemind/core/check.hpp"
#include "hivemind/dht/error.hpp"
#include "hivemind/dht/msgpack.hpp"

namespace hivemind::dht {
namespace {

constexpr std::string_view kSshKeyType = "ssh-ed25519";
constexpr std::size_t kEd25519KeySize = 32;
constexpr std::size_t kEd25519SignatureSize = 64;
// SSH wire blob: uint32 11, "ssh-ed25519", uint32 32, 32 key bytes (RFC 4253 §6.6, RFC 8709).
constexpr std::size_t kSshBlobSize = 4 + kSshKeyType.size() + 4 + kEd25519KeySize;
constexpr std::size_t kSshBlobBase64Size = (kSshBlobSize + 2) / 3 * 4;             // 68, no padding
constexpr std::size_t kSignatureBase64Size = (kEd25519SignatureSize + 2) / 3 * 4;  // 88
static_assert(kSignatureMarkerSize == kSignatureMarkerOpen.size() + kSignatureBase64Size + 1);

std::string base64_encode(BytesView data) {
  std::string out(sodium_base64_ENCODED_LEN(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(
      out.data(), out.size(), data.data(), data.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

// Decodes standard padded base64 into exactly `N` bytes. libsodium rejects characters outside the
// alphabet, wrong padding and non-zero trailing bits, so every byte string has one accepted
// encoding.
template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> base64_decode_exact(std::string_view text) {
  if (text.size() != (N + 2) / 3 * 4)
    return std::nullopt;
  std::array<std::uint8_t, N> out{};
  std::size_t written = 0;
  if (sodium_base642bin(out.data(),
                        out.size(),
                        text.data(),
                        text.size(),
                        nullptr,
                        &written,
                        nullptr,
                        sodium_base64_VARIANT_ORIGINAL)
          != 0
      || written != N)
    return std::nullopt;
  return out;
}

bool contains(BytesView haystack, BytesView needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end())
         != haystack.end();
}

// All owner markers of a record, in key then subkey.
std::vector<BytesView> record_owner_markers(const DHTRecord& record) {
  std::vector<BytesView> markers = find_owner_markers(record.key);
  std::vector<BytesView> in_subkey = find_owner_markers(record.subkey);
  markers.insert(markers.end(), in_subkey.begin(), in_subkey.end());
  return markers;
}

// The signature of a value that ends with a well-formed signature marker.
std::optional<std::array<std::uint8_t, kEd25519SignatureSize>> trailing_signature(BytesView value) {
  if (value.size() < kSignatureMarkerSize)
    return std::nullopt;
  const std::string_view marker = as_chars(value.last(kSignatureMarkerSize));
  if (!marker.starts_with(kSignatureMarkerOpen) || marker.back() != ']')
    return std::nullopt;
  return base64_decode_exact<kEd25519SignatureSize>(
      marker.substr(kSignatureMarkerOpen.size(), kSignatureBase64Size));
}

}  // namespace

std::vector<BytesView> find_owner_markers(BytesView data) {
  // A hand-written equivalent of re.findall(rb"\[owner:(.+?)\]", data). A match at `open` takes
  // one content byte other than '\n', then extends lazily to the first ']' unless a '\n' comes
  // first. The first ']'-or-'\n' position at or after a point is cached: query points only grow,
  // and a rescan starts past the previous answer, so the whole search stays linear.
  const std::string_view text = as_chars(data);
  std::vector<BytesView> found;
  std::size_t cache_from = 0;
  std::size_t cache_stop = std::string_view::npos;
  bool cache_valid = false;
  auto next_stop = [&](std::size_t from) {
    if (!cache_valid || from < cache_from
        || (cache_stop != std::string_view::npos && from > cache_stop)) {
      cache_from = from;
      cache_stop = text.find_first_of("]\n", from);
      cache_valid = true;
    }
    return cache_stop;
  };

  std::size_t open = text.find(kOwnerMarkerOpen);
  while (open != std::string_view::npos) {
    const std::size_t content = open + kOwnerMarkerOpen.size();
    if (content < text.size() && text[content] != '\n') {
      const std::size_t stop = next_stop(content + 1);
      if (stop != std::string_view::npos && text[stop] == ']') {
        found.push_back(data.subspan(content, stop - content));
        open = text.find(kOwnerMarkerOpen, stop + 1);
        continue;
      }
    }
    open = text.find(kOwnerMarkerOpen, open + 1);
  }
  return found;
}

Bytes make_owner_marker(const net::PublicKey& key) {
  HM_CHECK(key.type() == net::KeyType::kEd25519 && key.raw().size() == kEd25519KeySize,
           "owner markers need an Ed25519 public key");
  Bytes blob;
  append_be<std::uint32_t>(blob, static_cast<std::uint32_t>(kSshKeyType.size()));
  append(blob, as_bytes(kSshKeyType));
  append_be<std::uint32_t>(blob, static_cast<std::uint32_t>(kEd25519KeySize));
  append(blob, key.raw());

  Bytes marker = to_bytes(kOwnerMarkerOpen);
  append(marker, as_bytes(kSshKeyType));
  marker.push_back(' ');
  append(marker, as_bytes(base64_encode(blob)));
  marker.push_back(']');
  return marker;
}

Result<net::PublicKey> parse_owner_key(BytesView marker_contents) {
  const std::string_view text = as_chars(marker_contents);
  if (!text.starts_with(kSshKeyType) || text.size() != kSshKeyType.size() + 1 + kSshBlobBase64Size
      || text[kSshKeyType.size()] != ' ')
    return Err(DhtErrc::kMalformedValue, "owner marker is not 'ssh-ed25519 <base64>'");
  const auto blob = base64_decode_exact<kSshBlobSize>(text.substr(kSshKeyType.size() + 1));
  if (!blob)
    return Err(DhtErrc::kMalformedValue, "owner marker key is not canonical base64");
  const std::uint8_t* p = blob->data();
  if (load_be<std::uint32_t>(p) != kSshKeyType.size()
      || as_chars(BytesView(p + 4, kSshKeyType.size())) != kSshKeyType
      || load_be<std::uint32_t>(p + 4 + kSshKeyType.size()) != kEd25519KeySize)
    return Err(DhtErrc::kMalformedValue, "owner marker key is not an ssh-ed25519 blob");
  auto key = net::PublicKey::from_raw(
      net::KeyType::kEd25519, BytesView(p + kSshBlobSize - kEd25519KeySize, kEd25519KeySize));
  if (!key)
    return Err(DhtErrc::kMalformedValue, "owner marker key: " + key.error().message());
  return std::move(*key);
}

Bytes signed_record_payload(const DHTRecord& record) {
  msgpack::Tuple tuple;
  tuple.items.reserve(4);
  tuple.items.emplace_back(msgpack::Bin{record.key});
  tuple.items.emplace_back(msgpack::Bin{record.subkey});
  tuple.items.emplace_back(msgpack::Bin{record.value});
  tuple.items.emplace_back(static_cast<double>(record.expiration));
  return msgpack::pack(msgpack::Value(std::move(tuple)));
}

SignatureValidator::SignatureValidator() : SignatureValidator(process_wide_key()) {}

SignatureValidator::SignatureValidator(net::KeyPair key)
    : key_(std::move(key)), local_marker_(make_owner_marker(key_.public_key())) {}

const net::KeyPair& SignatureValidator::process_wide_key() {
  static const net::KeyPair key = net::KeyPair::generate();
  return key;
}

bool SignatureValidator::validate(const DHTRecord& record) const {
  const std::vector<BytesView> markers = record_owner_markers(record);
  if (markers.empty())
    return true;  // unprotected record
  const auto same_as_first = [&](BytesView m) {
    return std::ranges::equal(m, markers.front());
  };
  if (!std::ranges::all_of(markers, same_as_first))
    return false;  // key and subkey name different owners
  const auto owner = parse_owner_key(markers.front());
  if (!owner)
    return false;
  const auto signature = trailing_signature(record.value);
  if (!signature)
    return false;
  const DHTRecord unsigned_record{
      record.key,
      record.subkey,
      Bytes(record.value.begin(),
            record.value.end() - static_cast<std::ptrdiff_t>(kSignatureMarkerSize)),
      record.expiration};
  return owner->verify(signed_record_payload(unsigned_record), *signature);
}

Bytes SignatureValidator::sign_value(const DHTRecord& record) const {
  if (!contains(record.key, local_marker_) && !contains(record.subkey, local_marker_))
    return record.value;
  const Bytes signature = key_.sign(signed_record_payload(record));
  Bytes value = record.value;
  value.reserve(value.size() + kSignatureMarkerSize);
  append(value, as_bytes(kSignatureMarkerOpen));
  append(value, as_bytes(base64_encode(signature)));
  value.push_back(']');
  return value;
}

Bytes SignatureValidator::strip_value(const DHTRecord& record) const {
  if (record_owner_markers(record).empty() || !trailing_signature(record.value))
    return record.value;
  return Bytes(record.value.begin(),
               record.value.end() - static_cast<std::ptrdiff_t>(kSignatureMarkerSize));
}

std::shared_ptr<const RecordValidator> SignatureValidator::merge_with(
    const RecordValidator& other) const {
  if (dynamic_cast<const SignatureValidator*>(&other) == nullptr)
    return nullptr;
  return std::make_shared<SignatureValidator>(*this);
}

}  // namespace hivemind::dht
