#pragma once
/// \file
/// runtime.proto messages of the expert RPCs (`ExpertUID`, `ExpertInfo`, `ExpertRequest`,
/// `ExpertResponse`), encoded and parsed by hand so that tensor buffers are never copied on the
/// way in (their `Tensor` submessages are viewed and handed to the compression layer) and written
/// once on the way out. Field numbers are hivemind's (docs/protocols/moe.md). Pure functions,
/// any thread.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "hivemind/compression/serialized_tensor.hpp"
#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::moe {

/// Most `tensors` entries one message may carry (a request of more is refused as malformed).
inline constexpr std::size_t kMaxTensorsPerMessage = 4096;

/// A parsed `ExpertRequest` (or `ExpertResponse`, which has no uid): views into the message bytes,
/// valid only while they are.
struct ExpertMessageView {
  std::string_view uid;            ///< field 1 (empty in responses)
  std::vector<BytesView> tensors;  ///< field 2: each entry is one encoded `Tensor` message
  BytesView metadata;              ///< field 3
};

/// Parses an ExpertRequest or ExpertResponse. Unknown fields are skipped as proto3 requires.
/// Errors: MoeErrc::kBadRequest with a detail (truncated field, bad varint, group wire types,
/// a known field with the wrong wire type, more than kMaxTensorsPerMessage tensors).
Result<ExpertMessageView> parse_expert_message(BytesView message);

/// Encodes an ExpertRequest from already encoded Tensor messages.
Bytes encode_expert_request(std::string_view uid,
                            const std::vector<Bytes>& tensor_messages,
                            BytesView metadata = {});

/// Encodes an ExpertResponse (or a request when `uid` is not empty) whose tensors are encoded
/// straight into the result (one copy of each buffer).
Bytes encode_expert_message(std::string_view uid,
                            const std::vector<compression::SerializedTensor>& tensors,
                            BytesView metadata = {});

/// `ExpertUID { string uid = 1; }`.
Bytes encode_expert_uid(std::string_view uid);
/// Parses an ExpertUID. Errors: kBadRequest.
Result<std::string> parse_expert_uid(BytesView message);

/// `ExpertInfo { bytes serialized_info = 1; }`.
Bytes encode_expert_info_message(BytesView serialized_info);
/// Parses an ExpertInfo, returning a view of serialized_info. Errors: kBadRequest.
Result<BytesView> parse_expert_info_message(BytesView message);

}  // namespace hivemind::moe
