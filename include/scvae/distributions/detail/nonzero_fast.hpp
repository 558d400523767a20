#pragma once
// The x > 0 log-pmf and its gradients in float, branch-free, from math/fast_math.hpp: the body
// of the vectorised sweep over the stored counts of the fused likelihood pass (likelihood.hpp).
// Same formulas as the reference element functions (poisson.hpp, negative_binomial.hpp,
// zero_inflated.hpp) except for how the gamma-function terms are evaluated:
//   log x!             a table for integer x < 256 (rounded from double lgamma), else Stirling
//                      on x + 1 >= 11;
//   lgamma(x + theta) - lgamma(theta) and theta (psi(x + theta) - psi(theta)) - x
//                      theta shifted to t = theta + n >= 10 by a fixed, masked 10-step
//                      recurrence (n = 0 for theta >= 10), then math::lgamma_diff's and
//                      theta_digamma_diff_m_x's asymptotic forms at t. No separate small-count
//                      path: every lane runs the same instructions.
// Elements these do not cover to the tested accuracy (non-integer x < 10, x > 1e8) set `rare`,
// and the caller recomputes them with the reference functions. Accuracy against double:
// tests/test_fast_math.cpp.
#include <array>
#include <cmath>

#include "../../math/fast_math.hpp"
#include "../likelihood_spec.hpp"
#include "clip.hpp"
#include "zero_fast.hpp"

