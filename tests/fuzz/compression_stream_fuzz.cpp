// Fuzz target for the chunk-stream assembler: the input is a sequence of Tensor messages, each
// preceded by a two-byte little-endian length. Every rebuilt tensor is decoded. Errors are fine;
// crashes, reads out of bounds and tensors larger than their header allows are not.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "hivemind/compression/serialization.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hivemind::compression;  // NOLINT(google-build-using-namespace)
  StreamLimits limits;
  limits.max_tensor_bytes = 1 << 16;
  limits.max_total_bytes = 1 << 18;
  limits.max_tensors = 64;
  TensorStreamAssembler assembler(limits);
  std::size_t pos = 0;
  while (pos + 2 <= size) {
    const std::size_t n = data[pos] | static_cast<std::size_t>(data[pos + 1]) << 8;
    pos += 2;
    const std::size_t take = n < size - pos ? n : size - pos;
    if (!assembler.push_message(hivemind::BytesView(data + pos, take)))
      return 0;
    pos += take;
  }
  auto tensors = assembler.finish();
  if (!tensors)
    return 0;
  if (tensors->size() > limits.max_tensors)
    std::abort();
  for (auto& t : *tensors) {
    if (t.buffer.size() > limits.max_tensor_bytes)
      std::abort();
    (void)deserialize_tensor(std::move(t));
  }
  return 0;
}
