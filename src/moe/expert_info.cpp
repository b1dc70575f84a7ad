// The rpc_info payload: msgpack of hivemind's ModuleBackend.get_info() dict with
// BatchTensorDescriptor ext 0x51 values (hivemind/utils/tensor_descr.py, packb/unpackb;
// reference notes §4 end). Torch-free: descriptors are built and read as msgpack values.
//
// Encoding follows Python exactly for a backend whose args schema came from `from_tensor` of a
// CPU sample (hivemind's Server.create): the descriptor dict keys in dataclass order, device_type
// "cpu" with device_index None, requires_grad and pin_memory False. hivemind infers the outputs
// schema with grad enabled, so its outputs carry requires_grad=True; we always write False (the
// flag is not used by clients). One output is written as a bare descriptor (a module returning a
// tensor), several as a tuple.
#include <limits>
#include <string>
#include <utility>

#include "hivemind/dht/msgpack.hpp"
#include "hivemind/moe/tensor_schema.hpp"

namespace hivemind::moe {
namespace {

namespace mp = hivemind::dht::msgpack;
using compression::CompressionType;
using compression::Dtype;

constexpr std::int8_t kDescriptorExt = 0x51;
constexpr std::int64_t kMaxDim = std::int64_t{1} << 40;
constexpr std::string_view kTorchPrefix = "torch.";

mp::Value descriptor_value(const TensorSchema& schema) {
  mp::Tuple size;
  size.items.emplace_back(mp::Nil{});
  for (std::int64_t d : schema.shape)
    size.items.emplace_back(d);
  // from_tensor forces NONE for non-floating tensors.
  const CompressionType compression =
      compression::is_floating(schema.dtype) ? schema.compression : CompressionType::kNone;
  mp::Map dict;
  dict.entries.emplace_back("size", std::move(size));
  dict.entries.emplace_back("dtype",
                            std::string(kTorchPrefix) + std::string(dtype_name(schema.dtype)));
  dict.entries.emplace_back("layout", "torch.strided");
  dict.entries.emplace_back("requires_grad", false);
  dict.entries.emplace_back("pin_memory", false);
  dict.entries.emplace_back("compression", static_cast<std::int64_t>(compression));
  dict.entries.emplace_back("device_type", "cpu");
  dict.entries.emplace_back("device_index", mp::Nil{});
  return mp::Ext{kDescriptorExt, mp::pack(std::move(dict))};
}

Err bad(std::string detail) {
  return Err(MoeErrc::kBadRequest, "expert info: " + std::move(detail));
}

/// The items of a tuple or array, or nullptr.
const std::vector<mp::Value>* sequence_items(const mp::Value& v) {
  if (v.is<mp::Tuple>())
    return &v.as<mp::Tuple>().items;
  if (v.is<mp::Array>())
    return &v.as<mp::Array>().items;
  return nullptr;
}

/// Looks up string keys of a map, rejecting duplicates and non-string keys.
Result<const mp::Value*> lookup(const mp::Map& map, std::string_view key, std::string_view where) {
  const mp::Value* found = nullptr;
  for (const auto& [k, v] : map.entries) {
    if (!k.is<mp::Str>())
      return bad(std::string(where) + ": a key is not a string");
    if (k.as<mp::Str>().text != key)
      continue;
    if (found != nullptr)
      return bad(std::string(where) + ": duplicate key '" + std::string(key) + "'");
    found = &v;
  }
  return found;
}

Result<TensorSchema> decode_descriptor(const mp::Value& value, std::size_t index) {
  const std::string where = "descriptor " + std::to_string(index);
  if (!value.is<mp::Ext>() || value.as<mp::Ext>().type != kDescriptorExt)
    return bad(where + ": not a BatchTensorDescriptor (ext 0x51)");
  auto inner = mp::unpack(value.as<mp::Ext>().data,
                          {.max_depth = 4, .max_items = 4096, .max_bytes = kMaxExpertInfoBytes});
  if (!inner)
    return bad(where + ": " + inner.error().message());
  if (!inner->is<mp::Map>())
    return bad(where + ": not a map");
  const mp::Map& dict = inner->as<mp::Map>();
  TensorSchema schema;

  HM_TRY(const mp::Value* size, lookup(dict, "size", where));
  const std::vector<mp::Value>* dims = size ? sequence_items(*size) : nullptr;
  if (dims == nullptr)
    return bad(where + ": missing or non-sequence 'size'");
  if (dims->empty() || !(*dims)[0].is<mp::Nil>())
    return bad(where + ": the batch dim must be None");
  if (dims->size() - 1 > compression::kMaxTensorDims)
    return bad(where + ": too many dims");
  std::int64_t numel = 1;
  for (std::size_t i = 1; i < dims->size(); ++i) {
    const mp::Value& d = (*dims)[i];
    if (!d.is<std::int64_t>() || d.as<std::int64_t>() < 0 || d.as<std::int64_t>() > kMaxDim)
      return bad(where + ": dim " + std::to_string(i) + " is not an integer in [0, 2^40]");
    const std::int64_t dim = d.as<std::int64_t>();
    if (dim != 0 && numel > kMaxDim / dim)
      return bad(where + ": more than 2^40 elements per sample");
    numel *= dim;
    schema.shape.push_back(dim);
  }

  HM_TRY(const mp::Value* dtype, lookup(dict, "dtype", where));
  if (dtype != nullptr) {
    if (!dtype->is<mp::Str>())
      return bad(where + ": 'dtype' is not a string");
    std::string_view name = dtype->as<mp::Str>().text;
    if (name.starts_with(kTorchPrefix))
      name.remove_prefix(kTorchPrefix.size());
    const auto parsed = compression::parse_dtype(name);
    if (!parsed)
      return bad(where + ": unsupported dtype '" + dtype->as<mp::Str>().text + "'");
    schema.dtype = *parsed;
  }  // absent: torch's default dtype, float32

  HM_TRY(const mp::Value* layout, lookup(dict, "layout", where));
  if (layout != nullptr
      && !(layout->is<mp::Str>()
           && (layout->as<mp::Str>().text == "torch.strided"
               || layout->as<mp::Str>().text == "strided")))
    return bad(where + ": layout is not torch.strided");

  HM_TRY(const mp::Value* comp, lookup(dict, "compression", where));
  if (comp != nullptr) {
    const auto type = comp->is<std::int64_t>()
                          ? compression::compression_type_from_wire(comp->as<std::int64_t>())
                          : std::nullopt;
    if (!type)
      return bad(where + ": unknown compression");
    schema.compression = *type;
  }
  return schema;
}

Result<std::vector<TensorSchema>> decode_descriptors(const std::vector<mp::Value>& items,
                                                     std::string_view what) {
  if (items.size() > kMaxSchemaTensors)
    return bad("more than " + std::to_string(kMaxSchemaTensors) + " " + std::string(what));
  std::vector<TensorSchema> out;
  out.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    HM_TRY(auto schema, decode_descriptor(items[i], i));
    out.push_back(std::move(schema));
  }
  return out;
}

}  // namespace

