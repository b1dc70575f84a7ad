// Expert uid grammar, split_uid and uid patterns (hivemind/moe/expert_uid.py and
// Server._generate_uids). The regular expressions of hivemind are matched by a hand parser: the
// type `([^.])+` cannot contain a delimiter, so it always ends at the first `.`, and every later
// block is a coordinate `0|[1-9][0-9]*`. Python strs are Unicode, so the text must also be valid
// UTF-8 (a peer's msgpack str that is not would fail to decode in Python).
#include "hivemind/moe/expert_uid.hpp"

#include <charconv>
#include <limits>
#include <unordered_set>

#include "hivemind/moe/error.hpp"

namespace hivemind::moe {
namespace {

/// Length of the well-formed UTF-8 sequence starting at s[i] (Python's strict decoder: no
/// overlong forms, no surrogates, nothing above U+10FFFF), or 0 when it is malformed.
std::size_t utf8_length_at(std::string_view s, std::size_t i) noexcept {
  auto byte = [&](std::size_t k) {
    return static_cast<unsigned char>(s[k]);
  };
  unsigned char c = byte(i);
  if (c < 0x80)
    return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0)
      lo = 0xa0;
    if (c == 0xed)
      hi = 0x9f;  // no surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0)
      lo = 0x90;
    if (c == 0xf4)
      hi = 0x8f;
  } else {
    return 0;
  }
  if (s.size() - i < n)
    return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi)
    return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf)
      return 0;
  return n;
}

bool is_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_length_at(s, i);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

bool is_coordinate(std::string_view c) noexcept {
  if (c.empty())
    return false;
  for (char ch : c)
    if (ch < '0' || ch > '9')
      return false;
  return c == "0" || c.front() != '0';
}

/// Why `text` (a uid, or a prefix without its final delimiter when `allow_no_coordinates`) does
/// not match the grammar; empty when it does.
std::string grammar_violation(std::string_view text, bool allow_no_coordinates) {
  if (!is_utf8(text))
    return "not valid UTF-8";
  std::size_t first = text.find(kUidDelimiter);
  if (first == std::string_view::npos) {
    if (allow_no_coordinates && !text.empty())
      return {};
    return "no coordinates (expected type.N[.N...])";
  }
  if (first == 0)
    return "empty expert type";
  std::string_view rest = text.substr(first + 1);
  for (;;) {
    std::size_t next = rest.find(kUidDelimiter);
    std::string_view coordinate = rest.substr(0, next);
    if (coordinate.empty())
      return "empty coordinate";
    if (!is_coordinate(coordinate))
      return "coordinate '" + std::string(coordinate.substr(0, 32))
             + "' is not 0 or a decimal number without leading zeros";
    if (next == std::string_view::npos)
      return {};
    rest = rest.substr(next + 1);
  }
}

/// `text` in double quotes for error details: at most 128 bytes, quotes, backslashes, control
/// characters and malformed UTF-8 escaped, so the detail is printable valid UTF-8.
std::string quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 128;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  std::size_t i = 0;
  while (i < text.size() && i < kMaxShown) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = utf8_length_at(text, i);
    if (n > 1) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
  if (i < text.size())
    out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

/// A non-negative decimal number of at most 19 digits that fits int64 (no sign, no spaces).
std::optional<std::int64_t> parse_bound(std::string_view s) {
  if (s.empty())
    return std::nullopt;
  for (char ch : s)
    if (ch < '0' || ch > '9')
      return std::nullopt;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

}  // namespace

bool is_valid_uid(std::string_view text) noexcept {
  try {
    return grammar_violation(text, false).empty();
  } catch (...) {  // std::bad_alloc while building a reason
    return false;
  }
}

bool is_valid_prefix(std::string_view text) noexcept {
  if (text.empty() || text.back() != kUidDelimiter)
    return false;
  try {
    return grammar_violation(text.substr(0, text.size() - 1), true).empty();
  } catch (...) {
    return false;
  }
}

Result<void> validate_uid(std::string_view text) {
  std::string why = grammar_violation(text, false);
  if (why.empty())
    return ok();
  return Err(MoeErrc::kInvalidUid, "invalid expert uid " + quote(text) + ": " + why);
}

Result<UidSplit> split_uid(std::string_view uid_or_prefix) {
  std::string_view s = uid_or_prefix;
  while (!s.empty() && s.back() == kUidDelimiter)
    s.remove_suffix(1);
  std::size_t pivot = s.rfind(kUidDelimiter);
  if (pivot == std::string_view::npos)
    return Err(MoeErrc::kInvalidUid, "cannot split " + quote(uid_or_prefix) + ": no delimiter");
  std::string_view last = s.substr(pivot + 1);
  std::string_view digits = last;
  if (!digits.empty() && (digits.front() == '-' || digits.front() == '+'))
    digits.remove_prefix(1);
  std::int64_t index = 0;
  bool is_number = !digits.empty() && digits.find_first_not_of("0123456789") == digits.npos;
  if (is_number) {
    // from_chars accepts '-' but not '+'; parse the digits and negate by hand.
    std::string_view body = last.front() == '-' ? last : digits;
    auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), index);
    is_number = ec == std::errc() && end == body.data() + body.size();
  }
  if (!is_number)
    return Err(MoeErrc::kInvalidUid,
               "cannot split " + quote(uid_or_prefix) + ": last part is not an int64");
  return UidSplit{std::string(s.substr(0, pivot + 1)), index};
}

