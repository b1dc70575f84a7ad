// Fuzz target for what an expert server does with request bytes before any expert runs:
// ExpertRequest parsing, tensor decoding and the schema check (detail::decode_call), for a forward
// and a backward request to a served `ffn` expert. Anything accepted must match the schema; every
// refusal must be one of the documented request errors.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>

#include <ATen/ATen.h>

#include "connection_handler_calls.hpp"
#include "hivemind/moe/error.hpp"
#include "hivemind/moe/expert_backend.hpp"
#include "hivemind/moe/expert_registry.hpp"
#include "hivemind/moe/tensor_schema.hpp"

namespace {

using namespace hivemind::moe;  // NOLINT(google-build-using-namespace)

const std::map<std::string, ServedExpert>& experts() {
  static const auto served = [] {
    const auto registry = ExpertRegistry::with_builtins();
    const ExpertClass* ffn = registry.find("ffn");
    ExpertBackendOptions options;
    for (const auto& t : ffn->sample_input(3, 4))
      options.args_schema.push_back(schema_of(t));
    std::map<std::string, ServedExpert> map;
    map.emplace(
        "ffn.0",
        ServedExpert{
            std::make_shared<ExpertBackend>("ffn.0", ffn->make(4), options), nullptr, nullptr});
    return map;
  }();
  return served;
}

bool documented(const hivemind::Error& error) {
  return error == MoeErrc::kBadRequest || error == MoeErrc::kUnknownExpert
         || error == MoeErrc::kSchemaMismatch || error == MoeErrc::kNonFinite
         || error == MoeErrc::kEmptyBatch;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const hivemind::BytesView request(data, size);
  for (const bool backward : {false, true}) {
    auto call = hivemind::moe::detail::decode_call(
        experts(), request, backward, ConnectionHandlerOptions{});
    if (!call) {
      if (!documented(call.error()))
        std::abort();
      continue;
    }
    const ExpertSchema& schema = call->expert->backend->schema();
    const std::size_t expected = schema.args.size() + (backward ? schema.outputs.size() : 0);
    if (call->tensors.size() != expected)
      std::abort();
    const std::int64_t batch = call->tensors[0].size(0);
    for (const auto& t : call->tensors)
      if (t.dim() != 2 || t.size(0) != batch || t.size(1) != 4 || t.scalar_type() != at::kFloat)
        std::abort();
  }
  return 0;
}
