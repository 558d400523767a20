#pragma once
// Branch-free float exp / expm1 / log / log1p / softplus for vectorised loops (the zero-count
// pass of the likelihood heads). No libm calls and no data-dependent branches: inside a
// `#pragma omp simd` loop the compiler turns them into SIMD code for whatever ISA the consumer
// compiles for (SSE2 by default, AVX2 / AVX-512 with -march flags); nothing here needs intrinsics.
// SCVAE_INLINE, so a CUDA kernel may use them too.
//
// Accuracy (tests/test_fast_math.cpp, float against double references, relative error):
//   fast_exp      <= 2e-7 for results in [FLT_MIN, FLT_MAX] (x in [-87.3, 88.7]); 0 below, +inf above
//   fast_expm1s   <= 3e-7 on |x| <= ln 2 (the only range it is used on)
//   fast_log      <= 2e-7 for x in [FLT_MIN, FLT_MAX]; -inf at 0, NaN below 0
//   fast_log1p    <= 4e-7 for x > -1 (Goldberg's log(u) * x / (u - 1), u = 1 + x)
//   fast_softplus <= 4e-7 for all x with softplus(x) >= FLT_MIN
//   fast_log1pmx  <= 1e-6 for y > -1 (the series on [-1/2, 1]; outside, fast_log1p(y) - y loses
//                 at most 2 bits, as math::log1pmx)
// Denormal inputs to fast_log are treated as 0; NaN inputs give NaN.
#include <cstdint>
#include <cstring>

#include "../core/config.hpp"

// Forced inlining: an out-of-line call inside a `#pragma omp simd` loop would be executed lane
// by lane, losing the vectorisation.
#if defined(__CUDACC__) || !(defined(__GNUC__) || defined(__clang__))
#define SCVAE_FAST_INLINE SCVAE_INLINE
#else
#define SCVAE_FAST_INLINE inline __attribute__((always_inline))
#endif

namespace scvae {
namespace math {
namespace fast {

SCVAE_FAST_INLINE float as_float(std::int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}
SCVAE_FAST_INLINE std::int32_t as_int(float f) {
  std::int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}

// c ? a : b by bit masks. Written as a conditional, a select of floats may be compiled into a
// branch (GCC sinks a possibly trapping float operation into the taken arm under the default
// -ftrapping-math), which stops the vectorisation; bit operations never branch.
SCVAE_FAST_INLINE float select(bool c, float a, float b) {
  const std::int32_t m = -static_cast<std::int32_t>(c);
  return as_float((as_int(a) & m) | (as_int(b) & ~m));
}
SCVAE_FAST_INLINE float inf() { return as_float(0x7f800000); }

// exp(x) = 2^n exp(r), n = round(x / ln 2), r = x - n ln 2 (Cody-Waite, two parts), |r| <= ln2/2;
// exp(r) by the Cephes expf polynomial (degree 7).
SCVAE_FAST_INLINE float fast_exp(float x) {
  const float hi = 88.72283f, lo = -87.33654f;  // exp(lo) = FLT_MIN
  const float xc = select(x > hi, hi, select(x < lo, lo, x));
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float t = xc * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = (p * r * r + r) + 1.0f;
  // 2^n in two halves so that n = 128 (x near hi) does not overflow the exponent field early.
  const std::int32_t ni = static_cast<std::int32_t>(n);
  const std::int32_t n1 = ni >> 1, n2 = ni - n1;
  const float res = er * as_float((n1 + 127) << 23) * as_float((n2 + 127) << 23);
  return select(x > hi, inf(), select(x < lo, 0.0f, select(x != x, x, res)));
}

// expm1(x) for |x| <= ln 2: Taylor series through x^10 (truncation <= 3e-9 relative).
SCVAE_FAST_INLINE float fast_expm1s(float x) {
  float p = 1.0f / 39916800.0f;
  p = p * x + 1.0f / 3628800.0f;
  p = p * x + 1.0f / 362880.0f;
  p = p * x + 1.0f / 40320.0f;
  p = p * x + 1.0f / 5040.0f;
  p = p * x + 1.0f / 720.0f;
  p = p * x + 1.0f / 120.0f;
  p = p * x + 1.0f / 24.0f;
  p = p * x + 1.0f / 6.0f;
  p = p * x + 0.5f;
  return x + x * x * p;
}

// log(x), x = 2^e m with m in [sqrt(1/2), sqrt(2)): log m by the Cephes logf polynomial.
SCVAE_FAST_INLINE float fast_log(float x) {
  const std::int32_t xi = as_int(x);
  // mantissa in [1, 2), then folded to [sqrt(1/2), sqrt(2))
  std::int32_t e = ((xi >> 23) & 0xff) - 127;
  float m = as_float((xi & 0x007fffff) | 0x3f800000);
  const bool big = m > 1.41421356f;
  const float half_m = m * 0.5f;
  m = select(big, half_m, m);
  e += static_cast<std::int32_t>(big);
  const float f = m - 1.0f;
  const float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f + -1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f + -1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f + -1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f + -2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  const float ef = static_cast<float>(e);
  float y = f * z * p;
  y += ef * -2.12194440e-4f;
  y += -0.5f * z;
  const float res = (f + y) + ef * 0.693359375f;
  // Special inputs from the bits: inf / NaN (exponent 255) pass through; zero and denormals give
  // -inf; negative non-zero inputs (and -inf, negative NaN) give NaN.
  const std::int32_t ex = (xi >> 23) & 0xff;
  float out = select(ex == 0xff, x, res);
  out = select(ex == 0, -inf(), out);
  return select((xi < 0) & ((xi & 0x7fffffff) != 0), as_float(0x7fc00000), out);
}

// log1p(x) = log(u) * x / (u - 1), u = 1 + x rounded (exact correction of u's rounding).
SCVAE_FAST_INLINE float fast_log1p(float x) {
  const float u = 1.0f + x;
  const float d = u - 1.0f;
  const float l = fast_log(u);
  const float q = x / d;
  const float lq = l * q;
  return select(d == 0.0f, x, select(u == inf(), inf(), lq));
}

// softplus(x) = max(x, 0) + log1p(exp(-|x|)).
SCVAE_FAST_INLINE float fast_softplus(float x) {
  const float ax = as_float(as_int(x) & 0x7fffffff);
  return select(x > 0.0f, x, 0.0f) + fast_log1p(fast_exp(-ax));
}

// log1p(y) - y on [-1/2, 1] (math::log1pmx's series in float): with r = y / (2 + y), |r| <= 1/3,
// log1p(y) - y = -y r + 2 (r^3/3 + r^5/5 + ...), 8 terms.
SCVAE_FAST_INLINE float fast_log1pmx_series(float y) {
  const float r = y / (2.0f + y);
  const float r2 = r * r;
  float p = 1.0f / 17;
  p = p * r2 + 1.0f / 15;
  p = p * r2 + 1.0f / 13;
  p = p * r2 + 1.0f / 11;
  p = p * r2 + 1.0f / 9;
  p = p * r2 + 1.0f / 7;
  p = p * r2 + 1.0f / 5;
  p = p * r2 + 1.0f / 3;
  return -y * r + 2.0f * r * r2 * p;
}
// log1p(y) - y for y > -1: the series on [-1/2, 1], the direct difference outside it.
SCVAE_FAST_INLINE float fast_log1pmx(float y) {
  return select((y >= -0.5f) & (y <= 1.0f), fast_log1pmx_series(y), fast_log1p(y) - y);
}

}  // namespace fast
}  // namespace math
}  // namespace scvae
