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
