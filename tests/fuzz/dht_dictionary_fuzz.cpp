// Fuzz target for DictionaryValue::unpack (dictionary values in DHT find responses). The input is
// tried as a whole ext 0x50 value and as the ext's payload. Whatever parses must round-trip:
// unpack(pack(d)) == d with identical bytes, latest_expiration bounds every entry, and merging a
// dictionary into itself changes nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "hivemind/dht/value.hpp"

namespace {

using hivemind::dht::DictionaryValue;

void check_round_trip(const DictionaryValue& d) {
  const hivemind::Bytes packed = d.pack();
  auto again = DictionaryValue::unpack(packed);
  if (!again || !(*again == d))
    std::abort();
  if (again->pack() != packed)
    std::abort();
  // The key's expiration is the dictionary's latest_expiration: never below an entry's.
  for (const auto& [subkey, entry] : again->entries())
    if (entry.expiration > again->latest_expiration())
      std::abort();
  DictionaryValue merged = *again;
  merged.merge(d);
  if (!(merged == d))
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const hivemind::BytesView input(data, size);
  if (auto d = DictionaryValue::unpack(input))
    check_round_trip(*d);
  const hivemind::dht::msgpack::Ext ext{hivemind::dht::msgpack::kDictionaryExt,
                                        hivemind::Bytes(input.begin(), input.end())};
  if (auto d = DictionaryValue::from_ext(ext))
    check_round_trip(*d);
  return 0;
}
