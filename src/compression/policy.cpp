// Adaptive compression rules (hivemind/compression/adaptive.py): a tree of rules whose leaves
// are fixed codecs; choose() walks it with the tensor's CompressionInfo.
#include "hivemind/compression/policy.hpp"

#include "hivemind/compression/error.hpp"

namespace hivemind::compression {

struct Compression::Rule {
  struct BySize {
    std::int64_t threshold;
    Compression less;
    Compression greater_equal;
  };

  struct ByRole {
    Compression activation, parameter, gradient, optimizer, unspecified;
  };

  struct ByIndex {
    std::vector<Compression> entries;
  };

  struct ByName {
    std::map<std::string, Compression> entries;
  };

  std::variant<BySize, ByRole, ByIndex, ByName> rule;
};

Compression::Compression(CompressionType type) : type_(type) {}

Compression Compression::size_adaptive(std::int64_t threshold,
                                       Compression less,
                                       Compression greater_equal) {
  Compression c;
  c.rule_ = std::make_shared<const Rule>(
      Rule{Rule::BySize{threshold, std::move(less), std::move(greater_equal)}});
  return c;
}

Compression Compression::role_adaptive(const RoleCompressions& roles) {
  const Compression& d = roles.default_compression;
  Compression c;
  c.rule_ = std::make_shared<const Rule>(Rule{Rule::ByRole{roles.activation.value_or(d),
                                                           roles.parameter.value_or(d),
                                                           roles.gradient.value_or(d),
                                                           roles.optimizer.value_or(d),
                                                           d}});
  return c;
}

Compression Compression::per_tensor(std::vector<Compression> by_index) {
  Compression c;
  c.rule_ = std::make_shared<const Rule>(Rule{Rule::ByIndex{std::move(by_index)}});
  return c;
}

Compression Compression::per_tensor(std::map<std::string, Compression> by_name) {
  Compression c;
  c.rule_ = std::make_shared<const Rule>(Rule{Rule::ByName{std::move(by_name)}});
  return c;
}

Result<CompressionType> Compression::choose(const CompressionInfo& info) const {
  if (!rule_)
    return type_;
  if (const auto* r = std::get_if<Rule::BySize>(&rule_->rule))
    return (info.numel >= r->threshold ? r->greater_equal : r->less).choose(info);
  if (const auto* r = std::get_if<Rule::ByRole>(&rule_->rule)) {
    switch (info.role) {
      case TensorRole::kActivation:
        return r->activation.choose(info);
      case TensorRole::kParameter:
        return r->parameter.choose(info);
      case TensorRole::kGradient:
        return r->gradient.choose(info);
      case TensorRole::kOptimizer:
        return r->optimizer.choose(info);
      case TensorRole::kUnspecified:
        break;
    }
    return r->unspecified.choose(info);
  }
  if (const auto* r = std::get_if<Rule::ByIndex>(&rule_->rule)) {
    const auto* index = std::get_if<std::int64_t>(&info.key);
    if (index == nullptr || *index < 0 || static_cast<std::uint64_t>(*index) >= r->entries.size())
      return Err(CompressionErrc::kNoCompressionForKey, "no entry for this tensor index");
    return r->entries[static_cast<std::size_t>(*index)].choose(info);
  }
  const auto& by_name = std::get<Rule::ByName>(rule_->rule);
  const auto* name = std::get_if<std::string>(&info.key);
  const auto it = name ? by_name.entries.find(*name) : by_name.entries.end();
  if (it == by_name.entries.end())
    return Err(CompressionErrc::kNoCompressionForKey, "no entry for this tensor name");
  return it->second.choose(info);
}

Result<double> Compression::estimate_compression_ratio(const CompressionInfo& info) const {
  HM_TRY(CompressionType type, choose(info));
  return compression_ratio(type, info.dtype);
}

double compression_ratio(CompressionType type, Dtype dtype) noexcept {
  const double bits = dtype_bits(dtype);
  switch (type) {
    case CompressionType::kNone:
      return 1.0;
    case CompressionType::kFloat16:
    case CompressionType::kMeanStd16Bit:
      return 16.0 / bits;
    case CompressionType::kQuantile8Bit:
    case CompressionType::kUniform8Bit:
    case CompressionType::kBlockwise8Bit:
      return 8.0 / bits;
  }
  return 1.0;
}

}  // namespace hivemind::compression
