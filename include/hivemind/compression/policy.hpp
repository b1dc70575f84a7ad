#pragma once
/// \file
/// Compression policies: a fixed codec, or hivemind's adaptive wrappers
/// (hivemind/compression/adaptive.py) that choose a codec per tensor by size, by role or by key.
/// Torch-free. Policies are immutable values, cheap to copy (shared tree) and thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "hivemind/compression/types.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::compression {

/// What a tensor is used for (hivemind `TensorRole`).
enum class TensorRole { kActivation, kParameter, kGradient, kOptimizer, kUnspecified };

/// A tensor's key: none, an index (position in a list of tensors) or a name.
using TensorKey = std::variant<std::monostate, std::int64_t, std::string>;

/// What a policy may look at (hivemind `CompressionInfo`). When a tensor is sent in parts, this
/// still describes the whole tensor; part_index/part_size say which part.
struct CompressionInfo {
  TensorKey key;
  std::int64_t numel = 0;  ///< elements of the whole tensor
  Dtype dtype = Dtype::kFloat32;
  TensorRole role = TensorRole::kUnspecified;
  std::int64_t part_index = 0;
  std::optional<std::int64_t> part_size;  ///< maximum elements per part, if split
};

struct RoleCompressions;

/// A codec choice rule. Implicitly constructible from a CompressionType (a fixed codec).
class Compression {
 public:
  /// A fixed codec (hivemind's NoCompression, Float16Compression, ...).
  Compression(
      CompressionType type = CompressionType::kNone);  // NOLINT(google-explicit-constructor)

  /// hivemind SizeAdaptiveCompression: `greater_equal` when info.numel >= threshold, else `less`.
  static Compression size_adaptive(std::int64_t threshold,
                                   Compression less,
                                   Compression greater_equal);

  /// hivemind RoleAdaptiveCompression: by info.role, unset roles use `default_compression`.
  static Compression role_adaptive(const RoleCompressions& roles);

  /// hivemind PerTensorCompression over a sequence: entry info.key (an index).
  static Compression per_tensor(std::vector<Compression> by_index);

  /// hivemind PerTensorCompression over a mapping: entry info.key (a name).
  static Compression per_tensor(std::map<std::string, Compression> by_name);

  /// The codec for this tensor, resolving nested rules. kNoCompressionForKey when a per-tensor
  /// rule has no entry for the key (or the key has the wrong kind).
  Result<CompressionType> choose(const CompressionInfo& info) const;

  /// hivemind estimate_compression_ratio of the chosen codec: NONE 1, FLOAT16/MEANSTD
  /// 16/bits(dtype), 8-bit codecs 8/bits(dtype).
  Result<double> estimate_compression_ratio(const CompressionInfo& info) const;

  /// True for adaptive rules, false for a fixed codec.
  bool is_adaptive() const noexcept { return rule_ != nullptr; }

  /// The fixed codec (meaningful when !is_adaptive()).
  CompressionType type() const noexcept { return type_; }

 private:
  struct Rule;
  CompressionType type_ = CompressionType::kNone;
  std::shared_ptr<const Rule> rule_;
};

/// Arguments of Compression::role_adaptive (hivemind's keyword arguments).
struct RoleCompressions {
  std::optional<Compression> activation = std::nullopt;
  std::optional<Compression> parameter = std::nullopt;
  std::optional<Compression> gradient = std::nullopt;
  std::optional<Compression> optimizer = std::nullopt;
  Compression default_compression = CompressionType::kNone;
};

/// The ratio of a fixed codec for `dtype` (see estimate_compression_ratio).
double compression_ratio(CompressionType type, Dtype dtype) noexcept;

}  // namespace hivemind::compression