Result<UidPattern> UidPattern::parse(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return Err(MoeErrc::kInvalidPattern, "invalid expert pattern " + quote(text) + ": " + why);
  };
  if (!is_utf8(text))
    return fail("not valid UTF-8");
  UidPattern pattern;
  std::size_t start = 0;
  for (;;) {
    std::size_t next = text.find(kUidDelimiter, start);
    std::string_view block = text.substr(start, next == text.npos ? text.npos : next - start);
    bool is_type = pattern.blocks_.empty();
    std::string shown = quote(block);
    if (block.empty())
      return fail(is_type ? "empty expert type" : "empty block");
    Block parsed;
    if (block.front() == '[') {
      std::size_t colon = block.find(':');
      if (block.size() < 5 || block.back() != ']' || colon == block.npos)
        return fail("block " + shown + " is neither fixed nor a range [from:to]");
      auto from = parse_bound(block.substr(1, colon - 1));
      auto to = parse_bound(block.substr(colon + 1, block.size() - colon - 2));
      if (!from || !to)
        return fail("block " + shown + " needs two int64 numbers >= 0");
      if (*from >= *to)
        return fail("block " + shown + " is an empty range");
      parsed = Block{{}, true, *from, *to};
    } else if (block.find_first_of("[]") != block.npos) {
      return fail("block " + shown + " is neither fixed nor a range [from:to]");
    } else if (!is_type && !is_coordinate(block)) {
      return fail("fixed block " + shown +
                  " is not a coordinate (0 or a number without leading zeros); the expert type "
                  "cannot contain '.'");
    } else {
      parsed.fixed = std::string(block);
    }
    pattern.blocks_.push_back(std::move(parsed));
    if (next == text.npos)
      break;
    start = next + 1;
  }
  if (pattern.blocks_.size() < 2)
    return fail("no coordinate blocks (expected type.[a:b]...)");
  return pattern;
}

std::string UidPattern::sample(std::mt19937_64& rng) const {
  std::string uid;
  for (const Block& block : blocks_) {
    if (!uid.empty())
      uid += kUidDelimiter;
    if (block.is_range) {
      std::uniform_int_distribution<std::int64_t> dist(block.begin, block.end - 1);
      uid += std::to_string(dist(rng));
    } else {
      uid += block.fixed;
    }
  }
  return uid;
}

std::uint64_t UidPattern::capacity() const noexcept {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t total = 1;
  for (const Block& block : blocks_) {
    if (!block.is_range)
      continue;
    auto size = static_cast<std::uint64_t>(block.end - block.begin);
    total = total > kMax / size ? kMax : total * size;
  }
  return total;
}

std::string UidPattern::to_string() const {
  std::string out;
  for (const Block& block : blocks_) {
    if (!out.empty())
      out += kUidDelimiter;
    out += block.is_range
               ? "[" + std::to_string(block.begin) + ":" + std::to_string(block.end) + "]"
               : block.fixed;
  }
  return out;
}

Result<std::vector<std::string>> generate_uids(
    std::size_t count,
    const std::optional<UidPattern>& pattern,
    std::mt19937_64& rng,
    const std::function<bool(const std::string&)>& taken) {
  if (pattern && pattern->capacity() < count)
    return Err(MoeErrc::kInvalidPattern,
               "expert pattern \"" + pattern->to_string() + "\" names only "
                   + std::to_string(pattern->capacity()) + " uids, " + std::to_string(count)
                   + " requested");
  constexpr std::size_t kAttemptsPerExpert = 10;  // hivemind's attempts_per_expert
  const std::size_t max_attempts =
      count > std::numeric_limits<std::size_t>::max() / kAttemptsPerExpert
          ? std::numeric_limits<std::size_t>::max()
          : count * kAttemptsPerExpert;
  std::vector<std::string> found;
  std::unordered_set<std::string> attempted;
  for (std::size_t attempt = 0; attempt < max_attempts && found.size() < count; ++attempt) {
    std::string uid = pattern ? pattern->sample(rng)
                              : std::string("expert") + kUidDelimiter + std::to_string(attempt);
    if (!attempted.insert(uid).second)
      continue;
    if (taken && taken(uid))
      continue;
    found.push_back(std::move(uid));
  }
  if (found.size() < count)
    return Err(MoeErrc::kBadConfig,
               "found only " + std::to_string(found.size()) + " out of " + std::to_string(count)
                   + " free expert uids after " + std::to_string(max_attempts) + " attempts");
  return found;
}

}  // namespace hivemind::moe
