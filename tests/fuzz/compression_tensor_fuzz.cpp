// Fuzz target for the tensor decoder: the input is one runtime.proto Tensor message. Whatever
// parses and decodes must describe a tensor of the declared shape and dtype, and re-encoding it
// with the same codec must decode again; anything else must be an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

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
  if (tensor->numel() > 4096)
    return 0;  // keep iterations fast
  auto again = serialize_tensor_message(*tensor, view->compression);
  if (!again)
    std::abort();
  if (!deserialize_tensor_message(*again))
    std::abort();
  return 0;
}
