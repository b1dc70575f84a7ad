#pragma once
// WireBuffer: bytes on their way to or from a socket. Private to the networking layer.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

namespace hivemind::net::detail {

/// A byte buffer that grows without zero-filling (every byte is written before it is read) and
/// keeps its capacity across clear(). Single-threaded value object; sizes in bytes.
class WireBuffer {
 public:
  /// Appends `n` uninitialized bytes and returns where they start (valid until the next extend).
  std::uint8_t* extend(std::size_t n) {
    if (size_ + n > capacity_) {
      const std::size_t capacity = std::max(size_ + n, capacity_ + capacity_ / 2);
      auto grown = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
      if (size_ > 0)
        std::memcpy(grown.get(), data_.get(), size_);
      data_ = std::move(grown);
      capacity_ = capacity;
    }
    std::uint8_t* out = data_.get() + size_;
    size_ += n;
    return out;
  }

  /// Drops the last `n` bytes (n <= size()).
  void shrink_by(std::size_t n) { size_ -= n; }

  void clear() { size_ = 0; }

  /// Frees the memory if it is above `keep` bytes (only when empty).
  void release_above(std::size_t keep) {
    if (size_ == 0 && capacity_ > keep) {
      data_.reset();
      capacity_ = 0;
    }
  }

  const std::uint8_t* data() const { return data_.get(); }

  std::size_t size() const { return size_; }

  bool empty() const { return size_ == 0; }

  void swap(WireBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace hivemind::net::detail
