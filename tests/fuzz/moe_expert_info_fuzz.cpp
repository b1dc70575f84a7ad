// Fuzz target for decode_expert_info (rpc_info payloads from expert servers). Whatever decodes
// must re-encode, and the re-encoding must decode to the same schema (a fixed point). Errors must
// be kBadRequest.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "hivemind/moe/tensor_schema.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hivemind::moe;
  auto schema = decode_expert_info(hivemind::BytesView(data, size));
  if (!schema) {
    if (schema.error() != MoeErrc::kBadRequest)
      std::abort();
    return 0;
  }
  if (schema->outputs.empty())
    return 0;  // encode_expert_info needs an output; an empty outputs tuple is legal to decode
  auto again = decode_expert_info(encode_expert_info(*schema));
  if (!again)
    std::abort();
  // Integer tensors are always NONE on encode; compare after the same normalization.
  for (auto* side : {&schema->args, &schema->outputs})
    for (auto& t : *side)
      if (!hivemind::compression::is_floating(t.dtype))
        t.compression = hivemind::compression::CompressionType::kNone;
  if (!(*again == *schema))
    std::abort();
  return 0;
}
