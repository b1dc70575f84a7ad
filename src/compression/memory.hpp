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

/// Grows `bytes` by `size` zero-filled bytes into new capacity, advising huge pages before the
/// fill (for an empty `bytes`: a fresh buffer of `size` bytes).
void resize_fresh(Bytes& bytes, std::size_t size);

/// Makes `bytes` exactly `size` bytes long for a writer that overwrites all of them; the old
/// contents are garbage afterwards. When the size is unchanged (a buffer reused for a message of
/// the same size) nothing is written or allocated; a smaller size only shrinks; a larger one
/// zero-fills the new part, and beyond the capacity frees the old memory before allocating fresh
/// memory (no copy of the old contents).
void resize_for_overwrite(Bytes& bytes, std::size_t size);

}  // namespace hivemind::compression::detail
