// Histograms of the 8-bit codebook codecs (see histogram.hpp). SSE2 only: the 16-byte slot add
// is what matters, and every x86-64 CPU has it.
#include "histogram.hpp"

namespace hivemind::compression::detail {

void SubHistograms::add_range(const float* x, const std::uint8_t* q, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4)
    add4(x + i, q + i);
  for (; i < n; ++i)
    add(0, q[i], _mm_set_pd(1.0, static_cast<double>(x[i])));
}

void SubHistograms::finish(Histogram& h) const noexcept {
  for (std::size_t b = 0; b < kHistogramBins; ++b) {
    const double* s0 = slots_ + 2 * b;
    const double* s1 = s0 + kStride;
    const double* s2 = s1 + kStride;
    const double* s3 = s2 + kStride;
    h.sum[b] = (s0[0] + s1[0]) + (s2[0] + s3[0]);
    h.count[b] = static_cast<std::uint64_t>((s0[1] + s1[1]) + (s2[1] + s3[1]));
  }
}

void histogram(const float* x, const std::uint8_t* q, std::size_t n, Histogram& h) noexcept {
  SubHistograms sub;
  sub.add_range(x, q, n);
  sub.finish(h);
}

}  // namespace hivemind::compression::detail
