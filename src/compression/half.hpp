#pragma once
// Private: IEEE binary16 conversions for the 16-bit codecs. The bulk functions use F16C
// instructions when the CPU has them (checked at run time, no global compiler flags) and an
// exact scalar fallback otherwise; both round to nearest even, so results are identical.
// Input and output pointers need no alignment.

#include <cstddef>
#include <cstdint>

namespace hivemind::compression::detail {

/// float -> binary16 bits, round to nearest even; NaN stays NaN (quiet), overflow gives inf.
std::uint16_t float_to_half_scalar(float value) noexcept;

/// binary16 bits -> float (exact).
float half_to_float_scalar(std::uint16_t bits) noexcept;

/// out[i] = half(clamp(in[i], -65504, 65504)) as little-endian bytes (2 per element): hivemind's
/// `clamp(fp16 min, fp16 max).to(float16)`. NaN stays NaN.
void floats_to_half_clamped(const float* in, std::uint8_t* out, std::size_t n) noexcept;

/// out[i] = float(half at in + 2i). `stream`: write `out` with non-temporal stores (for large
/// outputs, see kStreamingStoreBytes in parallel.hpp); the values are the same.
void half_to_floats(const std::uint8_t* in,
                    float* out,
                    std::size_t n,
                    bool stream = false) noexcept;

/// out[i] = half(clamp((in[i] - mean) / std, -65504, 65504)): MEANSTD_16BIT's scaling, fused.
void floats_to_half_scaled(
    const float* in, std::uint8_t* out, std::size_t n, float mean, float std) noexcept;

/// out[i] = float(half at in + 2i) * scale + shift (multiply, then add: no fused rounding).
/// `stream` as for half_to_floats.
void half_to_floats_affine(const std::uint8_t* in,
                           float* out,
                           std::size_t n,
                           float scale,
                           float shift,
                           bool stream = false) noexcept;

/// True when the F16C path is used (for tests that compare it with the scalar path).
bool have_f16c() noexcept;

/// True when the CPU and OS support AVX2 (checked once).
bool have_avx2() noexcept;

/// The scalar implementations of the two bulk functions (tests compare them with F16C).
void floats_to_half_clamped_scalar(const float* in, std::uint8_t* out, std::size_t n) noexcept;
void half_to_floats_scalar(const std::uint8_t* in, float* out, std::size_t n) noexcept;

}  // namespace hivemind::compression::detail
