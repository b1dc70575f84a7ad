// The Fashion-MNIST reader of the examples (examples/common/fashion_mnist.hpp): tiny IDX files
// written by the test, every validation error, and the real files when the Debian package is
// installed.
#include "fashion_mnist.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

namespace hivemind::examples {
namespace {

namespace fs = std::filesystem;

using Bytes = std::vector<std::uint8_t>;

void put_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(v >> shift));
}

Bytes idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, std::uint8_t fill = 0) {
  Bytes out;
  put_u32(out, 0x803);
  put_u32(out, n);
  put_u32(out, rows);
  put_u32(out, cols);
  for (std::uint32_t i = 0; i < n * rows * cols; ++i)
    out.push_back(static_cast<std::uint8_t>(fill + i));
  return out;
}

Bytes idx_labels(const Bytes& labels) {
  Bytes out;
  put_u32(out, 0x801);
  put_u32(out, static_cast<std::uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

class FashionMnistTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hm_fmnist_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }

  void TearDown() override { fs::remove_all(dir_); }

  std::string write_gz(const std::string& name, const Bytes& bytes) {
    const std::string path = (dir_ / name).string();
    gzFile file = gzopen(path.c_str(), "wb");
    EXPECT_NE(file, nullptr);
    if (!bytes.empty()) {
      EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
                static_cast<int>(bytes.size()));
    }
    gzclose(file);
    return path;
  }

  /// Loads images/labels written from the given bytes; returns the error's message ("" on
  /// success).
  std::string load_error(const Bytes& images, const Bytes& labels) {
    auto loaded = load_idx_pair(write_gz("i.gz", images), write_gz("l.gz", labels), {});
    return loaded ? std::string() : loaded.error().message();
  }

  fs::path dir_;
};

TEST_F(FashionMnistTest, LoadsScaledImagesAndLabels) {
  write_gz("train-images-idx3-ubyte.gz", idx_images(3, 2, 2, 250));
  write_gz("train-labels-idx1-ubyte.gz", idx_labels({0, 9, 4}));
  auto data = load_fashion_mnist(dir_.string(), FashionMnistSplit::kTrain, {});
  ASSERT_TRUE(data) << data.error().message();
  EXPECT_EQ(data->size, 3u);
  EXPECT_EQ(data->features(), 4u);
  ASSERT_EQ(data->images.size(), 12u);
  EXPECT_FLOAT_EQ(data->images[0], 250.0f / 255.0f);
  EXPECT_FLOAT_EQ(data->images[5], 255.0f / 255.0f);
  EXPECT_FLOAT_EQ(data->images[6], 0.0f);  // 256 wraps to 0
  EXPECT_EQ(data->labels, (std::vector<std::int64_t>{0, 9, 4}));
}

TEST_F(FashionMnistTest, NormalizesAndLimitsSamples) {
  write_gz("t10k-images-idx3-ubyte.gz", idx_images(3, 1, 2, 0));
  write_gz("t10k-labels-idx1-ubyte.gz", idx_labels({1, 2, 3}));
  FashionMnistOptions options;
  options.normalize = true;
  options.max_samples = 2;
  auto data = load_fashion_mnist(dir_.string() + "/", FashionMnistSplit::kTest, options);
  ASSERT_TRUE(data) << data.error().message();
  EXPECT_EQ(data->size, 2u);
  ASSERT_EQ(data->images.size(), 4u);
  EXPECT_FLOAT_EQ(data->images[0], -kFashionMnistMean / kFashionMnistStd);
  EXPECT_FLOAT_EQ(data->images[3], (3.0f / 255.0f - kFashionMnistMean) / kFashionMnistStd);
  EXPECT_EQ(data->labels, (std::vector<std::int64_t>{1, 2}));
}

TEST_F(FashionMnistTest, MissingFileIsAnIoErrorNamingIt) {
  auto data = load_fashion_mnist(dir_.string(), FashionMnistSplit::kTrain, {});
  ASSERT_FALSE(data);
  EXPECT_EQ(data.error(), std::errc::io_error);
  EXPECT_NE(data.error().message().find("train-images-idx3-ubyte.gz"), std::string::npos);
}

