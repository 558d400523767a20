#pragma once
// Adam's update over a range of the parameter arena, at the CPU's vector width.
//
// The sweep streams p, g, m, v (28 bytes a parameter, 21M parameters for the reference NB VAE)
// and takes a square root and a division per element. At a consumer's default x86-64 flags
// (SSE2) those two instructions, 4 floats at a time, made it compute-bound: 6.4 ms instead of
// 4.2 ms a step for the Poisson VAE's 14M parameters (docs/performance.md). Eigen picks its
// packets from compile-time macros, so a target attribute cannot widen it; the float variants
// here are written with AVX2 / AVX-512 intrinsics instead, in the Eigen path's operation order
// (the variants differ only in FMA contraction). Doubles, other CPUs and builds without
// dispatch (backend/detail/isa.hpp) take the Eigen path.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "../../core/view.hpp"
#include "../../math/special.hpp"
#include "isa.hpp"

#if SCVAE_ISA_DISPATCH
#include <immintrin.h>
#endif

namespace scvae {
namespace detail {

// One step's constants. The gradient each parameter sees is
//   ge = clip(grad_scale * g, [-clip, clip]) (clip > 0; 0 = off) + l2 * p
// (the clip is math::clip_symmetric's: a NaN gradient stays NaN on every path, as on the GPU),
// then m = beta1 m + (1 - beta1) ge, v = beta2 v + (1 - beta2) ge^2 and
//   p -= step_size m / (sqrt(v) inv_sqrt_bc2 + eps) + wd_dec p.
template <class T>
struct AdamCoeffs {
  T step_size, inv_sqrt_bc2, eps, beta1, beta2, grad_scale, clip, l2, wd_dec;
};

// Blocks of 2048 elements through Eigen array expressions (vectorised sqrt and division at the
// consumer's width) while they sit in L1/L2: the statements per block cost one trip to memory.
template <class T>
void adam_range_eigen(T* p, const T* g, T* m, T* v, Index n, const AdamCoeffs<T>& c) {
  using Arr = Eigen::Array<T, Eigen::Dynamic, 1>;
  constexpr Index kBlock = 2048;
  alignas(64) T g_eff[kBlock];  // this block's effective gradient (stays in L1)
  for (Index b0 = 0; b0 < n; b0 += kBlock) {
    const Index nb = std::min(kBlock, n - b0);
    Eigen::Map<Arr> P(p + b0, nb), M(m + b0, nb), V(v + b0, nb), Ge(g_eff, nb);
    Eigen::Map<const Arr> Gr(g + b0, nb);
    if (c.clip > T(0)) {  // not Eigen's max/min: what they make of a NaN depends on the version
      const T* gb = g + b0;
#ifdef _OPENMP
#pragma omp simd
#endif
      for (Index i = 0; i < nb; ++i) g_eff[i] = math::clip_symmetric(c.grad_scale * gb[i], c.clip);
    } else {
      Ge = c.grad_scale * Gr;
    }
    if (c.l2 != T(0)) Ge += c.l2 * P;
    M = c.beta1 * M + (T(1) - c.beta1) * Ge;
    V = c.beta2 * V + (T(1) - c.beta2) * Ge.square();
    if (c.wd_dec != T(0)) P -= c.step_size * M / (V.sqrt() * c.inv_sqrt_bc2 + c.eps) + c.wd_dec * P;
    else P -= c.step_size * M / (V.sqrt() * c.inv_sqrt_bc2 + c.eps);
  }
}

#if SCVAE_ISA_DISPATCH
// The vector loop, once per width: W is the intrinsic prefix (_mm512, _mm256), N its lanes. A
// macro rather than a template over operation structs: each wrapper must hold every intrinsic
// in its own body (its target attribute), and vector-typed helpers called across the
// attribute boundary are an ABI error for clang. The last < N elements take the Eigen path.
#define SCVAE_ADAM_SIMD_LOOP(W, N)                                                                       \
  const auto scale = W##_set1_ps(c.grad_scale), lo = W##_set1_ps(-c.clip), hi = W##_set1_ps(c.clip);    \
  const auto l2 = W##_set1_ps(c.l2), wd = W##_set1_ps(c.wd_dec);                                        \
  const auto b1 = W##_set1_ps(c.beta1), omb1 = W##_set1_ps(1.0f - c.beta1);                             \
  const auto b2 = W##_set1_ps(c.beta2), omb2 = W##_set1_ps(1.0f - c.beta2);                             \
  const auto step = W##_set1_ps(c.step_size), ibc2 = W##_set1_ps(c.inv_sqrt_bc2), eps = W##_set1_ps(c.eps); \
  const bool clip = c.clip > 0.0f, use_l2 = c.l2 != 0.0f, decoupled = c.wd_dec != 0.0f;                \
  Index i = 0;                                                                                           \
  for (; i + (N) <= n; i += (N)) {                                                                       \
    const auto pp = W##_loadu_ps(p + i);                                                                 \
    auto ge = W##_mul_ps(scale, W##_loadu_ps(g + i));                                                    \
    if (clip) ge = W##_min_ps(hi, W##_max_ps(lo, ge)); /* NaN: 2nd operand, so ge's NaN stays NaN */  \
    if (use_l2) ge = W##_add_ps(ge, W##_mul_ps(l2, pp));                                                 \
    const auto mm = W##_add_ps(W##_mul_ps(b1, W##_loadu_ps(m + i)), W##_mul_ps(omb1, ge));               \
    const auto vv = W##_add_ps(W##_mul_ps(b2, W##_loadu_ps(v + i)), W##_mul_ps(omb2, W##_mul_ps(ge, ge))); \
    W##_storeu_ps(m + i, mm);                                                                            \
    W##_storeu_ps(v + i, vv);                                                                            \
    const auto upd = W##_div_ps(W##_mul_ps(step, mm), W##_add_ps(W##_mul_ps(W##_sqrt_ps(vv), ibc2), eps)); \
    W##_storeu_ps(p + i, decoupled ? W##_sub_ps(pp, W##_add_ps(upd, W##_mul_ps(wd, pp))) : W##_sub_ps(pp, upd)); \
  }                                                                                                      \
  if (i < n) adam_range_eigen<float>(p + i, g + i, m + i, v + i, n - i, c);

// GCC 12 warns "__Y may be used uninitialized" inside its own _mm512_max_ps / _min_ps
// (_mm512_undefined_ps; GCC bug 105593, fixed in 13): a false positive, silenced for this function.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
SCVAE_TARGET_AVX512 inline void adam_range_avx512(float* p, const float* g, float* m, float* v, Index n,
                                                  const AdamCoeffs<float>& c) {
  SCVAE_ADAM_SIMD_LOOP(_mm512, 16)
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
SCVAE_TARGET_AVX2 inline void adam_range_avx2(float* p, const float* g, float* m, float* v, Index n,
                                              const AdamCoeffs<float>& c) {
  SCVAE_ADAM_SIMD_LOOP(_mm256, 8)
}
#undef SCVAE_ADAM_SIMD_LOOP
#endif

// The gradient norm's pass before each step: sum of x[i]^2 in double over [n] elements, at the
// width of isa through isa.hpp (at SSE2, 2 floats converted a time, it took 1.7 ms for the NB
// VAE's 21M parameters, 1.1 to 1.4 ms at AVX-512).
template <class T>
struct SumSquares {
  static SCVAE_ISA_BODY double run(const T* x, Index n) {
    double s = 0;
#ifdef _OPENMP
#pragma omp simd reduction(+ : s)
#endif
    for (Index i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
    return s;
  }
};
template <class T>
double sum_squares_range(int isa, const T* x, Index n) {
  return isa_run<SumSquares<T>>(isa, x, n);
}

// p, g, m, v [n]: one range of the sweep at the width of isa (a CpuIsa; tests pass each).
template <class T>
void adam_range(int isa, T* p, const T* g, T* m, T* v, Index n, const AdamCoeffs<T>& c) {
#if SCVAE_ISA_DISPATCH
  if constexpr (std::is_same_v<T, float>) {
    if (isa == isa_avx512) return adam_range_avx512(p, g, m, v, n, c);
    if (isa == isa_avx2) return adam_range_avx2(p, g, m, v, n, c);
  }
#endif
  (void)isa;
  adam_range_eigen<T>(p, g, m, v, n, c);
}

}  // namespace detail
}  // namespace scvae
