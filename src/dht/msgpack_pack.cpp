// msgpack encoder, byte-exact with msgpack-python's Packer(use_bin_type=True, strict_types=True,
// default=hivemind's _encode_ext_types) for the values `Value` can express. Format bytes follow
// https://github.com/msgpack/msgpack/blob/master/spec.md; every length/int picks the smallest
// encoding, floats are always float64 (use_single_float=False), positive integers always use the
// unsigned formats and negative ones the signed formats, as msgpack-python does.
#include <cstring>
#include <limits>

#include "hivemind/core/check.hpp"
#include "hivemind/dht/msgpack.hpp"

namespace hivemind::dht::msgpack {

Value::Value(std::uint64_t u) {
  if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    v = static_cast<std::int64_t>(u);
  } else {
    v = u;
  }
}

bool Array::operator==(const Array& other) const {
  return items == other.items;
}

bool Tuple::operator==(const Tuple& other) const {
  return items == other.items;
}

bool Map::operator==(const Map& other) const {
  return entries == other.entries;
}

namespace {

void pack_uint(Bytes& out, std::uint64_t u) {
  if (u < 0x80) {
    out.push_back(static_cast<std::uint8_t>(u));  // positive fixint
  } else if (u <= 0xff) {
    out.push_back(0xcc);
    out.push_back(static_cast<std::uint8_t>(u));
  } else if (u <= 0xffff) {
    out.push_back(0xcd);
    append_be<std::uint16_t>(out, static_cast<std::uint16_t>(u));
  } else if (u <= 0xffffffffu) {
    out.push_back(0xce);
    append_be<std::uint32_t>(out, static_cast<std::uint32_t>(u));
  } else {
    out.push_back(0xcf);
    append_be<std::uint64_t>(out, u);
  }
}

void pack_int(Bytes& out, std::int64_t i) {
  if (i >= 0) {
    pack_uint(out, static_cast<std::uint64_t>(i));
  } else if (i >= -32) {
    out.push_back(static_cast<std::uint8_t>(i));  // negative fixint 0xe0..0xff
  } else if (i >= std::numeric_limits<std::int8_t>::min()) {
    out.push_back(0xd0);
    out.push_back(static_cast<std::uint8_t>(i));
  } else if (i >= std::numeric_limits<std::int16_t>::min()) {
    out.push_back(0xd1);
    append_be<std::uint16_t>(out, static_cast<std::uint16_t>(i));
  } else if (i >= std::numeric_limits<std::int32_t>::min()) {
    out.push_back(0xd2);
    append_be<std::uint32_t>(out, static_cast<std::uint32_t>(i));
  } else {
    out.push_back(0xd3);
    append_be<std::uint64_t>(out, static_cast<std::uint64_t>(i));
  }
}

void pack_double(Bytes& out, double d) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  out.push_back(0xcb);
  append_be<std::uint64_t>(out, bits);
}

/// Writes a length header: `fix` (the fix-format base, or 0 when the type has none) for
/// n < `fix_limit`, then the 8-bit (if `f8` != 0), 16-bit and 32-bit formats.
void pack_length(Bytes& out,
                 std::size_t n,
                 std::uint8_t fix,
                 std::size_t fix_limit,
                 std::uint8_t f8,
                 std::uint8_t f16,
                 std::uint8_t f32) {
  HM_CHECK(n <= 0xffffffffu, "msgpack cannot encode a length above 2^32-1");
  if (n < fix_limit) {
    out.push_back(static_cast<std::uint8_t>(fix | n));
  } else if (f8 != 0 && n <= 0xff) {
    out.push_back(f8);
    out.push_back(static_cast<std::uint8_t>(n));
  } else if (n <= 0xffff) {
    out.push_back(f16);
    append_be<std::uint16_t>(out, static_cast<std::uint16_t>(n));
  } else {
    out.push_back(f32);
    append_be<std::uint32_t>(out, static_cast<std::uint32_t>(n));
  }
}

void pack_ext_header(Bytes& out, std::int8_t type, std::size_t n) {
  HM_CHECK(n <= 0xffffffffu, "msgpack cannot encode an ext payload above 2^32-1 bytes");
  switch (n) {  // fixext 1/2/4/8/16 when the payload has exactly that length
    case 1:
      out.push_back(0xd4);
      break;
    case 2:
      out.push_back(0xd5);
      break;
    case 4:
      out.push_back(0xd6);
      break;
    case 8:
      out.push_back(0xd7);
      break;
    case 16:
      out.push_back(0xd8);
      break;
    default:
      if (n <= 0xff) {
        out.push_back(0xc7);
        out.push_back(static_cast<std::uint8_t>(n));
      } else if (n <= 0xffff) {
        out.push_back(0xc8);
        append_be<std::uint16_t>(out, static_cast<std::uint16_t>(n));
      } else {
        out.push_back(0xc9);
        append_be<std::uint32_t>(out, static_cast<std::uint32_t>(n));
      }
  }
  out.push_back(static_cast<std::uint8_t>(type));
}

void pack_items(Bytes& out, const std::vector<Value>& items) {
  pack_length(out, items.size(), 0x90, 16, 0, 0xdc, 0xdd);
  for (const Value& item : items)
    pack_into(out, item);
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

void pack_into(Bytes& out, const Value& value) {
  std::visit(Overloaded{
                 [&](const Nil&) { out.push_back(0xc0); },
                 [&](bool b) { out.push_back(b ? 0xc3 : 0xc2); },
                 [&](std::int64_t i) { pack_int(out, i); },
                 [&](std::uint64_t u) { pack_uint(out, u); },
                 [&](double d) { pack_double(out, d); },
                 [&](const Str& s) {
                   pack_length(out, s.text.size(), 0xa0, 32, 0xd9, 0xda, 0xdb);
                   append(out, as_bytes(s.text));
                 },
                 [&](const Bin& b) {
                   pack_length(out, b.data.size(), 0, 0, 0xc4, 0xc5, 0xc6);
                   append(out, b.data);
                 },
                 [&](const Array& a) { pack_items(out, a.items); },
                 [&](const Tuple& t) {
                   // _encode_ext_types: ExtType(0x40, msgpack.packb(list(obj), ...)). The payload
                   // is packed first because the ext header carries its length.
                   Bytes payload;
                   pack_items(payload, t.items);
                   pack_ext_header(out, kTupleExt, payload.size());
                   append(out, payload);
                 },
                 [&](const Map& m) {
                   pack_length(out, m.entries.size(), 0x80, 16, 0, 0xde, 0xdf);
                   for (const auto& [k, v] : m.entries) {
                     pack_into(out, k);
                     pack_into(out, v);
                   }
                 },
                 [&](const Ext& e) {
                   pack_ext_header(out, e.type, e.data.size());
                   append(out, e.data);
                 },
             },
             value.v);
}

Bytes pack(const Value& value) {
  Bytes out;
  pack_into(out, value);
  return out;
}

}  // namespace hivemind::dht::msgpack
