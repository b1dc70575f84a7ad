#include "tensor_parts.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "hivemind/compression/error.hpp"

namespace hivemind::moe::detail {
namespace {

namespace comp = hivemind::compression;

constexpr std::uint8_t kUidKey = (1 << 3) | 2;     // ExpertRequest.uid
constexpr std::uint8_t kTensorKey = (2 << 3) | 2;  // ExpertRequest/ExpertResponse.tensors
constexpr std::uint8_t kBufferKey = (1 << 3) | 2;  // Tensor.buffer
/// Most bytes besides tensor data (headers, unknown fields) that the joiner keeps, all messages
/// together.
constexpr std::size_t kMaxRetainedOverhead = std::size_t{1} << 20;

std::size_t varint_size(std::uint64_t value) {
  std::size_t n = 1;
  for (; value >= 0x80; value >>= 7)
    ++n;
  return n;
}

void append_varint(Bytes& out, std::uint64_t value) {
  for (; value >= 0x80; value >>= 7)
    out.push_back(static_cast<std::uint8_t>(value | 0x80));
  out.push_back(static_cast<std::uint8_t>(value));
}

/// NONE's wire bytes are the tensor's memory for a contiguous CPU tensor of a dtype sent as is
/// (bfloat16 goes out widened to float32 by default, so it takes the codec path).
bool wire_bytes_are_memory(const at::Tensor& t, comp::CompressionType type) {
  if (type != comp::CompressionType::kNone || !t.defined() || !t.device().is_cpu()
      || t.layout() != at::kStrided || !t.is_contiguous()
      || static_cast<std::size_t>(t.dim()) > comp::kMaxTensorDims)
    return false;
  const auto dtype = comp::dtype_from_scalar_type(t.scalar_type());
  if (!dtype || *dtype == comp::Dtype::kBFloat16)
    return false;
  return std::all_of(t.sizes().begin(), t.sizes().end(), [](std::int64_t d) {
    return d <= static_cast<std::int64_t>(std::numeric_limits<std::uint32_t>::max());
  });
}

}  // namespace

static_assert(std::endian::native == std::endian::little, "NONE sends little-endian memory");

Result<PartSource> prepare_parts(const at::Tensor& tensor,
                                 comp::CompressionType type,
                                 const comp::CodecOptions& codec) {
  PartSource source;
  if (!wire_bytes_are_memory(tensor, type)) {
    HM_TRY(source.owned, comp::serialize_tensor(tensor, type, codec));
    source.bytes = source.owned.buffer;
    return source;
  }
  // As serialize_tensor writes NONE's header (serialize.cpp): shape, dtype name, grad flag.
  source.tensor = tensor;
  for (const std::int64_t d : tensor.sizes())
    source.owned.size.push_back(static_cast<std::uint32_t>(d));
  source.owned.requires_grad = tensor.requires_grad();
  source.owned.dtype = comp::dtype_name(*comp::dtype_from_scalar_type(tensor.scalar_type()));
  source.owned.compression = type;
  source.bytes = BytesView(static_cast<const std::uint8_t*>(tensor.data_ptr()), tensor.nbytes());
  return source;
}

std::size_t part_count(const PartSource& source, std::size_t chunk_bytes) {
  return std::max<std::size_t>(1, (source.bytes.size() + chunk_bytes - 1) / chunk_bytes);
}

void encode_part_message(Bytes& out,
                         std::string_view uid,
                         const PartSource& source,
                         std::size_t index,
                         std::size_t chunk_bytes) {
  const std::size_t total = source.bytes.size();
  const std::size_t begin = std::min(total, index * chunk_bytes);
  const std::size_t n = std::min(chunk_bytes, total - begin);
  Bytes header;  // the first part's header fields (an empty buffer is not encoded)
  if (index == 0) {
    comp::SerializedTensor fields;
    fields.size = source.owned.size;
    fields.requires_grad = source.owned.requires_grad;
    fields.dtype = source.owned.dtype;
    fields.compression = source.owned.compression;
    fields.chunks = static_cast<std::int32_t>(total == 0 ? 0 : part_count(source, chunk_bytes));
    header = comp::encode_tensor_message(fields);
  }
  const std::size_t tensor_size = (n > 0 ? 1 + varint_size(n) + n : 0) + header.size();
  out.clear();
  out.reserve(uid.size() + 12 + tensor_size + 1 + varint_size(tensor_size));
  if (!uid.empty()) {
    out.push_back(kUidKey);
    append_varint(out, uid.size());
    append(out, as_bytes(uid));
  }
  out.push_back(kTensorKey);
  append_varint(out, tensor_size);
  if (n > 0) {
    out.push_back(kBufferKey);
    append_varint(out, n);
    append(out, source.bytes.subspan(begin, n));
  }
  append(out, header);
}

TensorPartJoiner::TensorPartJoiner(comp::StreamLimits limits) : limits_(limits), joined_(limits) {}

Result<void> TensorPartJoiner::fail(Error error) {
  error_ = error;
  current_.reset();
  owners_.clear();
  retained_overhead_ = 0;
  return Err(std::move(error));
}

Result<void> TensorPartJoiner::push(const std::vector<BytesView>& parts, Bytes owner) {
  if (error_)
    return Err(*error_);
  std::vector<comp::TensorMessageView> views;
  views.reserve(parts.size());
  std::size_t useful = 0;
  for (const BytesView part : parts) {
    auto view = comp::parse_tensor_message_view(part, limits_.parse);
    if (!view)
      return fail(view.error());
    useful += view->buffer.size();
    views.push_back(std::move(*view));
  }
  const std::size_t overhead = owner.size() > useful ? owner.size() - useful : 0;
  if (overhead > kMaxRetainedOverhead - retained_overhead_) {
    // Too many bytes that are no tensor data (unknown fields, say): keep a copy of the data only,
    // so that what is held stays within the limits plus kMaxRetainedOverhead.
    // `owner` itself lives on to the end of this call: the headers' fields still view it.
    Bytes compact;
    compact.reserve(useful);
    for (auto& view : views) {
      const std::size_t at = compact.size();
      append(compact, view.buffer);
      view.buffer = BytesView(compact.data() + at, view.buffer.size());  // reserved: no move
    }
    owners_.push_back(Owner{.bytes = std::move(compact), .overhead = 0});
  } else {
    retained_overhead_ += overhead;
    owners_.push_back(Owner{.bytes = std::move(owner), .overhead = overhead});  // bytes stay put
  }
  for (const auto& view : views)
    HM_TRY_VOID(push_part(view));
  return ok();
}

Result<void> TensorPartJoiner::push_part(const comp::TensorMessageView& view) {
  const std::size_t add = view.buffer.size();
  if (!view.dtype.empty()) {  // a header: a new tensor starts
    HM_TRY_VOID(complete_current());
    if (tensors_ >= limits_.max_tensors)
      return fail(Error(comp::CompressionErrc::kTooLarge, "too many tensors in one stream"));
    if (view.chunks < 0)
      return fail(Error(comp::CompressionErrc::kMalformedStream, "negative chunks"));
    Current next;
    next.header.size = view.size;
    next.header.requires_grad = view.requires_grad;
    next.header.dtype = std::string(view.dtype);
    next.header.compression = view.compression;
    next.header.chunks = view.chunks;
    // The header alone through an assembler: the same checks (dtype, codec, shape) right away.
    comp::TensorStreamAssembler probe(limits_);
    if (auto checked = probe.push(next.header); !checked)
      return fail(checked.error());
    ++tensors_;
    current_ = std::move(next);
  } else if (!current_) {
    return fail(
        Error(comp::CompressionErrc::kMalformedStream, "stream starts without a header part"));
  } else if (current_->header.chunks > 0
             && current_->parts.size() >= static_cast<std::size_t>(current_->header.chunks)) {
    return fail(Error(comp::CompressionErrc::kMalformedStream, "more parts than announced"));
  }
  if (current_->bytes + add > limits_.max_tensor_bytes
      || total_bytes_ + add > limits_.max_total_bytes)
    return fail(Error(comp::CompressionErrc::kTooLarge, "stream exceeds its size limit"));
  total_bytes_ += add;
  current_->bytes += add;
  current_->parts.push_back(view.buffer);
  return ok();
}

Result<void> TensorPartJoiner::complete_current() {
  if (!current_)
    return ok();
  Current done = std::move(*current_);
  current_.reset();
  if (done.header.chunks > 0 && done.parts.size() != static_cast<std::size_t>(done.header.chunks))
    return fail(Error(comp::CompressionErrc::kTruncatedStream, "fewer parts than announced"));
  comp::SerializedTensor whole = std::move(done.header);
  announced_chunks_.push_back(whole.chunks);  // restored by finish(), as the assembler keeps it
  whole.chunks = 0;  // the part count is checked above; the assembler sees one part
  whole.buffer.reserve(done.bytes);
  for (const BytesView part : done.parts)
    append(whole.buffer, part);
  // Release the messages only this tensor used (the current one may share the last).
  const std::size_t keep_from = owners_released_ + owners_.size() - 1;
  while (owners_released_ < keep_from && !owners_.empty()) {
    retained_overhead_ -= owners_.front().overhead;
    owners_.pop_front();
    ++owners_released_;
  }
  if (auto pushed = joined_.push(std::move(whole)); !pushed)
    return fail(pushed.error());
  return ok();
}

Result<std::vector<comp::SerializedTensor>> TensorPartJoiner::finish() {
  if (error_)
    return Err(*error_);
  HM_TRY_VOID(complete_current());
  auto tensors = joined_.finish();
  if (!tensors) {
    (void)fail(tensors.error());
    return Err(tensors.error());
  }
  for (std::size_t i = 0; i < tensors->size(); ++i)
    (*tensors)[i].chunks = announced_chunks_[i];
  return tensors;
}

}  // namespace hivemind::moe::detail
