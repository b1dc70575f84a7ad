// DictionaryValue: hivemind's DictionaryDHTValue (hivemind/dht/storage.py), a TimedStorage of
// subkey -> (value bytes, expiration) plus `latest_expiration_time`, serialized as msgpack ext
// 0x50.
//
// Deviations from hivemind, all on input a hivemind peer never produces:
//   * unpack() keeps latest_expiration = max(wire value, every entry's expiration), so the
//     invariant "latest >= every entry" holds even for hostile input (hivemind takes the wire value
//     as it is);
//   * NaN expirations are refused; the outer list and each entry must be msgpack arrays (hivemind
//     would also iterate tuples or strings), values must be bin;
//   * entries are packed in subkey byte order (hivemind: dict insertion order); the order carries
//     no meaning, only the bytes differ;
//   * maxsize is always packed as float64 (hivemind keeps an int maxsize an int).
#include <algorithm>
#include <cmath>
#include <optional>

#include "hivemind/dht/error.hpp"
#include "hivemind/dht/value.hpp"

namespace hivemind::dht {

bool DictionaryValue::store(Bytes subkey, Bytes value, Expiration exp) {
  if (std::isnan(exp))
    return false;
  // DictionaryDHTValue.store raises latest_expiration_time before TimedStorage decides.
  latest_expiration_ = std::max(latest_expiration_, exp);
  auto it = entries_.find(subkey);
  if (it != entries_.end()) {
    if (it->second.expiration >= exp)
      return false;  // strictly newer wins
    it->second = ValueWithExpiration{std::move(value), exp};
    return true;
  }
  entries_.emplace(std::move(subkey), ValueWithExpiration{std::move(value), exp});
  return true;
}

void DictionaryValue::remove_expired(Expiration now) {
  std::erase_if(entries_, [now](const auto& entry) { return entry.second.expiration < now; });
}

void DictionaryValue::merge(const DictionaryValue& other) {
  for (const auto& [subkey, entry] : other.entries_)
    store(subkey, entry.value, entry.expiration);
  latest_expiration_ = std::max(latest_expiration_, other.latest_expiration_);
  maxsize_ = std::max(maxsize_, other.maxsize_);
}

std::size_t DictionaryValue::byte_size() const noexcept {
  std::size_t total = 0;
  for (const auto& [subkey, entry] : entries_)
    total += subkey.size() + entry.value.size();
  return total;
}

msgpack::Ext DictionaryValue::to_ext() const {
  // The payload is MSGPackSerializer.dumps([maxsize, latest, [[subkey, value, exp], ...]]) with
  // each subkey embedded as the msgpack value it already is.
  Bytes payload;
  payload.push_back(0x93);  // fixarray of 3
  msgpack::pack_into(payload, msgpack::Value(maxsize_));
  msgpack::pack_into(payload, msgpack::Value(latest_expiration_));
  // Header of the entry list (fixarray / array16 / array32); the entries follow it directly.
  const std::size_t n = entries_.size();
  if (n < 16) {
    payload.push_back(static_cast<std::uint8_t>(0x90 | n));
  } else if (n <= 0xffff) {
    payload.push_back(0xdc);
    append_be<std::uint16_t>(payload, static_cast<std::uint16_t>(n));
  } else {
    payload.push_back(0xdd);
    append_be<std::uint32_t>(payload, static_cast<std::uint32_t>(n));
  }
  for (const auto& [subkey, entry] : entries_) {
    payload.push_back(0x93);
    append(payload, subkey);
    msgpack::pack_into(payload, msgpack::Value(msgpack::Bin{entry.value}));
    msgpack::pack_into(payload, msgpack::Value(entry.expiration));
  }
  return msgpack::Ext{msgpack::kDictionaryExt, std::move(payload)};
}

Bytes DictionaryValue::pack() const {
  return msgpack::pack(msgpack::Value(to_ext()));
}

namespace {

Err malformed(const std::string& what) {
  return Err(DhtErrc::kMalformedValue, "dictionary value: " + what);
}

/// hivemind accepts ints wherever it expects a float; NaN is refused.
std::optional<double> as_number(const msgpack::Value& v) {
  double d = 0;
  if (v.is<double>()) {
    d = v.as<double>();
  } else if (v.is<std::int64_t>()) {
    d = static_cast<double>(v.as<std::int64_t>());
  } else if (v.is<std::uint64_t>()) {
    d = static_cast<double>(v.as<std::uint64_t>());
  } else {
    return std::nullopt;
  }
  if (std::isnan(d))
    return std::nullopt;
  return d;
}

}  // namespace

Result<DictionaryValue> DictionaryValue::unpack(BytesView data,
                                                const msgpack::UnpackLimits& limits) {
  auto outer = msgpack::unpack(data, limits);
  if (!outer)
    return malformed(outer.error().message());
  if (!outer->is<msgpack::Ext>())
    return malformed("not an ext 0x50");
  return from_ext(outer->as<msgpack::Ext>(), limits);
}

Result<DictionaryValue> DictionaryValue::from_ext(const msgpack::Ext& ext,
                                                  const msgpack::UnpackLimits& limits) {
  if (ext.type != msgpack::kDictionaryExt)
    return malformed("not an ext 0x50");
  auto unpacked = msgpack::unpack(ext.data, limits);
  if (!unpacked)
    return malformed("payload: " + unpacked.error().message());
  const msgpack::Value& body = *unpacked;
  if (!body.is<msgpack::Array>() || body.as<msgpack::Array>().items.size() != 3) {
    return malformed("payload is not [maxsize, latest_expiration, items]");
  }
  const auto& fields = body.as<msgpack::Array>().items;
  const auto maxsize = as_number(fields[0]);
  const auto latest = as_number(fields[1]);
  if (!maxsize)
    return malformed("maxsize is not a number");
  if (!latest)
    return malformed("latest_expiration is not a number");
  if (!fields[2].is<msgpack::Array>())
    return malformed("items is not a list");

  DictionaryValue result;
  // TimedStorage(maxsize): `maxsize or float("inf")`, so 0 means unlimited.
  result.maxsize_ = *maxsize == 0 ? std::numeric_limits<double>::infinity() : *maxsize;
  for (const msgpack::Value& item : fields[2].as<msgpack::Array>().items) {
    if (!item.is<msgpack::Array>() || item.as<msgpack::Array>().items.size() != 3) {
      return malformed("entry is not [subkey, value, expiration]");
    }
    const auto& triple = item.as<msgpack::Array>().items;
    if (!triple[1].is<msgpack::Bin>())
      return malformed("entry value is not bytes");
    const auto exp = as_number(triple[2]);
    if (!exp)
      return malformed("entry expiration is not a number");
    // The subkey is kept as its canonical encoding, whatever encoding the sender used.
    result.store(msgpack::pack(triple[0]), triple[1].as<msgpack::Bin>().data, *exp);
  }
  result.latest_expiration_ = std::max(result.latest_expiration_, *latest);
  return result;
}

}  // namespace hivemind::dht
