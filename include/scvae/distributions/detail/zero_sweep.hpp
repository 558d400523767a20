#pragma once
// Sweep 1 of the float likelihood pass (likelihood.hpp): every gene of one cell as if x = 0,
// branch-free and vectorised, with run-time dispatch on the CPU's vector width.
//
// Why dispatch: a header-only library is compiled with its consumer's flags, which are usually
// the distribution's default (x86-64: SSE2, 4 floats a vector). This sweep is the largest
// non-GEMM cost of a training step (per NB batch of 100 x 27,998: 17 ms with SSE2, 6 ms with
// AVX-512, docs/performance.md), so on x86-64 with GCC or Clang it is also compiled for AVX2+FMA
// and AVX-512 (function target attributes; the always-inline fast-math helpers are compiled at
// the caller's width) and the widest one the CPU supports is chosen once. Elsewhere, under nvcc,
// when the consumer already targets AVX-512, or with SCVAE_NO_DISPATCH, the plain version runs.
//
// The variants differ only in rounding (FMA contraction; every element is independent, so the
// vector width changes no sum), within the accuracy tested in tests/test_fast_math.cpp; a given
// machine always takes the same variant, so results stay reproducible run to run.
#include <cstdlib>
#include <string>

#include "../../core/view.hpp"
#include "../likelihood_spec.hpp"
#include "zero_fast.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(__CUDACC__) && !defined(__AVX512F__) && !defined(SCVAE_NO_DISPATCH)
#define SCVAE_ZERO_SWEEP_DISPATCH 1
#else
#define SCVAE_ZERO_SWEEP_DISPATCH 0
#endif

namespace scvae {
namespace detail {

// One cell's columns: heads (h_mu, h_theta, h_pi: [G] each), outputs (lp [G]; with gradients,
// d_mu / d_theta / d_pi [G] head gradients, dth [G] the per-gene dispersion gradient of this
// cell), w the cell's weight. Pointers of unused parameters may be null.
struct ZeroSweepArgs {
  const float* h_mu;
  const float* h_theta;
  const float* h_pi;
  Index G;
  float w;
  float* lp;
  float* d_mu;
  float* d_theta;
  float* d_pi;
  float* dth;
};

// Returns whether some gene needs the zero-inflated log-space branch (the caller then redoes
// the cell with the reference functions).
template <Likelihood L, bool GeneTheta, bool Grad>
SCVAE_FAST_INLINE int zero_sweep_body(const ZeroSweepArgs& a) {
  constexpr bool kTheta = has_dispersion(L);
  constexpr bool kThetaHead = kTheta && !GeneTheta;
  constexpr bool kPi = has_zero_inflation(L);
  const float* __restrict__ h_mu = a.h_mu;
  const float* __restrict__ h_theta = a.h_theta;
  const float* __restrict__ h_pi = a.h_pi;
  float* __restrict__ lp = a.lp;
  float* __restrict__ d_mu = a.d_mu;
  float* __restrict__ d_theta = a.d_theta;
  float* __restrict__ d_pi = a.d_pi;
  float* __restrict__ dth = a.dth;
  const float w = a.w;
  const Index G = a.G;
  int rare = 0;
#ifdef _OPENMP
#pragma omp simd reduction(| : rare)
#endif
  for (Index g = 0; g < G; ++g) {
    const Zero0 z = zero_fast<L>(h_mu[g], kTheta ? h_theta[g] : 0.0f, kPi ? h_pi[g] : 0.0f);
    lp[g] = z.lp;
    if constexpr (Grad) {
      d_mu[g] = w * z.d_mu;
      if constexpr (kThetaHead) d_theta[g] = w * z.d_theta;
      if constexpr (kPi) d_pi[g] = w * z.d_pi;
      if constexpr (GeneTheta) dth[g] = w * z.d_theta;
    }
    rare |= int(z.rare);
  }
  return rare;
}

template <Likelihood L, bool GeneTheta, bool Grad>
int zero_sweep_default(const ZeroSweepArgs& a) {
  return zero_sweep_body<L, GeneTheta, Grad>(a);
}

#if SCVAE_ZERO_SWEEP_DISPATCH
template <Likelihood L, bool GeneTheta, bool Grad>
__attribute__((target("avx2,fma"))) int zero_sweep_avx2(const ZeroSweepArgs& a) {
  return zero_sweep_body<L, GeneTheta, Grad>(a);
}
template <Likelihood L, bool GeneTheta, bool Grad>
__attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma"))) int zero_sweep_avx512(
    const ZeroSweepArgs& a) {
  return zero_sweep_body<L, GeneTheta, Grad>(a);
}
#endif

// The instruction set the sweep uses on this machine: 0 = the consumer's flags, 1 = AVX2+FMA,
// 2 = AVX-512. SCVAE_ISA=default|avx2 in the environment caps it (comparisons, debugging).
inline int zero_sweep_isa() {
#if SCVAE_ZERO_SWEEP_DISPATCH
  static const int isa = [] {
    __builtin_cpu_init();
    int level = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = 1;
    if (level == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
      level = 2;
    if (const char* cap = std::getenv("SCVAE_ISA")) {
      const std::string c(cap);
      if (c == "default") level = 0;
      else if (c == "avx2" && level > 1) level = 1;
    }
    return level;
  }();
  return isa;
#else
  return 0;
#endif
}

template <Likelihood L, bool GeneTheta, bool Grad>
int zero_sweep(const ZeroSweepArgs& a) {
#if SCVAE_ZERO_SWEEP_DISPATCH
  switch (zero_sweep_isa()) {
    case 2: return zero_sweep_avx512<L, GeneTheta, Grad>(a);
    case 1: return zero_sweep_avx2<L, GeneTheta, Grad>(a);
    default: break;
  }
#endif
  return zero_sweep_default<L, GeneTheta, Grad>(a);
}

}  // namespace detail
}  // namespace scvae
