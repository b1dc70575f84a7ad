#pragma once
// Private: the codecs' data-parallel loop. Work is cut into chunks of a fixed number of
// elements, independent of the thread count, and every reduction combines per-chunk partial
// results in chunk order, so encoded bytes never depend on the number of threads.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hivemind/compression/worker_pool.hpp"

namespace hivemind::compression::detail {

/// Elements per chunk of the codecs' loops (256 KiB of float32: fits in L2).
inline constexpr std::size_t kChunkElements = std::size_t{1} << 16;

/// Decoded outputs of at least this many bytes are written with non-temporal (streaming) stores,
/// as glibc's memcpy does for large copies: a 40 MB tensor does not stay in a 2 MiB L2 anyway,
/// and streaming stores skip reading each destination line before overwriting it (about a third
/// of a decoder's memory traffic). Values are unaffected.
inline constexpr std::size_t kStreamingStoreBytes = std::size_t{8} << 20;

/// How far ahead of a streaming read loop to prefetch. The hardware prefetchers of the
/// machines here do not keep one core's sequential read loop fed (measured: the moments pass over
/// 40 MB took 5.2 ms without, 3.0 ms with a software prefetch 8 KiB ahead); prefetching past the
/// end of an array is harmless (prefetches never fault).
inline constexpr std::size_t kPrefetchBytes = 8192;

/// Prefetches the line kPrefetchBytes after `p` into the caches (a hint: no effect on results).
inline void prefetch_ahead(const void* p) noexcept {
  __builtin_prefetch(static_cast<const char*>(p) + kPrefetchBytes, 0, 3);
}

/// Floats to write one at a time before `out` is 32-byte aligned for streaming stores (at most
/// n; n when `out` is not even float-aligned, so nothing is streamed).
inline std::size_t floats_before_aligned(const float* out, std::size_t n) noexcept {
  const std::size_t misaligned = reinterpret_cast<std::uintptr_t>(out) % 32;
  if (misaligned % 4 != 0)
    return n;
  const std::size_t head = misaligned == 0 ? 0 : (32 - misaligned) / 4;
  return head < n ? head : n;
}

/// Number of chunks of `chunk` elements covering n elements.
inline std::size_t chunk_count(std::uint64_t n, std::size_t chunk = kChunkElements) noexcept {
  return static_cast<std::size_t>((n + chunk - 1) / chunk);
}

/// Calls f(chunk_index, begin, end) for each chunk of [0, n), on `pool`'s threads when given
/// and there is more than one chunk, else on the calling thread. `f` must not throw.
template <typename F>
void for_each_chunk(WorkerPool* pool, std::uint64_t n, std::size_t chunk, F&& f) {
  const std::size_t chunks = chunk_count(n, chunk);
  auto run = [&](std::size_t c) {
    const std::uint64_t begin = static_cast<std::uint64_t>(c) * chunk;
    const std::uint64_t end = begin + chunk < n ? begin + chunk : n;
    f(c, static_cast<std::size_t>(begin), static_cast<std::size_t>(end));
  };
  if (pool != nullptr && chunks > 1 && pool->concurrency() > 1) {
    pool->parallel_for(chunks, run);
  } else {
    for (std::size_t c = 0; c < chunks; ++c)
      run(c);
  }
}

/// memcpy in 1 MiB ranges on the pool's threads.
inline void copy_bytes(const std::uint8_t* in, std::uint8_t* out, std::size_t n, WorkerPool* pool) {
  constexpr std::size_t kCopyChunk = std::size_t{1} << 20;
  for_each_chunk(pool, n, kCopyChunk, [&](std::size_t, std::size_t b, std::size_t e) {
    std::memcpy(out + b, in + b, e - b);
  });
}

}  // namespace hivemind::compression::detail
