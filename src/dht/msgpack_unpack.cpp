// msgpack decoder for untrusted bytes. Accepts every format of the msgpack spec (float32 widens to
// double) and rejects what msgpack-python rejects (reserved byte 0xc1, truncation, trailing bytes).
// Hardening beyond msgpack-python, so that hostile input is cheap to refuse:
//   * depth: arrays, maps and tuples nest at most `limits.max_depth` levels (msgpack-python's own
//     recursion limit is the C stack);
//   * items: the element counts announced by container headers are summed (a map entry counts
//     twice) and checked against `limits.max_items` before anything is allocated; a header that
//     announces more elements than bytes remain is refused as truncated (every element takes at
//     least one byte), so `reserve` never exceeds what the input could fill;
//   * ext 0x40 (hivemind's tuple) must carry exactly one array, whereas hivemind calls `tuple()`
//     on whatever its payload decodes to.
// Map keys of any type are accepted (msgpack-python's strict_map_key allows only str and bytes);
// str payloads are not UTF-8 validated. Both are documented in docs/protocols/dht-values.md.
#include <cstring>
#include <string>

#include "hivemind/dht/error.hpp"
#include "hivemind/dht/msgpack.hpp"

namespace hivemind::dht::msgpack {
namespace {

class Decoder {
 public:
  Decoder(BytesView data, const UnpackLimits& limits) : data_(data), limits_(limits) {}

  Result<Value> value(std::size_t depth) {
    HM_TRY(const std::uint8_t tag, u8());
    if (tag <= 0x7f)
      return Value(static_cast<std::int64_t>(tag));  // positive fixint
    if (tag >= 0xe0)
      return Value(static_cast<std::int64_t>(static_cast<std::int8_t>(tag)));  // negative fixint
    if ((tag & 0xf0) == 0x80)
      return map(tag & 0x0f, depth);
    if ((tag & 0xf0) == 0x90)
      return array(tag & 0x0f, depth);
    if ((tag & 0xe0) == 0xa0)
      return str(tag & 0x1f);
    // The remaining formats come in families whose members differ only in the width of the
    // big-endian number that follows the tag: 1 << (tag - first) bytes.
    if (tag >= 0xc4 && tag <= 0xc6) {  // bin 8/16/32
      HM_TRY(const std::uint64_t n, uint_of_width(tag - 0xc4));
      return bin(n);
    }
    if (tag >= 0xc7 && tag <= 0xc9) {  // ext 8/16/32
      HM_TRY(const std::uint64_t n, uint_of_width(tag - 0xc7));
      return ext(n, depth);
    }
    if (tag >= 0xcc && tag <= 0xcf) {  // uint 8/16/32/64
      HM_TRY(const std::uint64_t u, uint_of_width(tag - 0xcc));
      return Value(u);
    }
    if (tag >= 0xd0 && tag <= 0xd3) {  // int 8/16/32/64: sign-extend from the width
      const int width = tag - 0xd0;
      HM_TRY(const std::uint64_t u, uint_of_width(width));
      const int unused_bits = 64 - (8 << width);
      return Value(static_cast<std::int64_t>(u << unused_bits) >> unused_bits);
    }
    if (tag >= 0xd4 && tag <= 0xd8)  // fixext 1/2/4/8/16
      return ext(std::size_t{1} << (tag - 0xd4), depth);
    if (tag >= 0xd9 && tag <= 0xdb) {  // str 8/16/32
      HM_TRY(const std::uint64_t n, uint_of_width(tag - 0xd9));
      return str(n);
    }
    if (tag == 0xdc || tag == 0xdd) {  // array 16/32
      HM_TRY(const std::uint64_t n, uint_of_width(tag - 0xdb));
      return array(n, depth);
    }
    if (tag == 0xde || tag == 0xdf) {  // map 16/32
      HM_TRY(const std::uint64_t n, uint_of_width(tag - 0xdd));
      return map(n, depth);
    }
    switch (tag) {
      case 0xc0:
        return Value(Nil{});
      case 0xc2:
        return Value(false);
      case 0xc3:
        return Value(true);
      case 0xca: {  // float32, widened
        HM_TRY(const std::uint64_t bits, uint_of_width(2));
        float f = 0;
        const auto bits32 = static_cast<std::uint32_t>(bits);
        std::memcpy(&f, &bits32, sizeof f);
        return Value(static_cast<double>(f));
      }
      case 0xcb: {  // float64
        HM_TRY(const std::uint64_t bits, uint_of_width(3));
        double d = 0;
        std::memcpy(&d, &bits, sizeof d);
        return Value(d);
      }
      default:
        return fail("reserved byte 0xc1", 1);  // the only tag left
    }
  }

  std::size_t remaining() const noexcept { return data_.size() - pos_; }

