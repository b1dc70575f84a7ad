#pragma once
/// \file
/// A reader of Fashion-MNIST (and MNIST) in its original IDX format, gzip-compressed, as the
/// Debian package `dataset-fashion-mnist` installs it under /usr/share/datasets/fashion-mnist/:
/// `{train,t10k}-images-idx3-ubyte.gz` (magic 0x00000803, N x rows x cols bytes) and
/// `{train,t10k}-labels-idx1-ubyte.gz` (magic 0x00000801, N bytes in 0..9). Torch-free: the
/// examples wrap the vectors in tensors themselves.
///
/// Files are untrusted input: the magic numbers, dimensions, sizes (against the header and a
/// hard limit on the decompressed size) and label range are checked, and every error names the
/// file. Thread affinity: none (pure functions; blocking file I/O on the calling thread).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hivemind/core/result.hpp"

namespace hivemind::examples {

/// Where the Debian package puts the files.
inline constexpr const char* kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Mean and standard deviation of the Fashion-MNIST training pixels scaled to [0, 1].
inline constexpr float kFashionMnistMean = 0.2860f;
inline constexpr float kFashionMnistStd = 0.3530f;

/// Largest decompressed file accepted (the training images are 47 MB).
inline constexpr std::size_t kMaxIdxFileBytes = std::size_t{256} << 20;

/// Which half of the data set.
enum class FashionMnistSplit { kTrain, kTest };

/// How to load a split.
struct FashionMnistOptions {
  /// Standardize pixels with kFashionMnistMean / kFashionMnistStd after scaling to [0, 1].
  bool normalize = false;
  /// Keep only the first `max_samples` samples (0: all).
  std::size_t max_samples = 0;
};

/// A loaded split: `images` is row-major [size, rows * cols] floats, `labels` is [size].
struct FashionMnistData {
  std::size_t size = 0;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<float> images{};
  std::vector<std::int64_t> labels{};

  /// Pixels per image (rows * cols; 784 for Fashion-MNIST).
  std::size_t features() const { return rows * cols; }
};

/// The gzip-decompressed bytes of `path`, at most `max_bytes`. Errors: std::errc::io_error (cannot
/// open, corrupt gzip), std::errc::file_too_large (more than max_bytes); the detail names the file.
Result<std::vector<std::uint8_t>> read_gzip_file(const std::string& path, std::size_t max_bytes);

/// The images and labels of an IDX pair of gzip files. Errors (std::errc::invalid_argument unless
/// said otherwise; the detail names the file): those of read_gzip_file, a wrong magic number, zero
/// or oversized dimensions, a file shorter or longer than its header says, image and label counts
/// that differ, a label above 9.
Result<FashionMnistData> load_idx_pair(const std::string& images_path,
                                       const std::string& labels_path,
                                       const FashionMnistOptions& options);

/// The `split` of the data set in `dir` (e.g. kDefaultFashionMnistDir). Errors: load_idx_pair's.
Result<FashionMnistData> load_fashion_mnist(const std::string& dir,
                                            FashionMnistSplit split,
                                            const FashionMnistOptions& options);

}  // namespace hivemind::examples
