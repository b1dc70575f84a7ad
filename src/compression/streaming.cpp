// Chunk streams of serialized tensors (see streaming.hpp; hivemind/utils/streaming.py and
// serialization.py deserialize_tensor_stream).
#include "hivemind/compression/streaming.hpp"

#include <algorithm>

#include "hivemind/compression/error.hpp"
#include "hivemind/core/check.hpp"
#include "layout.hpp"
#include "wire.hpp"

namespace hivemind::compression {
namespace {

std::int32_t part_count(std::size_t buffer_size, std::size_t max_part_bytes) {
  const std::size_t n = (buffer_size + max_part_bytes - 1) / max_part_bytes;
  HM_CHECK(n <= static_cast<std::size_t>(INT32_MAX), "too many parts for the int32 chunks field");
  return static_cast<std::int32_t>(n);
}

}  // namespace

std::vector<SerializedTensor> split_for_streaming(const SerializedTensor& tensor,
                                                  std::size_t max_part_bytes) {
  HM_CHECK(max_part_bytes > 0, "max_part_bytes must be positive");
  const std::size_t total = tensor.buffer.size();
  const std::int32_t chunks = part_count(total, max_part_bytes);
  std::vector<SerializedTensor> parts;
  parts.reserve(std::max<std::size_t>(1, static_cast<std::size_t>(chunks)));
  for (std::size_t begin = 0; begin < total || parts.empty(); begin += max_part_bytes) {
    const std::size_t end = std::min(total, begin + std::min(max_part_bytes, total - begin));
    SerializedTensor part;
    part.buffer.assign(tensor.buffer.begin() + static_cast<std::ptrdiff_t>(begin),
                       tensor.buffer.begin() + static_cast<std::ptrdiff_t>(end));
    if (parts.empty()) {
      part.size = tensor.size;
      part.requires_grad = tensor.requires_grad;
      part.dtype = tensor.dtype;
      part.compression = tensor.compression;
      part.chunks = chunks;
    }
    parts.push_back(std::move(part));
  }
  return parts;
}

std::vector<Bytes> split_tensor_messages(const SerializedTensor& tensor,
                                         std::size_t max_part_bytes) {
  HM_CHECK(max_part_bytes > 0, "max_part_bytes must be positive");
  const std::size_t total = tensor.buffer.size();
  const std::int32_t chunks = part_count(total, max_part_bytes);
  std::vector<Bytes> messages;
  messages.reserve(std::max<std::size_t>(1, static_cast<std::size_t>(chunks)));
  for (std::size_t begin = 0; begin < total || messages.empty(); begin += max_part_bytes) {
    const std::size_t n = std::min(max_part_bytes, total - begin);
    detail::TensorHeader header;
    if (messages.empty())
      header = {tensor.size, tensor.requires_grad, tensor.dtype, tensor.compression, chunks};
    Bytes message;
    message.reserve(detail::message_size(header, n));
    detail::append_buffer_key(message, n);
    message.insert(message.end(),
                   tensor.buffer.begin() + static_cast<std::ptrdiff_t>(begin),
                   tensor.buffer.begin() + static_cast<std::ptrdiff_t>(begin + n));
    detail::append_header_fields(message, header);
    messages.push_back(std::move(message));
  }
  return messages;
}

TensorStreamAssembler::TensorStreamAssembler(StreamLimits limits) : limits_(limits) {}

Result<void> TensorStreamAssembler::fail(Error error) {
  error_ = error;
  current_.reset();
  return Err(std::move(error));
}

Result<void> TensorStreamAssembler::complete_current() {
  if (!current_)
    return ok();
  const std::uint64_t have = current_->buffer.size();
  if (have != current_min_ && have != current_max_)
    return fail(Error(CompressionErrc::kTruncatedStream,
                      "tensor ended after " + std::to_string(have) + " of "
                          + std::to_string(current_min_) + " buffer bytes"));
  if (current_->chunks > 0 && current_parts_ != static_cast<std::size_t>(current_->chunks))
    return fail(Error(CompressionErrc::kTruncatedStream, "fewer parts than announced"));
  completed_.push_back(std::move(*current_));
  current_.reset();
  return ok();
}

Result<void> TensorStreamAssembler::check_growth(std::uint64_t have, std::size_t add) {
  if (have + add > current_max_)
    return fail(
        Error(CompressionErrc::kBufferSizeMismatch, "more buffer bytes than the header allows"));
  if (have + add > limits_.max_tensor_bytes || total_bytes_ + add > limits_.max_total_bytes)
    return fail(Error(CompressionErrc::kTooLarge, "stream exceeds its size limit"));
  total_bytes_ += add;
  return ok();
}

Result<void> TensorStreamAssembler::push(SerializedTensor part) {
  if (error_)
    return Err(*error_);
  if (!part.dtype.empty()) {  // a header: a new tensor starts
    HM_TRY_VOID(complete_current());
    if (tensors_ >= limits_.max_tensors)
      return fail(Error(CompressionErrc::kTooLarge, "too many tensors in one stream"));
    if (part.chunks < 0)
      return fail(Error(CompressionErrc::kMalformedStream, "negative chunks"));
    auto header = detail::check_header(part.compression, part.dtype, part.size);
    if (!header)
      return fail(header.error());
    current_min_ = header->buffer.min;
    current_max_ = header->buffer.max;
    current_parts_ = 1;
    ++tensors_;
    const std::size_t add = part.buffer.size();
    HM_TRY_VOID(check_growth(0, add));
    // The buffer grows with the bytes that arrive; nothing is reserved from the declared size.
    current_ = std::move(part);
    return ok();
  }
  if (!current_)
    return fail(Error(CompressionErrc::kMalformedStream, "stream starts without a header part"));
  ++current_parts_;
  if (current_->chunks > 0 && current_parts_ > static_cast<std::size_t>(current_->chunks))
    return fail(Error(CompressionErrc::kMalformedStream, "more parts than announced"));
  HM_TRY_VOID(check_growth(current_->buffer.size(), part.buffer.size()));
  append(current_->buffer, part.buffer);
  return ok();
}

Result<void> TensorStreamAssembler::push_message(BytesView message) {
  if (error_)
    return Err(*error_);
  auto part = parse_tensor_message(message, limits_.parse);
  if (!part)
    return fail(part.error());
  return push(std::move(*part));
}

std::vector<SerializedTensor> TensorStreamAssembler::take_completed() {
  return std::exchange(completed_, {});
}

Result<std::vector<SerializedTensor>> TensorStreamAssembler::finish() {
  if (error_)
    return Err(*error_);
  HM_TRY_VOID(complete_current());
  return take_completed();
}

Result<std::vector<SerializedTensor>> assemble_tensor_stream(std::vector<SerializedTensor> parts,
                                                             const StreamLimits& limits) {
  TensorStreamAssembler assembler(limits);
  for (auto& part : parts)
    HM_TRY_VOID(assembler.push(std::move(part)));
  return assembler.finish();
}

}  // namespace hivemind::compression
