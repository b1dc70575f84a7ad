// Fuzz target for the tensor decoder: the input is one runtime.proto Tensor message. Whatever
// parses and decodes must describe a tensor of the declared shape and dtype, and re-encoding it
// with the same codec must decode again (also into reused memory, both ways); anything else
// must be an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "hivemind/compression/serialization.hpp"

namespace {

using namespace hivemind::compression;  // NOLINT(google-build-using-namespace)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const hivemind::BytesView input(data, size);
  auto view = parse_tensor_message_view(input);
  if (!view)
    return 0;
  auto tensor = deserialize_tensor(*view);
  auto owned = deserialize_tensor(to_owned(*view));  // the adopting path
  if (tensor.has_value() != owned.has_value())
    std::abort();
  if (!tensor)
    return 0;
  if (tensor->dim() != static_cast<std::int64_t>(view->size.size()))
    std::abort();
  for (std::size_t i = 0; i < view->size.size(); ++i) {
    if (tensor->size(static_cast<std::int64_t>(i)) != view->size[i])
      std::abort();
  }
  if (dtype_name(*dtype_from_scalar_type(tensor->scalar_type())) != view->dtype)
    std::abort();
  // Decoding into a tensor: new memory the first time, the same memory the second time; both
  // hold exactly the bytes of the value-returning path.
  at::Tensor into;
  if (!deserialize_tensor(*view, into))
    std::abort();
  const void* memory = into.data_ptr();
  if (!deserialize_tensor(*view, into) || into.data_ptr() != memory)
    std::abort();
  if (into.nbytes() != tensor->nbytes()
      || (tensor->nbytes() > 0 && std::memcmp(into.data_ptr(), tensor->data_ptr(), into.nbytes())))
    std::abort();
  if (tensor->numel() > 4096)
    return 0;  // keep iterations fast
  auto again = serialize_tensor_message(*tensor, view->compression);
  if (!again)
    std::abort();
  hivemind::Bytes reused(3, 0xAB);  // encoding into used memory gives the same bytes
  if (!serialize_tensor_message(*tensor, view->compression, reused) || reused != *again)
    std::abort();
  if (!deserialize_tensor_message(*again))
    std::abort();
  return 0;
}
