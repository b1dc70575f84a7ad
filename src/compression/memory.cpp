#include "memory.hpp"

#include <cstdint>

#include <sys/mman.h>

namespace hivemind::compression::detail {

void advise_huge_pages(void* data, std::size_t size) noexcept {
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  if (size < 2 * kHuge || data == nullptr)
    return;
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t last = (begin + size) & ~(kHuge - 1);
  if (last > first)
    (void)madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

void resize_fresh(Bytes& bytes, std::size_t size) {
  bytes.reserve(bytes.size() + size);
  advise_huge_pages(bytes.data() + bytes.size(), bytes.capacity() - bytes.size());
  bytes.resize(bytes.size() + size);
}

void resize_for_overwrite(Bytes& bytes, std::size_t size) {
  if (size <= bytes.capacity()) {
    bytes.resize(size);
    return;
  }
  Bytes().swap(bytes);
  resize_fresh(bytes, size);
}

}  // namespace hivemind::compression::detail
