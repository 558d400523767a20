#pragma once
// Sweep 2 of the float likelihood pass (likelihood.hpp): the stored counts (x > 0) of one cell,
// gathered into contiguous arrays, through the branch-free element functions of
// detail/nonzero_fast.hpp, vectorised with the same run-time dispatch as sweep 1
// (detail/zero_sweep.hpp, backend/detail/isa.hpp). With glibc's scalar lgammaf / log1pf instead
// it took about 60% of the NB pass although only ~7% of the elements are stored
// (docs/performance.md).
#include "../../backend/detail/isa.hpp"
#include "../../core/view.hpp"
#include "../likelihood_spec.hpp"
#include "nonzero_fast.hpp"

namespace scvae {
namespace detail {

// n stored elements, contiguous: counts x (> 0), heads a_mu, a_theta, a_pi (unused ones may be
// null); outputs lp, d_mu, d_theta, d_pi (unused ones may be null) and rare flags, all [n].
struct NonzeroSweepArgs {
  const float* x;
  const float* a_mu;
  const float* a_theta;
  const float* a_pi;
  Index n;
  const float* log_fact;  // log_factorial_table()
  float* lp;
  float* d_mu;
  float* d_theta;
  float* d_pi;
  unsigned char* rare;
};

// Returns whether any element is rare.
template <Likelihood L, bool Grad>
SCVAE_FAST_INLINE int nonzero_sweep_body(const NonzeroSweepArgs& a) {
  constexpr bool kTheta = has_dispersion(L);
  constexpr bool kPi = has_zero_inflation(L);
  const float* __restrict__ x = a.x;
  const float* __restrict__ a_mu = a.a_mu;
  const float* __restrict__ a_theta = a.a_theta;
  const float* __restrict__ a_pi = a.a_pi;
  const float* __restrict__ table = a.log_fact;
  float* __restrict__ lp = a.lp;
  float* __restrict__ d_mu = a.d_mu;
  float* __restrict__ d_theta = a.d_theta;
  float* __restrict__ d_pi = a.d_pi;
  unsigned char* __restrict__ rare_out = a.rare;
  const Index n = a.n;
  // No reduction clause: with `reduction(| : rare)` GCC 12 left the AVX2 and AVX-512 variants
  // of this loop scalar (target attributes, i.e. default builds; -march builds vectorised either
  // way), which made the NB pass 1.3x slower there. The flags are OR-ed in a byte loop after.
#ifdef _OPENMP
#pragma omp simd
#endif
  for (Index k = 0; k < n; ++k) {
    const ElementFast e = nonzero_fast<L>(x[k], a_mu[k], kTheta ? a_theta[k] : 0.0f, kPi ? a_pi[k] : 0.0f, table);
    lp[k] = e.lp;
    if constexpr (Grad) {
      d_mu[k] = e.d_mu;
      if constexpr (kTheta) d_theta[k] = e.d_theta;
      if constexpr (kPi) d_pi[k] = e.d_pi;
    }
    rare_out[k] = static_cast<unsigned char>(e.rare);
  }
  unsigned char rare = 0;
  for (Index k = 0; k < n; ++k) rare |= rare_out[k];
  return rare;
}

template <Likelihood L, bool Grad>
struct NonzeroSweep {
  static SCVAE_ISA_BODY int run(const NonzeroSweepArgs& a) { return nonzero_sweep_body<L, Grad>(a); }
};

// At the width of isa (a CpuIsa; tests run each variant the CPU supports).
template <Likelihood L, bool Grad>
int nonzero_sweep(const NonzeroSweepArgs& a, int isa = cpu_isa()) {
  return isa_run<NonzeroSweep<L, Grad>>(isa, a);
}

}  // namespace detail
}  // namespace scvae