  std::size_t position() const noexcept { return pos_; }

  Error error(const std::string& what, std::size_t back = 0) const {
    return Err(DhtErrc::kMalformedMsgpack, what + " at offset " + std::to_string(pos_ - back))
        .error;
  }

 private:
  Err fail(const std::string& what, std::size_t back = 0) const { return Err(error(what, back)); }

  Result<std::uint8_t> u8() {
    if (remaining() < 1)
      return fail("truncated");
    return data_[pos_++];
  }

  /// Reads a big-endian unsigned number of 1 << `width_log2` bytes (1, 2, 4 or 8).
  Result<std::uint64_t> uint_of_width(int width_log2) {
    const std::size_t width = std::size_t{1} << width_log2;
    if (remaining() < width)
      return fail("truncated");
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i)
      v = (v << 8) | data_[pos_ + i];
    pos_ += width;
    return v;
  }

  Result<BytesView> take(std::size_t n) {
    if (remaining() < n)
      return fail("truncated: " + std::to_string(n) + " bytes announced");
    BytesView view = data_.subspan(pos_, n);
    pos_ += n;
    return view;
  }

  Result<Value> str(std::size_t n) {
    HM_TRY(BytesView bytes, take(n));
    return Value(Str{std::string(as_chars(bytes))});
  }

  Result<Value> bin(std::size_t n) {
    HM_TRY(BytesView bytes, take(n));
    return Value(Bin{Bytes(bytes.begin(), bytes.end())});
  }

  /// Accounts for `n` announced elements before they are allocated.
  Result<void> claim(std::uint64_t n, std::size_t depth) {
    if (depth + 1 > limits_.max_depth)
      return fail("nesting deeper than " + std::to_string(limits_.max_depth));
    if (n > remaining())
      return fail("truncated: " + std::to_string(n) + " elements announced");
    if (n > limits_.max_items - items_)
      return fail("more than " + std::to_string(limits_.max_items) + " items");
    items_ += static_cast<std::size_t>(n);
    return ok();
  }

  Result<std::vector<Value>> elements(std::size_t n, std::size_t depth) {
    HM_TRY_VOID(claim(n, depth));
    std::vector<Value> items;
    items.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      HM_TRY(Value item, value(depth + 1));
      items.push_back(std::move(item));
    }
    return items;
  }

  Result<Value> array(std::size_t n, std::size_t depth) {
    HM_TRY(auto items, elements(n, depth));
    return Value(Array{std::move(items)});
  }

  Result<Value> map(std::size_t n, std::size_t depth) {
    HM_TRY_VOID(claim(2 * static_cast<std::uint64_t>(n), depth));
    Map m;
    m.entries.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      HM_TRY(Value key, value(depth + 1));
      HM_TRY(Value val, value(depth + 1));
      m.entries.emplace_back(std::move(key), std::move(val));
    }
    return Value(std::move(m));
  }

  Result<Value> ext(std::size_t n, std::size_t depth) {
    HM_TRY(const std::uint8_t type_byte, u8());
    const auto type = static_cast<std::int8_t>(type_byte);
    HM_TRY(BytesView payload, take(n));
    if (type != kTupleExt)
      return Value(Ext{type, Bytes(payload.begin(), payload.end())});
    return tuple(payload, depth);
  }

  /// Ext 0x40: the payload is decoded in place (same limits, same item budget) and must be
  /// exactly one array; the tuple takes the array's nesting level.
  Result<Value> tuple(BytesView payload, std::size_t depth) {
    Decoder inner(payload, limits_);
    inner.items_ = items_;
    auto decoded = inner.value(depth);
    if (!decoded)
      return fail("in tuple ext 0x40 payload: " + decoded.error().message());
    if (!decoded->is<Array>())
      return fail("tuple ext 0x40 payload is not an array");
    if (inner.remaining() != 0)
      return fail("tuple ext 0x40 payload has trailing bytes");
    items_ = inner.items_;
    return Value(Tuple{std::move(std::get<Array>(decoded->v).items)});
  }

  BytesView data_;
  const UnpackLimits& limits_;
  std::size_t pos_ = 0;
  std::size_t items_ = 0;
};

}  // namespace

Result<Value> unpack(BytesView data, const UnpackLimits& limits) {
  if (data.size() > limits.max_bytes) {
    return Err(DhtErrc::kMalformedMsgpack,
               "input of " + std::to_string(data.size()) + " bytes exceeds "
                   + std::to_string(limits.max_bytes));
  }
  Decoder decoder(data, limits);
  HM_TRY(Value v, decoder.value(0));
  if (decoder.remaining() != 0) {
    return Err(decoder.error(std::to_string(decoder.remaining()) + " trailing bytes"));
  }
  return v;
}

}  // namespace hivemind::dht::msgpack
