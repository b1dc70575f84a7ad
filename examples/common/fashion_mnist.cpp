#include "fashion_mnist.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <zlib.h>

namespace hivemind::examples {
namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
constexpr std::uint32_t kMaxSide = 1024;            // rows and cols
constexpr std::int64_t kNumClasses = 10;

Err invalid(const std::string& path, const std::string& what) {
  return Err(std::make_error_code(std::errc::invalid_argument), path + ": " + what);
}

std::uint32_t big_endian_u32(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  return (std::uint32_t{bytes[offset]} << 24) | (std::uint32_t{bytes[offset + 1]} << 16)
         | (std::uint32_t{bytes[offset + 2]} << 8) | std::uint32_t{bytes[offset + 3]};
}

/// Checks an IDX header (magic, then `dims` big-endian sizes) and the payload length. Returns the
/// sizes.
Result<std::vector<std::uint32_t>> parse_header(const std::vector<std::uint8_t>& bytes,
                                                const std::string& path,
                                                std::uint32_t magic,
                                                std::size_t dims) {
  const std::size_t header = 4 * (1 + dims);
  if (bytes.size() >= 4 && big_endian_u32(bytes, 0) != magic) {
    char text[96];
    std::snprintf(text,
                  sizeof text,
                  "bad magic number 0x%08x (expected 0x%08x)",
                  big_endian_u32(bytes, 0),
                  magic);
    return invalid(path, text);
  }
  if (bytes.size() < header)
    return invalid(path, "truncated IDX header (" + std::to_string(bytes.size()) + " bytes)");
  std::vector<std::uint32_t> sizes;
  std::size_t payload = 1;
  for (std::size_t d = 0; d < dims; ++d) {
    sizes.push_back(big_endian_u32(bytes, 4 * (1 + d)));
    // Bounded by the file size below; guard the product against overflow first.
    if (sizes.back() == 0 && d > 0)
      return invalid(path, "dimension " + std::to_string(d) + " is zero");
    if (d > 0 && sizes.back() > kMaxSide)
      return invalid(path, "dimension " + std::to_string(d) + " is too large");
    payload *= sizes.back();
  }
  if (bytes.size() - header != payload)
    return invalid(path,
                   "holds " + std::to_string(bytes.size() - header) + " data bytes, header says "
                       + std::to_string(payload));
  return sizes;
}

}  // namespace

Result<std::vector<std::uint8_t>> read_gzip_file(const std::string& path, std::size_t max_bytes) {
  std::unique_ptr<gzFile_s, decltype(&gzclose)> file(gzopen(path.c_str(), "rb"), &gzclose);
  if (!file)
    return Err(std::make_error_code(std::errc::io_error),
               path + ": cannot open: " + std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  constexpr unsigned kChunk = 1u << 20;
  for (;;) {
    const std::size_t old_size = bytes.size();
    bytes.resize(old_size + kChunk);
    const int n = gzread(file.get(), bytes.data() + old_size, kChunk);
    if (n < 0) {
      int code = 0;
      const char* message = gzerror(file.get(), &code);
      return Err(std::make_error_code(std::errc::io_error),
                 path + ": corrupt gzip data: " + (message ? message : "?"));
    }
    bytes.resize(old_size + static_cast<std::size_t>(n));
    if (bytes.size() > max_bytes)
      return Err(std::make_error_code(std::errc::file_too_large),
                 path + ": more than " + std::to_string(max_bytes) + " bytes decompressed");
    if (n == 0)
      break;
  }
  // gzread returns 0 both at the end and for a stream cut short; gzerror tells them apart.
  int code = 0;
  const char* message = gzerror(file.get(), &code);
  if (code != Z_OK && code != Z_STREAM_END)
    return Err(std::make_error_code(std::errc::io_error),
               path + ": corrupt gzip data: " + (message ? message : "?"));
  return bytes;
}

Result<FashionMnistData> load_idx_pair(const std::string& images_path,
                                       const std::string& labels_path,
                                       const FashionMnistOptions& options) {
  HM_TRY(auto image_bytes, read_gzip_file(images_path, kMaxIdxFileBytes));
  HM_TRY(auto image_dims, parse_header(image_bytes, images_path, kImagesMagic, 3));
  HM_TRY(auto label_bytes, read_gzip_file(labels_path, kMaxIdxFileBytes));
  HM_TRY(auto label_dims, parse_header(label_bytes, labels_path, kLabelsMagic, 1));
  if (image_dims[0] != label_dims[0])
    return invalid(labels_path,
                   "holds " + std::to_string(label_dims[0]) + " labels but " + images_path
                       + " holds " + std::to_string(image_dims[0]) + " images");
  FashionMnistData data;
  data.size = image_dims[0];
  if (options.max_samples > 0)
    data.size = std::min(data.size, options.max_samples);
  data.rows = image_dims[1];
  data.cols = image_dims[2];
  const std::size_t features = data.features();
  data.labels.resize(data.size);
  for (std::size_t i = 0; i < data.size; ++i) {
    const std::int64_t label = label_bytes[8 + i];
    if (label >= kNumClasses)
      return invalid(labels_path,
                     "label " + std::to_string(label) + " of sample " + std::to_string(i)
                         + " is out of range 0..9");
    data.labels[i] = label;
  }
  data.images.resize(data.size * features);
  const float scale = 1.0f / 255.0f;
  for (std::size_t i = 0; i < data.images.size(); ++i) {
    float pixel = static_cast<float>(image_bytes[16 + i]) * scale;
    if (options.normalize)
      pixel = (pixel - kFashionMnistMean) / kFashionMnistStd;
    data.images[i] = pixel;
  }
  return data;
}

Result<FashionMnistData> load_fashion_mnist(const std::string& dir,
                                            FashionMnistSplit split,
                                            const FashionMnistOptions& options) {
  const std::string stem = split == FashionMnistSplit::kTrain ? "train" : "t10k";
  const std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  return load_idx_pair(
      base + stem + "-images-idx3-ubyte.gz", base + stem + "-labels-idx1-ubyte.gz", options);
}

}  // namespace hivemind::examples
