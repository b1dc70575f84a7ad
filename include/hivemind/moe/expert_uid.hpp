#pragma once
/// \file
/// Expert uids (hivemind `hivemind/moe/expert_uid.py`): the grammar `type.i.j...` that names an
/// expert on the grid, prefixes `type.i.` that clients' beam search walks, and patterns such as
/// `ffn.[0:256].[0:256]` from which a server samples the uids of its experts
/// (hivemind `Server._generate_uids`). Pure functions and value types: no I/O, no torch, callable
/// from any thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "hivemind/core/result.hpp"

namespace hivemind::moe {

/// Separates the type prefix and the coordinates of a uid (hivemind `UID_DELIMITER`).
inline constexpr char kUidDelimiter = '.';
/// The subkey under which 1-D experts `type.i` are declared, at key `type.i.` (hivemind
/// `FLAT_EXPERT`).
inline constexpr std::int64_t kFlatExpert = -1;

/// hivemind's `UID_PATTERN` `^(([^.])+)([.](?:[0]|([1-9]([0-9]*))))+$` (full match): a non-empty
/// type without dots, then one or more `.N` where N is `0` or a decimal number without leading
/// zeros, e.g. `ffn_expert.98.76.54`, `transformer::encoder.2`, `0.1.2`. The text must also be
/// valid UTF-8 (a Python `str`); any other character, control characters included, may appear
/// in the type.
bool is_valid_uid(std::string_view text) noexcept;

/// hivemind's `PREFIX_PATTERN` `^(([^.])+)([.](?:[0]|([1-9]([0-9]*))))*[.]$`: a type, zero or
/// more coordinates, and a trailing `.`, e.g. `expert.` or `ffn.45.`. Valid UTF-8 as above.
bool is_valid_prefix(std::string_view text) noexcept;

/// Ok when `text` is a valid uid; otherwise MoeErrc::kInvalidUid whose detail quotes the uid
/// (control characters escaped, long uids shortened) and says what is wrong.
Result<void> validate_uid(std::string_view text);

/// A uid or prefix split at its last coordinate: `ffn.1.2` -> {`ffn.1.`, 2}.
struct UidSplit {
  std::string prefix;  ///< everything up to and including the last delimiter
  std::int64_t index = 0;
  bool operator==(const UidSplit&) const = default;
};

/// hivemind's `split_uid`: strips trailing delimiters, then splits at the last delimiter into the
/// prefix (ending with `.`) and the integer after it (an optional sign and decimal digits, e.g.
/// `e.5.-1` -> {`e.5.`, -1}). Errors: MoeErrc::kInvalidUid when there is no delimiter or the last
/// part is not an int64.
Result<UidSplit> split_uid(std::string_view uid_or_prefix);

/// A pattern of expert uids: blocks separated by `.`; the first block is the type (a fixed text
/// or a range), every other block is a fixed coordinate (`3`) or a range `[a:b]` meaning a..b-1
/// (0 <= a < b), as in hivemind's `_generate_uids`. A pattern without ranges names one uid.
/// Value type; immutable after parse().
class UidPattern {
 public:
  /// Parses `text` such as `ffn.[0:256].[0:256]` or `ffn.3.[0:4]`. Errors:
  /// MoeErrc::kInvalidPattern (detail quotes the pattern) for no coordinate block, an empty type
  /// or block, an empty range (a >= b), a malformed or overflowing number, a fixed coordinate
  /// with a leading zero or sign, a type that is not a valid uid type, brackets elsewhere.
  static Result<UidPattern> parse(std::string_view text);

  /// A uniformly random uid matching the pattern (each range independently uniform).
  std::string sample(std::mt19937_64& rng) const;

  /// The number of distinct uids the pattern names, saturating at UINT64_MAX.
  std::uint64_t capacity() const noexcept;

  /// The pattern as parsed (normalized: `[a:b]` blocks and fixed blocks joined by `.`).
  std::string to_string() const;

 private:
  struct Block {
    std::string fixed;  ///< used when !is_range
    bool is_range = false;
    std::int64_t begin = 0;  ///< inclusive
    std::int64_t end = 0;    ///< exclusive
  };

  std::vector<Block> blocks_;
};

/// hivemind's `_generate_uids`: `count` distinct uids sampled from `pattern` (or, without a
/// pattern, `expert.{attempt}` for attempt = 0, 1, ...), skipping every uid for which `taken`
/// returns true (e.g. uids already declared in the DHT), within at most 10 * count attempts.
/// Deterministic for a given `rng` state. Errors: MoeErrc::kInvalidPattern when the pattern
/// names fewer than `count` uids; MoeErrc::kBadConfig when the attempts run out first (hivemind
/// only logs a warning and returns fewer uids).
Result<std::vector<std::string>> generate_uids(
    std::size_t count,
    const std::optional<UidPattern>& pattern,
    std::mt19937_64& rng,
    const std::function<bool(const std::string&)>& taken = {});

}  // namespace hivemind::moe
