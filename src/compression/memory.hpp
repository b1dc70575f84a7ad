#pragma once
// Private: large codec buffers. Touching a fresh 40 MB buffer costs more than copying it on these
// machines (10,000 page faults; measured: 28-40 ms for a first memset of 40 MB, 8-19 ms with
// transparent huge pages, against 7 ms for a memcpy into touched memory). So buffers of 4 MiB
// and more are advised to use huge pages before their first touch (madvise MADV_HUGEPAGE; the
// kernel ignores it when THP is off). Advice only: nothing else changes.

#include <cstddef>

#include "hivemind/core/bytes.hpp"

namespace hivemind::compression::detail {

/// Advises huge pages for the 2 MiB-aligned part of [data, data + size) when size >= 4 MiB.
void advise_huge_pages(void* data, std::size_t size) noexcept;

/// Resizes an empty `bytes` to `size` (zero-filled), advising huge pages before the fill.
void resize_fresh(Bytes& bytes, std::size_t size);

}  // namespace hivemind::compression::detail
