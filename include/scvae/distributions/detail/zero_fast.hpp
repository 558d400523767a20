#pragma once
// The x = 0 log-pmf and its gradients in float, branch-free, from math/fast_math.hpp: the body
// of the vectorised zero pass of the fused likelihood pass (likelihood.hpp). Same formulas as the
// reference element functions (poisson.hpp, negative_binomial.hpp, zero_inflated.hpp), x = 0:
//   Poisson  lp = -mu                                   d/da = -mu
//   NB       lp = -theta softplus(u), u = a - c         d/da = -theta sigmoid(u)
//                                                       d/dc = -theta (softplus(u) - sigmoid(u))
//   ZI       lp = log(pi + (1 - pi) P(0))  (probability space; log1p(-q) when q < 1/2)
//            d/dw = pi q / p(0), base gradients times r = (1 - pi) P(0) / p(0).
// The zero-inflated log-space branch (p(0) <= 1e-30: pi and P(0) both tiny) is not evaluated
// here: `rare` is set and the caller recomputes that cell with the reference functions.
#include "../../math/fast_math.hpp"
#include "../likelihood_spec.hpp"
#include "clip.hpp"

namespace scvae {
namespace detail {

// One element's log p and head gradients from a fast (vectorisable) element function; rare =
// outside what it covers: the caller recomputes it with the reference functions.
struct ElementFast {
  float lp, d_mu, d_theta, d_pi;
  bool rare;
};

// The NB pieces shared by the x = 0 and x > 0 fast elements (detail/nonzero_fast.hpp), from
// the pre-activations: clamped a, c; theta = exp(c); u = a - c; softplus(+-u), sigmoid(+-u) from
// one exp(-|u|); f = softplus(u) - sigmoid(u) (for u <= 0 as -log1pmx(-sigmoid(u)), as
// math::softplus_m_sigmoid); in_a / in_c = whether the clamp passes the gradient.
struct NbFast {
  float theta, sp_pos, sp_neg, sig_pos, sig_neg, f;
  bool in_a, in_c;
};
SCVAE_FAST_INLINE NbFast nb_fast(float a_mu, float a_theta) {
  const float lo = float(-kLogClip), hi = float(kLogClip);
  using math::fast::select;
  NbFast n;
  n.in_a = !((a_mu < lo) | (a_mu > hi));
  n.in_c = !((a_theta < lo) | (a_theta > hi));
  const float a = select(a_mu < lo, lo, select(a_mu > hi, hi, a_mu));
  const float c = select(a_theta < lo, lo, select(a_theta > hi, hi, a_theta));
  n.theta = math::fast::fast_exp(c);
  const float u = a - c;
  const float e = math::fast::fast_exp(-math::fast::as_float(math::fast::as_int(u) & 0x7fffffff));
  const float l = math::fast::fast_log1p(e);
  const float r = 1.0f / (1.0f + e);
  const bool pos = u >= 0.0f;
  const float er = e * r;
  n.sig_pos = select(pos, r, er);
  n.sig_neg = select(pos, er, r);
  n.sp_pos = select(pos, u, 0.0f) + l;
  n.sp_neg = select(pos, 0.0f, -u) + l;
  // -sigmoid(u) is in [-1/2, 0] where u <= 0: the series alone.
  n.f = select(u <= 0.0f, -math::fast::fast_log1pmx_series(-n.sig_pos), n.sp_pos - n.sig_pos);
  return n;
}

// NB at x = 0 from the pre-activations: lp, d/da_mu, d/da_theta.
SCVAE_FAST_INLINE void nb_zero_fast(float a_mu, float a_theta, float& lp, float& d_a, float& d_c) {
  using math::fast::select;
  const NbFast n = nb_fast(a_mu, a_theta);
  lp = -n.theta * n.sp_pos;
  const float ts = -n.theta * n.sig_pos, tf = -n.theta * n.f;
  d_a = select(n.in_a, ts, 0.0f);
  d_c = select(n.in_c, tf, 0.0f);
}

// Zero inflation at x = 0 on top of the base log P(0) (lp0): returns log p(0); d_w = d/dw,
// r = factor on the base gradients; rare = the log-space branch is needed.
SCVAE_FAST_INLINE float zi_zero_fast(float w, float lp0, float& d_w, float& r, bool& rare) {
  using math::fast::select;
  const float ew = math::fast::fast_exp(-math::fast::as_float(math::fast::as_int(w) & 0x7fffffff));
  const float rw = 1.0f / (1.0f + ew);
  const bool posw = w >= 0.0f;
  const float erw = ew * rw;
  const float pi = select(posw, rw, erw), omp = select(posw, erw, rw);
  const bool near_one = lp0 > -0.6931471805599453f;
  const float tm1 = math::fast::fast_expm1s(lp0), te = math::fast::fast_exp(lp0);
  const float t = select(near_one, tm1, te);
  const float P0 = select(near_one, 1.0f + t, t);
  const float omp0 = select(near_one, -t, 1.0f - t);
  const float q = omp * omp0;  // 1 - p(0)
  const float p0 = pi + omp * P0;
  const bool small_q = q < 0.5f;
  // log1p(-q) (Goldberg) and log(p0) share one log.
  const float u = 1.0f - q;
  const float du = u - 1.0f;
  const float L = math::fast::fast_log(select(small_q, u, p0));
  const float ratio = -q / du;
  const float lq = L * ratio;
  const float lp = select(small_q, select(du == 0.0f, -q, lq), L);
  const float inv = 1.0f / p0;
  r = omp * P0 * inv;
  d_w = pi * q * inv;
  rare = !(p0 > 1e-30f);
  return lp;
}

template <Likelihood L>
SCVAE_FAST_INLINE ElementFast zero_fast(float a_mu, float a_theta, float a_pi) {
  ElementFast z{0.0f, 0.0f, 0.0f, 0.0f, false};
  if constexpr (L == Likelihood::poisson || L == Likelihood::zip) {
    const float lo = float(-kLogClip), hi = float(kLogClip);
    using math::fast::select;
    const bool in = !((a_mu < lo) | (a_mu > hi));
    const float mu = math::fast::fast_exp(select(a_mu < lo, lo, select(a_mu > hi, hi, a_mu)));
    const float d_base = select(in, -mu, 0.0f);
    if constexpr (L == Likelihood::poisson) {
      z.lp = -mu;
      z.d_mu = d_base;
    } else {
      float r;
      z.lp = zi_zero_fast(a_pi, -mu, z.d_pi, r, z.rare);
      z.d_mu = r * d_base;
    }
  } else {
    float lp0, d_a, d_c;
    nb_zero_fast(a_mu, a_theta, lp0, d_a, d_c);
    if constexpr (L == Likelihood::nb) {
      z.lp = lp0;
      z.d_mu = d_a;
      z.d_theta = d_c;
    } else {
      float r;
      z.lp = zi_zero_fast(a_pi, lp0, z.d_pi, r, z.rare);
      z.d_mu = r * d_a;
      z.d_theta = r * d_c;
    }
  }
  return z;
}

}  // namespace detail
}  // namespace scvae