namespace scvae {
namespace detail {

constexpr int kLogFactorialTable = 256;

// log(k!) for k < kLogFactorialTable, each the float nearest the double lgamma(k + 1).
inline const float* log_factorial_table() {
  static const std::array<float, kLogFactorialTable> table = [] {
    std::array<float, kLogFactorialTable> t{};
    for (int k = 0; k < kLogFactorialTable; ++k) t[static_cast<std::size_t>(k)] = static_cast<float>(std::lgamma(k + 1.0));
    return t;
  }();
  return table.data();
}

// Float Stirling remainder and digamma tail at z >= 10 (math::detail::stirling_tail and
// psi_tail, float length).
SCVAE_FAST_INLINE float stirling_tail_fast(float z) {
  const float r = 1.0f / z, r2 = r * r;
  return r * (1.0f / 12 - r2 * (1.0f / 360 - r2 * (1.0f / 1260)));
}
SCVAE_FAST_INLINE float psi_tail_fast(float z) {
  const float r2 = 1.0f / (z * z), r4 = r2 * r2;
  return r4 * (1.0f / 120 - r2 * (1.0f / 252));
}

// log x! for x > 0; rare = non-integer x < 10 or x > 1e8.
SCVAE_FAST_INLINE float log_factorial_fast(float x, const float* table, bool& rare) {
  using math::fast::select;
  const float last = float(kLogFactorialTable - 1);
  const int k = static_cast<int>(select(x < last, x, last));  // x >= 0: truncation is floor
  const bool in_table = float(k) == x;
  const float y = x + 1.0f;
  const float stirling = (y - 0.5f) * math::fast::fast_log(y) - y + 0.91893853320467274f + stirling_tail_fast(y);
  rare = (!in_table & (x < 10.0f)) | !(x <= 1e8f);
  return select(in_table, table[k], stirling);
}

// lgd = lgamma(x + theta) - lgamma(theta) and tdd = theta (psi(x + theta) - psi(theta)) - x,
// x > 0, theta in [exp(-15), exp(15)] (the clamp), x <= 1e8.
//   Shift: for k < n (theta + k < 10), lgamma(theta + k) = lgamma(theta + k + 1) - log(theta + k)
//   and psi likewise, so with t = theta + n,
//     lgd = lgd(x, t) - sum_k log((theta + k + x) / (theta + k))   (logs of 4 chunked products:
//           the first factor <= 4e14, the others <= (1 + x)^3, all finite),
//     tdd = (theta / t) tdd(x, t) - x n / t + theta sum_k x / ((theta + k)(theta + k + x)).
//   At t >= 10 (z = x + t, math::lgamma_diff and theta_digamma_diff_m_x):
//     lgd(x, t) = (z - 1/2) log1p(x / t) + x (log t - 1) + S(z) - S(t)
//     tdd(x, t) = t log1pmx(x / t) + x / (2z) + (x / z)(t + z) / (12 t z) + t (psi_tail(z) - psi_tail(t)).
SCVAE_FAST_INLINE void gamma_terms_fast(float x, float theta, float& lgd, float& tdd) {
  using math::fast::select;
  float prod[4] = {1.0f, 1.0f, 1.0f, 1.0f};
  float dsum = 0.0f, n = 0.0f;
  for (int k = 0; k < 10; ++k) {
    const float tk = theta + float(k);
    const bool on = tk < 10.0f;
    const float num = tk + x;
    prod[(k + 2) / 3] *= select(on, num / tk, 1.0f);  // chunks {0}, {1,2,3}, {4,5,6}, {7,8,9}
    dsum += select(on, x / (tk * num), 0.0f);
    n += select(on, 1.0f, 0.0f);
  }
  const float t = theta + n;
  const float z = x + t;
  const float y = x / t;
  const float shift = math::fast::fast_log(prod[0]) + math::fast::fast_log(prod[1]) +
                      math::fast::fast_log(prod[2]) + math::fast::fast_log(prod[3]);
  lgd = (z - 0.5f) * math::fast::fast_log1p(y) + x * (math::fast::fast_log(t) - 1.0f) +
        (stirling_tail_fast(z) - stirling_tail_fast(t)) - shift;
  const float xz = x / z;
  const float tdd_t = t * math::fast::fast_log1pmx(y) + 0.5f * xz + xz * ((t + z) / (12.0f * t * z)) +
                      t * (psi_tail_fast(z) - psi_tail_fast(t));
  tdd = (theta / t) * tdd_t - x * n / t + theta * dsum;
}

// log(1 - pi) = -softplus(w) and pi = sigmoid(w) of a zero-inflation logit w.
SCVAE_FAST_INLINE void zi_nonzero_fast(float w, float& log_1m_pi, float& pi) {
  using math::fast::select;
  const float e = math::fast::fast_exp(-math::fast::as_float(math::fast::as_int(w) & 0x7fffffff));
  const float r = 1.0f / (1.0f + e);
  const bool pos = w >= 0.0f;
  pi = select(pos, r, e * r);
  log_1m_pi = -(select(pos, w, 0.0f) + math::fast::fast_log1p(e));
}

// One stored count x > 0: log p and d/d(a_mu, a_theta, a_pi), as element_log_prob_grad<L, false>.
template <Likelihood L>
SCVAE_FAST_INLINE ElementFast nonzero_fast(float x, float a_mu, float a_theta, float a_pi, const float* log_fact_table) {
  using math::fast::select;
  ElementFast e{0.0f, 0.0f, 0.0f, 0.0f, false};
  const float lf = log_factorial_fast(x, log_fact_table, e.rare);
  if constexpr (L == Likelihood::poisson || L == Likelihood::zip) {
    const float lo = float(-kLogClip), hi = float(kLogClip);
    const bool in = !((a_mu < lo) | (a_mu > hi));
    const float a = select(a_mu < lo, lo, select(a_mu > hi, hi, a_mu));
    const float mu = math::fast::fast_exp(a);
    e.lp = x * a - mu - lf;
    e.d_mu = select(in, x - mu, 0.0f);
  } else {
    const NbFast n = nb_fast(a_mu, a_theta);
    float lgd, tdd;
    gamma_terms_fast(x, n.theta, lgd, tdd);
    e.lp = -n.theta * n.sp_pos - x * n.sp_neg + lgd - lf;
    const float da = x * n.sig_neg - n.theta * n.sig_pos;
    const float dc = tdd + x * n.sig_pos - n.theta * n.f;
    e.d_mu = select(n.in_a, da, 0.0f);
    e.d_theta = select(n.in_c, dc, 0.0f);
  }
  if constexpr (has_zero_inflation(L)) {
    float log_1m_pi, pi;
    zi_nonzero_fast(a_pi, log_1m_pi, pi);
    e.lp += log_1m_pi;
    e.d_pi = -pi;
  }
  return e;
}

}  // namespace detail
}  // namespace scvae
