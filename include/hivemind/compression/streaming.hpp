#pragma once
/// \file
/// Chunk streams of serialized tensors (hivemind/utils/streaming.py): a tensor too large for one
/// message is split into parts whose buffers are at most a given size; the first part carries the
/// header (size, dtype, compression, requires_grad, and `chunks` = the number of parts), later
/// parts only a slice of the buffer. A receiver rebuilds tensors from a stream of parts: a part
/// with a non-empty dtype starts a new tensor. Torch-free; values, no I/O.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "hivemind/compression/serialized_tensor.hpp"
#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::compression {

/// hivemind STREAMING_CHUNK_SIZE_BYTES (state download chunks).
inline constexpr std::size_t kStreamingChunkBytes = std::size_t{1} << 16;
/// hivemind DEFAULT_MAX_MSG_SIZE, the part size of MoE streaming RPCs.
inline constexpr std::size_t kMoEStreamChunkBytes = std::size_t{4} << 20;

/// hivemind split_for_streaming: parts whose buffers hold at most `max_part_bytes` bytes each
/// (the limit applies to the buffer, not the whole message). The first part has the header and
/// chunks = ceil(buffer / max_part_bytes); an empty buffer still gives one part, with chunks = 0.
/// HM_CHECKs max_part_bytes > 0. Copies the buffer once.
std::vector<SerializedTensor> split_for_streaming(const SerializedTensor& tensor,
                                                  std::size_t max_part_bytes);

/// As split_for_streaming, returning each part's protobuf message bytes, ready to send.
std::vector<Bytes> split_tensor_messages(const SerializedTensor& tensor,
                                         std::size_t max_part_bytes);

/// Limits on what one stream may make the receiver hold.
struct StreamLimits {
  std::size_t max_tensor_bytes = std::size_t{1} << 30;  ///< buffer bytes of one tensor
  std::size_t max_total_bytes = std::size_t{2} << 30;   ///< buffer bytes of all tensors
  std::size_t max_tensors = 4096;                       ///< tensors in one stream
  ParseLimits parse = {};                               ///< for push_message
};

/// Rebuilds serialized tensors from a stream of parts (hivemind deserialize_tensor_stream and
/// combine_from_streaming), checking each tensor against its header as the parts arrive, so that
/// a hostile stream cannot make it hold more than the header (and the limits) allow:
///  * the first part must have a dtype (kMalformedStream);
///  * a header must be valid for its codec (kUnknownDtype, kUnsupportedDtype, kBadShape);
///  * bytes beyond what the header's layout allows: kBufferSizeMismatch; beyond the limits:
///    kTooLarge;
///  * a tensor followed by the next header or by finish() before its buffer is complete, or with
///    fewer parts than a non-zero `chunks` announced: kTruncatedStream; more parts than announced
///    or a negative `chunks`: kMalformedStream (hivemind never reads `chunks`; every hivemind
///    sender sets it to the exact part count, or 0).
/// After an error every later call returns that error. Single-threaded use (one stream).
class TensorStreamAssembler {
 public:
  explicit TensorStreamAssembler(StreamLimits limits = {});

  /// Adds the next part (its buffer is moved in or appended).
  Result<void> push(SerializedTensor part);

  /// Parses one Tensor message and adds it as the next part.
  Result<void> push_message(BytesView message);

  /// Moves out the tensors completed so far (all but the one still receiving parts).
  std::vector<SerializedTensor> take_completed();

  /// Ends the stream: checks that the last tensor is complete and returns every tensor not yet
  /// taken. A stream with no parts gives no tensors.
  Result<std::vector<SerializedTensor>> finish();

 private:
  Result<void> complete_current();
  Result<void> check_growth(std::uint64_t have, std::size_t add);
  Result<void> fail(Error error);

  StreamLimits limits_;
  std::optional<SerializedTensor> current_;
  std::uint64_t current_min_ = 0;  // allowed buffer sizes of the current tensor
  std::uint64_t current_max_ = 0;
  std::size_t current_parts_ = 0;
  std::size_t total_bytes_ = 0;
  std::size_t tensors_ = 0;
  std::vector<SerializedTensor> completed_;
  std::optional<Error> error_;
};

/// Rebuilds all tensors of a complete stream of parts (push each, then finish).
Result<std::vector<SerializedTensor>> assemble_tensor_stream(std::vector<SerializedTensor> parts,
                                                             const StreamLimits& limits = {});

}  // namespace hivemind::compression
