// Fuzz target for the msgpack decoder (values from DHT peers). Whatever decodes must re-encode
// canonically: pack(unpack(x)) decodes again to a value that packs to the same bytes (so the two
// values are identical, NaN payloads included) and compares equal when it holds no NaN. A second
// pass decodes with tight limits, which must fail cleanly or agree with the first pass.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "hivemind/dht/msgpack.hpp"

namespace {

namespace mp = hivemind::dht::msgpack;

bool has_nan(const mp::Value& v) {
  if (v.is<double>())
    return std::isnan(v.as<double>());
  auto any = [](const std::vector<mp::Value>& items) {
    for (const auto& item : items)
      if (has_nan(item))
        return true;
    return false;
  };
  if (v.is<mp::Array>())
    return any(v.as<mp::Array>().items);
  if (v.is<mp::Tuple>())
    return any(v.as<mp::Tuple>().items);
  if (v.is<mp::Map>()) {
    for (const auto& [key, value] : v.as<mp::Map>().entries)
      if (has_nan(key) || has_nan(value))
        return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const hivemind::BytesView input(data, size);
  auto value = mp::unpack(input);
  if (value) {
    (void)mp::to_string(*value);
    const hivemind::Bytes packed = mp::pack(*value);
    auto again = mp::unpack(packed);
    if (!again)
      std::abort();
    if (mp::pack(*again) != packed)
      std::abort();
    if (!has_nan(*value) && !(*again == *value))
      std::abort();
  }
  auto tight = mp::unpack(input, {.max_depth = 3, .max_items = 8, .max_bytes = 64});
  if (tight && (!value || mp::pack(*tight) != mp::pack(*value)))
    std::abort();
  return 0;
}
