// Differential fuzz target for the expert RPCs' stream joiner (src/moe/tensor_parts.hpp) against
// compression's TensorStreamAssembler: the input is a sequence of Tensor messages, each preceded
// by a two-byte little-endian length (compression_stream's format and seeds). Both must accept the
// same streams and rebuild the same tensors; the joiner also runs owning copies of the messages,
// releasing them as it goes. Any difference, crash or read out of bounds is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "hivemind/compression/serialization.hpp"
#include "tensor_parts.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace comp = hivemind::compression;
  using hivemind::Bytes;
  using hivemind::BytesView;
  comp::StreamLimits limits;
  limits.max_tensor_bytes = 1 << 16;
  limits.max_total_bytes = 1 << 18;
  limits.max_tensors = 64;
  std::vector<BytesView> messages;
  std::size_t pos = 0;
  while (pos + 2 <= size) {
    const std::size_t n = data[pos] | static_cast<std::size_t>(data[pos + 1]) << 8;
    pos += 2;
    const std::size_t take = n < size - pos ? n : size - pos;
    messages.emplace_back(data + pos, take);
    pos += take;
  }
  comp::TensorStreamAssembler assembler(limits);
  bool assembled_ok = true;
  for (const BytesView m : messages)
    if (!assembler.push_message(m)) {
      assembled_ok = false;
      break;
    }
  auto assembled = assembled_ok ? assembler.finish()
                                : hivemind::Result<std::vector<comp::SerializedTensor>>(
                                    hivemind::Err(comp::CompressionErrc::kMalformedStream, ""));
  for (const bool owned : {false, true}) {
    hivemind::moe::detail::TensorPartJoiner joiner(limits);
    bool ok = true;
    for (const BytesView m : messages) {
      Bytes copy;
      std::vector<BytesView> parts(1, m);
      if (owned) {
        copy.assign(m.begin(), m.end());
        parts[0] = copy;
      }
      if (!joiner.push(parts, std::move(copy))) {
        ok = false;
        break;
      }
    }
    auto joined = ok ? joiner.finish()
                     : hivemind::Result<std::vector<comp::SerializedTensor>>(
                         hivemind::Err(comp::CompressionErrc::kMalformedStream, ""));
    if (joined.has_value() != assembled.has_value())
      std::abort();
    if (joined && *joined != *assembled)
      std::abort();
  }
  if (assembled)
    for (auto& t : *assembled)
      (void)comp::deserialize_tensor(std::move(t));
  return 0;
}
