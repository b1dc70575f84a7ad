#include "testutil/json_value.hpp"

#include <cstdlib>
#include <system_error>

namespace hivemind::testing {

namespace {

/// Recursive-descent JSON parser over a string_view (RFC 8259; \u escapes become UTF-8, unpaired
/// surrogates are refused). Depth-limited so that hostile input cannot exhaust the stack.
class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  Result<JsonValue> parse_document() {
    HM_TRY(auto value, parse_value(0));
    skip_space();
    if (pos_ != text_.size())
      return fail("trailing characters");
    return value;
  }

 private:
  static constexpr int kMaxDepth = 64;

  Err fail(const std::string& what) const {
    return Err(std::make_error_code(std::errc::invalid_argument),
               "JSON: " + what + " at offset " + std::to_string(pos_));
  }

  void skip_space() {
    while (pos_ < text_.size()
           && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n'
               || text_[pos_] == '\r'))
      ++pos_;
  }

  bool consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word)
      return false;
    pos_ += word.size();
    return true;
  }

  Result<JsonValue> parse_value(int depth) {
    if (depth > kMaxDepth)
      return fail("nesting too deep");
    skip_space();
    if (pos_ >= text_.size())
      return fail("unexpected end");
    const char c = text_[pos_];
    if (c == '{')
      return parse_object(depth);
    if (c == '[')
      return parse_array(depth);
    if (c == '"') {
      HM_TRY(auto s, parse_string());
      return JsonValue(std::move(s));
    }
    if (consume("true"))
      return JsonValue(true);
    if (consume("false"))
      return JsonValue(false);
    if (consume("null"))
      return JsonValue(nullptr);
    return parse_number();
  }

  Result<JsonValue> parse_number() {
    const std::size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-')
      ++pos_;
    auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9')
        ++pos_;
      return pos_ > from;
    };
    if (!digits())
      return fail("expected a value");
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digits())
        return fail("expected digits after '.'");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-'))
        ++pos_;
      if (!digits())
        return fail("expected exponent digits");
    }
    // strtod needs a NUL-terminated copy; numbers are short.
    const std::string copy(text_.substr(start, pos_ - start));
    return JsonValue(std::strtod(copy.c_str(), nullptr));
  }

  Result<unsigned> parse_hex4() {
    if (text_.size() - pos_ < 4)
      return fail("short \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9')
        v |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f')
        v |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        v |= static_cast<unsigned>(h - 'A' + 10);
      else
        return fail("bad hex digit");
    }
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  Result<std::string> parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= text_.size())
        return fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"')
        return out;
      if (static_cast<unsigned char>(c) < 0x20)
        return fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size())
        return fail("unterminated escape");
      const char e = text_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          HM_TRY(unsigned cp, parse_hex4());
          if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail("unpaired low surrogate");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!consume("\\u"))
              return fail("unpaired high surrogate");
            HM_TRY(unsigned low, parse_hex4());
            if (low < 0xDC00 || low > 0xDFFF)
              return fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return fail("bad escape");
      }
    }
  }

  Result<JsonValue> parse_array(int depth) {
    ++pos_;  // '['
    JsonValue::Array items;
    skip_space();
    if (consume("]"))
      return JsonValue(std::move(items));
    while (true) {
      HM_TRY(auto item, parse_value(depth + 1));
      items.push_back(std::move(item));
      skip_space();
      if (consume("]"))
        return JsonValue(std::move(items));
      if (!consume(","))
        return fail("expected ',' or ']'");
    }
  }

  Result<JsonValue> parse_object(int depth) {
    ++pos_;  // '{'
    JsonValue::Object members;
    skip_space();
    if (consume("}"))
      return JsonValue(std::move(members));
    while (true) {
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != '"')
        return fail("expected a member name");
      HM_TRY(auto key, parse_string());
      skip_space();
      if (!consume(":"))
        return fail("expected ':'");
      HM_TRY(auto value, parse_value(depth + 1));
      members.insert_or_assign(std::move(key), std::move(value));
      skip_space();
      if (consume("}"))
        return JsonValue(std::move(members));
      if (!consume(","))
        return fail("expected ',' or '}'");
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

const JsonValue kNull;
const JsonValue::Array kEmptyArray;
const JsonValue::Object kEmptyObject;

}  // namespace

Result<JsonValue> parse_json(std::string_view text) {
  return JsonParser(text).parse_document();
}

const JsonValue& JsonValue::operator[](std::string_view key) const {
  if (!is_object())
    return kNull;
  const auto& members = *std::get<5>(data_);
  const auto it = members.find(key);
  return it == members.end() ? kNull : it->second;
}

bool JsonValue::as_bool(bool fallback) const {
  return is_bool() ? std::get<1>(data_) : fallback;
}

double JsonValue::as_number(double fallback) const {
  return is_number() ? std::get<2>(data_) : fallback;
}

std::string JsonValue::as_string(std::string fallback) const {
  return is_string() ? std::get<3>(data_) : fallback;
}

const JsonValue::Array& JsonValue::as_array() const {
  return is_array() ? *std::get<4>(data_) : kEmptyArray;
}

const JsonValue::Object& JsonValue::as_object() const {
  return is_object() ? *std::get<5>(data_) : kEmptyObject;
}

}  // namespace hivemind::testing
