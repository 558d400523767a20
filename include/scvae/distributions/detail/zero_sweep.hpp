#pragma once
// Sweep 1 of the float likelihood pass (likelihood.hpp): every gene of one cell as if x = 0,
// branch-free and vectorised, with run-time dispatch on the CPU's vector width
// (backend/detail/isa.hpp). It is the largest non-GEMM cost of a training step: per NB batch of
// 100 x 27,998, 17 ms with SSE2 against 6 ms with AVX-512 (docs/performance.md). The variants
// differ only in rounding, within the accuracy tested in tests/test_fast_math.cpp.
#include "../../backend/detail/isa.hpp"
#include "../../core/view.hpp"
#include "../likelihood_spec.hpp"
#include "zero_fast.hpp"

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
    const ElementFast z = zero_fast<L>(h_mu[g], kTheta ? h_theta[g] : 0.0f, kPi ? h_pi[g] : 0.0f);
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
struct ZeroSweep {
  static SCVAE_ISA_BODY int run(const ZeroSweepArgs& a) { return zero_sweep_body<L, GeneTheta, Grad>(a); }
};

// At the width of isa (a CpuIsa; tests run each variant the CPU supports).
template <Likelihood L, bool GeneTheta, bool Grad>
int zero_sweep(const ZeroSweepArgs& a, int isa = cpu_isa()) {
  return isa_run<ZeroSweep<L, GeneTheta, Grad>>(isa, a);
}

}  // namespace detail
}  // namespace scvae
