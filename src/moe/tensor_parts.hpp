#pragma once
// Private to moe (server and client): the streamed tensors of the expert RPCs with as few copies
// as the wire allows. Sending: each part's ExpertRequest/ExpertResponse is written straight from
// the tensor's bytes (NONE of a contiguous tensor: its memory; other codecs: the codec's output),
// byte-identical to serialize -> split_for_streaming -> encode_expert_message. Receiving: parts
// are kept as views of the received messages and each tensor's parts are joined once, into the
// buffer that its decoded tensor adopts, under the same checks as compression's
// TensorStreamAssembler.

#include <cstddef>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "hivemind/compression/serialization.hpp"
#include "hivemind/compression/streaming.hpp"
#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::moe::detail {

/// One tensor ready to be sent in parts: the header (its buffer unused) and the bytes to split,
/// which view either `tensor`'s memory or `owned.buffer`. Move-only in practice (views).
struct PartSource {
  compression::SerializedTensor owned;  ///< header fields; buffer = codec output when not raw
  at::Tensor tensor;                    ///< keeps the viewed memory alive (raw NONE)
  BytesView bytes;                      ///< the wire buffer of the whole tensor
};

/// Prepares `tensor` (CPU) for sending with `type`: contiguous NONE tensors whose wire bytes are
/// their memory are viewed, not copied; anything else is serialized once. Any thread. Errors:
/// those of compression::serialize_tensor.
Result<PartSource> prepare_parts(const at::Tensor& tensor,
                                 compression::CompressionType type,
                                 const compression::CodecOptions& codec);

/// Number of parts of at most `chunk_bytes` buffer bytes (at least 1). chunk_bytes > 0.
std::size_t part_count(const PartSource& source, std::size_t chunk_bytes);

/// Replaces `out` with the ExpertRequest (uid not empty) or ExpertResponse carrying part `index`
/// of `source` (one copy of the part's bytes; out's capacity is reused).
void encode_part_message(Bytes& out,
                         std::string_view uid,
                         const PartSource& source,
                         std::size_t index,
                         std::size_t chunk_bytes);

/// Rebuilds serialized tensors from a stream of Tensor parts with one copy per byte. Checks as
/// TensorStreamAssembler (streaming.hpp) does, with the same error codes and texts: headers,
/// chunk counts and the limits as parts arrive; the buffer size against the header's layout when
/// the tensor is complete. Parts are views: the caller keeps their bytes valid, or hands them
/// over with push's `owner`. Single-threaded use.
class TensorPartJoiner {
 public:
  explicit TensorPartJoiner(compression::StreamLimits limits);

  /// Adds the parts one message carries (Tensor messages viewing `owner`, or caller-owned bytes
  /// when `owner` is empty). `owner` is kept until those parts are joined; once the bytes kept
  /// besides tensor data would pass 1 MiB, a copy of the parts' data is kept instead.
  Result<void> push(const std::vector<BytesView>& parts, Bytes owner);

  /// Ends the stream and returns every tensor. A stream with no parts gives none.
  Result<std::vector<compression::SerializedTensor>> finish();

 private:
  struct Current {
    compression::SerializedTensor header;  // buffer empty
    std::vector<BytesView> parts;
    std::size_t bytes = 0;
  };

  Result<void> push_part(const compression::TensorMessageView& view);
  Result<void> complete_current();
  Result<void> fail(Error error);

  compression::StreamLimits limits_;
  compression::TensorStreamAssembler joined_;  // checks each joined tensor as one part
  std::optional<Current> current_;

  struct Owner {
    Bytes bytes;
    std::size_t overhead = 0;  // bytes that are no tensor data
  };

  std::deque<Owner> owners_;
  std::size_t retained_overhead_ = 0;           // sum of owners_[i].overhead
  std::size_t owners_released_ = 0;             // owners_[0] is owner number owners_released_
  std::vector<std::int32_t> announced_chunks_;  // of every joined tensor, in order
  std::size_t total_bytes_ = 0;
  std::size_t tensors_ = 0;
  std::optional<Error> error_;
};

}  // namespace hivemind::moe::detail