TEST_F(FashionMnistTest, RejectsBadMagicNumbers) {
  const Bytes labels = idx_labels({1});
  EXPECT_NE(load_error(labels, labels).find("i.gz: bad magic number 0x00000801"),
            std::string::npos);
  const Bytes images = idx_images(1, 1, 1);
  EXPECT_NE(load_error(images, images).find("l.gz: bad magic number 0x00000803"),
            std::string::npos);
}

TEST_F(FashionMnistTest, RejectsWrongSizesAndDimensions) {
  const Bytes labels = idx_labels({1, 2});
  Bytes images = idx_images(2, 2, 2);
  images.pop_back();
  EXPECT_NE(load_error(images, labels).find("holds 7 data bytes, header says 8"),
            std::string::npos);
  images.push_back(0);
  images.push_back(0);
  EXPECT_NE(load_error(images, labels).find("holds 9 data bytes"), std::string::npos);
  EXPECT_NE(load_error(idx_images(2, 0, 2), labels).find("dimension 1 is zero"), std::string::npos);
  EXPECT_NE(load_error(idx_images(2, 2, 5000), labels).find("dimension 2 is too large"),
            std::string::npos);
  EXPECT_NE(load_error(Bytes{0, 0, 8}, labels).find("truncated IDX header"), std::string::npos);
  EXPECT_NE(load_error(idx_images(3, 1, 1), labels).find("holds 2 labels but"), std::string::npos);
  // A header claiming 2^32 - 1 images of 1024 x 1024 must not allocate: the size check fails.
  Bytes huge;
  put_u32(huge, 0x803);
  put_u32(huge, 0xffffffffu);
  put_u32(huge, 1024);
  put_u32(huge, 1024);
  EXPECT_NE(load_error(huge, labels).find("holds 0 data bytes"), std::string::npos);
}

TEST_F(FashionMnistTest, RejectsLabelsOutOfRange) {
  EXPECT_NE(load_error(idx_images(2, 1, 1), idx_labels({3, 10}))
                .find("label 10 of sample 1 is out of range"),
            std::string::npos);
}

TEST_F(FashionMnistTest, RejectsCorruptAndOversizedGzip) {
  const std::string path = (dir_ / "bad.gz").string();
  // A gzip header followed by garbage deflate data.
  Bytes garbage = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0x12, 0x34};
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(garbage.data(), 1, garbage.size(), f);
  std::fclose(f);
  auto bad = read_gzip_file(path, 1 << 20);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), std::errc::io_error);
  EXPECT_NE(bad.error().message().find("bad.gz: corrupt gzip data"), std::string::npos);

  auto big = read_gzip_file(write_gz("big.gz", Bytes(3u << 20, 7)), 2u << 20);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), std::errc::file_too_large);
}

TEST(FashionMnistRealFiles, LoadBothSplitsWhenInstalled) {
  if (!fs::exists(std::string(kDefaultFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  auto test = load_fashion_mnist(kDefaultFashionMnistDir, FashionMnistSplit::kTest, {});
  ASSERT_TRUE(test) << test.error().message();
  EXPECT_EQ(test->size, 10000u);
  EXPECT_EQ(test->features(), 784u);
  std::vector<int> counts(10, 0);
  for (auto label : test->labels)
    ++counts[static_cast<std::size_t>(label)];
  for (int count : counts)
    EXPECT_EQ(count, 1000);  // the test split is balanced
  auto train = load_fashion_mnist(kDefaultFashionMnistDir, FashionMnistSplit::kTrain, {});
  ASSERT_TRUE(train) << train.error().message();
  EXPECT_EQ(train->size, 60000u);
  double sum = 0;
  for (float pixel : train->images)
    sum += pixel;
  EXPECT_NEAR(sum / static_cast<double>(train->images.size()), kFashionMnistMean, 1e-3);
}

}  // namespace
}  // namespace hivemind::examples