Bytes encode_expert_info(const ExpertSchema& schema) {
  mp::Tuple args;
  for (const auto& arg : schema.args)
    args.items.push_back(descriptor_value(arg));
  mp::Tuple forward_schema;
  forward_schema.items.emplace_back(std::move(args));
  forward_schema.items.emplace_back(mp::Map{});
  mp::Value outputs;
  if (schema.outputs.size() == 1) {
    outputs = descriptor_value(schema.outputs[0]);
  } else {
    mp::Tuple items;
    for (const auto& out : schema.outputs)
      items.items.push_back(descriptor_value(out));
    outputs = std::move(items);
  }
  mp::Map info;
  info.entries.emplace_back("forward_schema", std::move(forward_schema));
  info.entries.emplace_back("outputs_schema", std::move(outputs));
  info.entries.emplace_back("keyword_names", mp::Tuple{});
  return mp::pack(std::move(info));
}

Result<ExpertSchema> decode_expert_info(BytesView data) {
  if (data.size() > kMaxExpertInfoBytes)
    return bad("larger than " + std::to_string(kMaxExpertInfoBytes) + " bytes");
  auto value =
      mp::unpack(data, {.max_depth = 8, .max_items = 16384, .max_bytes = kMaxExpertInfoBytes});
  if (!value)
    return bad(value.error().message());
  if (!value->is<mp::Map>())
    return bad("not a map");
  const mp::Map& info = value->as<mp::Map>();
  ExpertSchema schema;

  HM_TRY(const mp::Value* forward, lookup(info, "forward_schema", "info"));
  const std::vector<mp::Value>* fwd = forward ? sequence_items(*forward) : nullptr;
  if (fwd == nullptr || fwd->size() != 2)
    return bad("'forward_schema' is not a pair (args, kwargs)");
  const std::vector<mp::Value>* args = sequence_items((*fwd)[0]);
  if (args == nullptr)
    return bad("forward_schema args are not a sequence");
  if (!(*fwd)[1].is<mp::Map>())
    return bad("forward_schema kwargs are not a map");
  if (!(*fwd)[1].as<mp::Map>().entries.empty())
    return bad("keyword arguments are not supported");
  HM_TRY(schema.args, decode_descriptors(*args, "args"));

  HM_TRY(const mp::Value* outputs, lookup(info, "outputs_schema", "info"));
  if (outputs == nullptr)
    return bad("missing 'outputs_schema'");
  if (const auto* items = sequence_items(*outputs)) {
    HM_TRY(schema.outputs, decode_descriptors(*items, "outputs"));
  } else {
    HM_TRY(auto single, decode_descriptor(*outputs, 0));
    schema.outputs.push_back(std::move(single));
  }

  HM_TRY(const mp::Value* keywords, lookup(info, "keyword_names", "info"));
  if (keywords != nullptr) {
    const auto* names = sequence_items(*keywords);
    if (names == nullptr || !names->empty())
      return bad("keyword arguments are not supported");
  }
  return schema;
}

}  // namespace hivemind::moe
