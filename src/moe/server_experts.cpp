// Choosing a server's expert uids and building its experts (hivemind Server.create).
#include <random>
#include <set>

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include "hivemind/compression/serialization.hpp"
#include "hivemind/core/log.hpp"
#include "hivemind/moe/checkpoints.hpp"
#include "hivemind/moe/error.hpp"
#include "hivemind/moe/expert_uid.hpp"
#include "hivemind/moe/tensor_schema.hpp"
#include "server_state.hpp"

namespace hivemind::moe::server_detail {
namespace {

/// Which of `uids` the DHT already knows (declared by some server and not expired).
std::set<std::string> declared_in_dht(dht::DHT& dht, const std::vector<std::string>& uids) {
  auto found = dht.run_coroutine<std::vector<std::optional<ExpertInfo>>>(
                      [uids](dht::DhtNode& node) { return get_experts(node, uids); })
                   .get();
  std::set<std::string> taken;
  for (std::size_t i = 0; i < found.size() && i < uids.size(); ++i)
    if (found[i])
      taken.insert(uids[i]);
  return taken;
}

Result<std::vector<std::string>> generate(const ServerOptions& options, dht::DHT& dht) {
  std::optional<UidPattern> pattern;
  if (options.expert_pattern) {
    HM_TRY(auto parsed, UidPattern::parse(*options.expert_pattern));
    pattern = std::move(parsed);
  }
  std::mt19937_64 rng(std::random_device{}());
  std::set<std::string> taken;
  std::vector<std::string> chosen;
  // hivemind samples candidates and drops those found in the DHT; a few rounds suffice unless
  // the pattern is nearly full.
  for (int round = 0; round < 10 && chosen.size() < options.num_experts; ++round) {
    auto candidates =
        generate_uids(options.num_experts - chosen.size(), pattern, rng, [&](const auto& uid) {
          return taken.count(uid) > 0;
        });
    if (!candidates && candidates.error() == MoeErrc::kBadConfig)
      continue;  // attempts ran out in a crowded pattern: sample again
    if (!candidates)
      return Err(candidates.error());
    const auto in_dht = declared_in_dht(dht, *candidates);
    for (auto& uid : *candidates) {
      taken.insert(uid);
      if (in_dht.count(uid) == 0)
        chosen.push_back(std::move(uid));
    }
  }
  if (chosen.size() < options.num_experts)
    return Err(MoeErrc::kBadConfig,
               "could only find " + std::to_string(chosen.size()) + " of "
                   + std::to_string(options.num_experts) + " expert uids not yet taken in the DHT");
  return chosen;
}

std::vector<TensorSchema> sample_schema(const std::vector<at::Tensor>& sample) {
  std::vector<TensorSchema> schema;
  for (const auto& t : sample)
    schema.push_back(schema_of(t));
  return schema;
}

/// hivemind applies the server-wide compression to floating tensors only.
std::vector<TensorSchema> with_compression(std::vector<TensorSchema> schema,
                                           compression::CompressionType type) {
  for (auto& s : schema)
    s.compression = compression::is_floating(s.dtype) ? type : compression::CompressionType::kNone;
  return schema;
}

}  // namespace

std::string resolve_device(const std::string& requested) {
  if (!requested.empty())
    return requested;
  return torch::cuda::is_available() ? "cuda" : "cpu";
}

Result<std::vector<std::string>> choose_uids(const ServerOptions& options, dht::DHT& dht) {
  if (!options.expert_uids.empty()) {
    std::set<std::string> seen;
    for (const auto& uid : options.expert_uids) {
      HM_TRY_VOID(validate_uid(uid));
      if (!seen.insert(uid).second)
        return Err(MoeErrc::kBadConfig, "expert uid '" + uid + "' is listed twice");
    }
    return options.expert_uids;
  }
  if (options.num_experts > 0 && options.checkpoint_dir) {
    auto found = checkpointed_uids(*options.checkpoint_dir);
    if (found.size() > options.num_experts)
      return Err(MoeErrc::kBadConfig,
                 "found " + std::to_string(found.size()) + " checkpointed experts in "
                     + options.checkpoint_dir->string()
                     + ", more than num_experts = " + std::to_string(options.num_experts));
    if (!found.empty())
      return found;
  }
  if (options.num_experts > 0)
    return generate(options, dht);
  if (options.checkpoint_dir) {
    auto found = checkpointed_uids(*options.checkpoint_dir);
    if (!found.empty())
      return found;
  }
  return Err(MoeErrc::kBadConfig,
             "no experts to serve: give expert_uids, num_experts (with an optional "
             "expert_pattern), or a checkpoint_dir holding experts");
}

Result<void> build_experts(Server::State& state, const ExpertRegistry& registry) {
  const ServerOptions& o = state.options;
  const ExpertClass* cls = registry.find(o.expert_cls);
  if (cls == nullptr) {
    std::string known;
    for (const auto& name : registry.names())
      known += (known.empty() ? "" : ", ") + name;
    return Err(MoeErrc::kBadConfig,
               "unknown expert class '" + o.expert_cls + "' (known: " + known + ")");
  }
  const std::string device = resolve_device(o.device);
  for (const auto& uid : state.uids) {
    try {
      ExpertBackendOptions backend_options{
          .optimizer = o.optimizer,
          .scheduler = o.scheduler,
          .clip_grad_norm = o.clip_grad_norm,
          .args_schema =
              with_compression(sample_schema(cls->sample_input(3, o.hidden_dim)), o.compression),
          .outputs_schema = {},
          .device = device};
      auto module = cls->make(o.hidden_dim);
      auto backend = std::make_shared<ExpertBackend>(uid, module, backend_options);
      if (o.compression != compression::CompressionType::kNone) {
        // hivemind leaves outputs uncompressed; we send them with the server-wide codec too
        // (floating ones), so that --compression shrinks both directions.
        backend_options.outputs_schema = with_compression(backend->schema().outputs, o.compression);
        backend = std::make_shared<ExpertBackend>(uid, module, std::move(backend_options));
      }
      state.backends.push_back(std::move(backend));
    } catch (const std::exception& e) {
      return Err(MoeErrc::kBadConfig, "expert '" + uid + "': " + e.what());
    }
  }
  if (o.checkpoint_dir)
    HM_TRY_VOID(load_checkpoints(*o.checkpoint_dir, state.backends));

  // The pools are fed only by the connection handler; when it tests every request for NaN/Inf
  // (before batching, so that one bad request fails alone), the backend need not test again.
  const FiniteCheck finite = o.rpc.check_finite ? FiniteCheck::kDoneByCaller : FiniteCheck::kCheck;
  for (const auto& backend : state.backends) {
    const std::string& uid = backend->uid();
    TaskPoolOptions pool_options{.name = uid + "_forward",
                                 .max_batch_size = o.max_batch_size,
                                 .min_batch_size = o.min_batch_size,
                                 .max_queued_samples = o.max_queued_samples};
    auto forward =
        std::make_shared<TaskPool>(pool_options, [backend, finite](std::vector<at::Tensor> batch) {
          return backend->forward(std::move(batch), finite);
        });
    pool_options.name = uid + "_backward";
    const std::size_t n_args = backend->schema().args.size();
    auto backward = std::make_shared<TaskPool>(
        pool_options, [backend, n_args, finite](std::vector<at::Tensor> batch) {
          const auto split = batch.begin() + static_cast<std::ptrdiff_t>(n_args);
          std::vector<at::Tensor> inputs(batch.begin(), split);
          std::vector<at::Tensor> grads(split, batch.end());
          return backend->backward(std::move(inputs), std::move(grads), finite);
        });
    state.served.emplace(uid, ServedExpert{backend, std::move(forward), std::move(backward)});
  }
  return ok();
}

}  // namespace hivemind::moe::server_detail
