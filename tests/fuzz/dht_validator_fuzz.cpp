// Fuzz target for the record validators. The input is split into a record:
//   byte 0: key length (low 6 bits; bit 7 set: use the id of schema field "b" instead),
//   byte 1: subkey length (low 7 bits), bytes 2..9: expiration (float64 bits, big-endian),
//   then the key, the subkey and, in the remaining bytes, the value.
// A composite of a SignatureValidator and a SchemaValidator validates and strips it (must not
// crash). Then the record is written with an owned subkey (its bytes + the local owner marker),
// signed, and checked: the signature must validate, stripping must give the value back, and the
// composite must accept exactly when the schema accepts the unsigned value.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "hivemind/core/bytes.hpp"
#include "hivemind/dht/composite_validator.hpp"
#include "hivemind/dht/dht_id.hpp"
#include "hivemind/dht/msgpack.hpp"
#include "hivemind/dht/schema_validator.hpp"
#include "hivemind/dht/signature_validator.hpp"

namespace {

using hivemind::Bytes;
using hivemind::BytesView;
namespace dht = hivemind::dht;
namespace schema = hivemind::dht::schema;

struct Validators {
  std::shared_ptr<const dht::SignatureValidator> signature;
  std::shared_ptr<const dht::SchemaValidator> schema;
  dht::CompositeValidator composite;
  Bytes field_b;
};

const Validators& validators() {
  static const Validators v = [] {
    std::array<std::uint8_t, 32> seed;
    seed.fill(0x09);
    Validators out;
    out.signature =
        std::make_shared<dht::SignatureValidator>(hivemind::net::KeyPair::from_seed(seed));
    out.schema = std::make_shared<dht::SchemaValidator>(std::vector<dht::SchemaField>{
        {"a", schema::bytes()},
        {"b", schema::dictionary(schema::bytes_with_owner(), schema::integer({.min = 0}))},
        {"c", schema::list_of(schema::any())}});
    out.composite.add(out.signature);
    out.composite.add(out.schema);
    out.field_b = dht::DHTID::from_key(dht::msgpack::Str{"b"}).to_bytes();
    return out;
  }();
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Validators& v = validators();
  std::uint8_t header[10] = {};
  BytesView rest(data, size);
  const std::size_t header_size = std::min(size, sizeof(header));
  std::copy_n(rest.begin(), header_size, header);
  rest = rest.subspan(header_size);

  auto take = [&rest](std::size_t n) {
    n = n < rest.size() ? n : rest.size();
    Bytes out(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(n));
    rest = rest.subspan(n);
    return out;
  };
  dht::DHTRecord record;
  record.key = take(header[0] & 0x3f);
  if (header[0] & 0x80)
    record.key = v.field_b;
  record.subkey = take(header[1] & 0x7f);
  const auto bits = hivemind::load_be<std::uint64_t>(header + 2);
  std::memcpy(&record.expiration, &bits, sizeof(bits));
  record.value = Bytes(rest.begin(), rest.end());

  // Arbitrary records: any answer, no crash, and strip never grows the value.
  (void)v.composite.validate(record);
  (void)v.signature->validate(record);
  (void)v.schema->validate(record);
  if (v.composite.strip_value(record).size() > record.value.size())
    std::abort();

  // The same record with a subkey owned by the local key.
  dht::DHTRecord owned = record;
  Bytes subkey_bytes = record.subkey;
  hivemind::append(subkey_bytes, v.signature->local_owner_marker());
  owned.subkey = dht::msgpack::pack(dht::msgpack::Value(std::move(subkey_bytes)));

  // Only the local owner may be named: skip inputs that name another one in key or subkey.
  const auto local = dht::find_owner_markers(v.signature->local_owner_marker());
  auto only_local = [&](BytesView bytes) {
    for (BytesView m : dht::find_owner_markers(bytes))
      if (!std::equal(m.begin(), m.end(), local.at(0).begin(), local.at(0).end()))
        return false;
    return true;
  };
  if (!only_local(owned.key) || !only_local(owned.subkey))
    return 0;

  dht::DHTRecord signed_record = owned;
  signed_record.value = v.composite.sign_value(owned);
  if (!v.signature->validate(signed_record))
    std::abort();
  if (v.composite.strip_value(signed_record) != owned.value)
    std::abort();
  if (v.composite.validate(signed_record) != v.schema->validate(owned))
    std::abort();
  return 0;
}
