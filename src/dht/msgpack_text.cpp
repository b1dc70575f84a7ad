// Python-like rendering of msgpack values for logs and test failure messages.
#include <cmath>
#include <cstdio>
#include <string>

#include "hivemind/dht/msgpack.hpp"

namespace hivemind::dht::msgpack {
namespace {

void quote_bytes(std::string& out, std::string_view text) {
  out += '\'';
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\' || c == '\'') {
      out += '\\';
      out += ch;
    } else if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  out += '\'';
}

void render_double(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "nan";
  } else if (std::isinf(d)) {
    out += d > 0 ? "inf" : "-inf";
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    out += buf;
    if (std::string_view(buf).find_first_of(".e") == std::string_view::npos)
      out += ".0";
  }
}

void render(std::string& out, const Value& value);

void render_items(std::string& out, const std::vector<Value>& items) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0)
      out += ", ";
    render(out, items[i]);
  }
}

void render(std::string& out, const Value& value) {
  if (value.is<Nil>()) {
    out += "None";
  } else if (value.is<bool>()) {
    out += value.as<bool>() ? "True" : "False";
  } else if (value.is<std::int64_t>()) {
    out += std::to_string(value.as<std::int64_t>());
  } else if (value.is<std::uint64_t>()) {
    out += std::to_string(value.as<std::uint64_t>());
  } else if (value.is<double>()) {
    render_double(out, value.as<double>());
  } else if (value.is<Str>()) {
    quote_bytes(out, value.as<Str>().text);
  } else if (value.is<Bin>()) {
    out += 'b';
    quote_bytes(out, as_chars(value.as<Bin>().data));
  } else if (value.is<Array>()) {
    out += '[';
    render_items(out, value.as<Array>().items);
    out += ']';
  } else if (value.is<Tuple>()) {
    const auto& items = value.as<Tuple>().items;
    out += '(';
    render_items(out, items);
    if (items.size() == 1)
      out += ',';
    out += ')';
  } else if (value.is<Map>()) {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : value.as<Map>().entries) {
      if (!first)
        out += ", ";
      first = false;
      render(out, k);
      out += ": ";
      render(out, v);
    }
    out += '}';
  } else {
    const Ext& e = value.as<Ext>();
    out += "ExtType(code=" + std::to_string(e.type) + ", data=b";
    quote_bytes(out, as_chars(e.data));
    out += ')';
  }
}

}  // namespace

std::string to_string(const Value& value) {
  std::string out;
  render(out, value);
  return out;
}

}  // namespace hivemind::dht::msgpack
