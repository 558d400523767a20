#pragma once
// Zero inflation of a count likelihood, in log space (scVAE computes it through prob() and hits
// NaN; derivation: docs/likelihoods.md). With zero-inflation logit w, pi = sigmoid(w):
//   x = 0: log p = log p(0), p(0) = pi + (1 - pi) P(0): log1p(-q), q = (1 - pi)(1 - P(0)), when
//          q < 1/2 (p(0) near 1: mu -> 0 or pi -> 1), else log p(0); log_add_exp(log pi,
//          log(1 - pi) + log P(0)) when p(0) underflows. 1 - P(0) = -expm1(log P(0)): no cancelling.
//          d/dw     = pi (1 - pi) (1 - P(0)) / p(0)
//          d/dbase  = r d log P(0) / dbase,  r = (1 - pi) P(0) / p(0)  (responsibility of the base)
//   x > 0: log p = log sigmoid(-w) + log P(x),  d/dw = -pi,  d/dbase unchanged.
// ZIP = zero-inflated Poisson, ZINB = zero-inflated NB (heads a_mu, [a_theta], a_pi = w).
#include "../math/special.hpp"
#include "negative_binomial.hpp"
#include "poisson.hpp"

namespace scvae {
namespace detail {

// pi and 1 - pi from the logit w (one exp); log pi and log(1 - pi) on demand (one log1p).
template <class T>
struct ZeroInflation {
  T w, e, pi, one_m_pi;  // e = exp(-|w|)
  SCVAE_INLINE explicit ZeroInflation(T w_) : w(w_), e(math::exp(-math::fabs(w_))) {
    const T r = T(1) / (T(1) + e);
    const bool pos = w >= T(0);
    pi = pos ? r : e * r;
    one_m_pi = pos ? e * r : r;
  }
  SCVAE_INLINE T log_pi() const { return -((w >= T(0) ? T(0) : -w) + math::log1p(e)); }
  SCVAE_INLINE T log_1m_pi() const { return -((w >= T(0) ? w : T(0)) + math::log1p(e)); }
};

// log p(0) from the base log P(0); with Grad also d_w = d/dw and r = the factor on the base
// gradients. Fast path in probability space (p(0) = pi + (1 - pi) P(0) is a sum of positives;
// log1p(-q) when p(0) > 1/2), log space when p(0) <= 1e-30 (pi and P(0) both tiny). Where
// (1 - pi) P(0) underflows, r has absolute error <= 1e-15.
template <bool Grad, class T>
SCVAE_INLINE T zi_log_prob0_impl(const ZeroInflation<T>& z, T base_lp0, T& d_w, T& r) {
  // One transcendental: expm1 where P(0) > 1/2 (1 - P(0) would cancel), exp elsewhere.
  const bool near_one = base_lp0 > T(-0.6931471805599453);
  const T t = near_one ? math::expm1(base_lp0) : math::exp(base_lp0);
  const T P0 = near_one ? T(1) + t : t;
  const T one_m_p0 = near_one ? -t : T(1) - t;
  const T q = z.one_m_pi * one_m_p0;  // 1 - p(0)
  const T p0 = z.pi + z.one_m_pi * P0;
  T lp;
  if (p0 > T(1e-30)) {
    lp = q < T(0.5) ? math::log1p(-q) : math::log(p0);
    if (Grad) {
      const T inv = T(1) / p0;
      r = z.one_m_pi * P0 * inv;
      d_w = z.pi * q * inv;
    }
  } else {
    const T log_pi = z.log_pi(), log_1m_pi = z.log_1m_pi();
    lp = math::log_add_exp(log_pi, log_1m_pi + base_lp0);
    if (Grad) {
      r = math::exp(log_1m_pi + base_lp0 - lp);
      d_w = math::exp(log_pi + log_1m_pi - lp) * one_m_p0;
    }
  }
  return lp;
}
template <class T>
SCVAE_INLINE T zi_log_prob0(const ZeroInflation<T>& z, T base_lp0) {
  T unused_d_w, unused_r;
  return zi_log_prob0_impl<false>(z, base_lp0, unused_d_w, unused_r);
}
template <class T>
SCVAE_INLINE T zi_log_prob0_grad(const ZeroInflation<T>& z, T base_lp0, T& d_w, T& r) {
  return zi_log_prob0_impl<true>(z, base_lp0, d_w, r);
}

// From a natural pi in [0, 1]: the logit (+-inf at 0 and 1 give pi exactly).
template <class T>
SCVAE_INLINE ZeroInflation<T> zero_inflation_natural(T pi) {
  return ZeroInflation<T>(math::log(pi) - math::log1p(-pi));
}

}  // namespace detail

// ---- Natural parameterisation (reference / tests): mu >= 0, theta > 0, pi in [0, 1]. ----
template <class T>
SCVAE_INLINE T zip_log_pmf(T x, T mu, T pi) {
  const auto z = detail::zero_inflation_natural(pi);
  if (x == T(0)) return detail::zi_log_prob0(z, -mu);
  return z.log_1m_pi() + poisson_log_pmf(x, mu);
}

template <class T>
SCVAE_INLINE T zinb_log_pmf(T x, T mu, T theta, T pi) {
  const auto z = detail::zero_inflation_natural(pi);
  if (x == T(0)) return detail::zi_log_prob0(z, nb_log_pmf(T(0), mu, theta));
  return z.log_1m_pi() + nb_log_pmf(x, mu, theta);
}

// ---- ZIP on pre-activations (a_mu, a_pi) ----
template <class T>
SCVAE_INLINE T zip_log_prob0(T a_mu, T a_pi) {
  return detail::zi_log_prob0(detail::ZeroInflation<T>(a_pi), poisson_log_prob0(a_mu));
}

template <class T>
SCVAE_INLINE T zip_log_prob0_grad(T a_mu, T a_pi, T& d_mu, T& d_pi) {
  T d_base, r;
  const T lp0 = poisson_log_prob0_grad(a_mu, d_base);
  const T lp = detail::zi_log_prob0_grad(detail::ZeroInflation<T>(a_pi), lp0, d_pi, r);
  d_mu = r * d_base;
  return lp;
}

template <class T>
SCVAE_INLINE T zip_log_prob(T x, T a_mu, T a_pi) {
  if (x == T(0)) return zip_log_prob0(a_mu, a_pi);
  return -math::softplus(a_pi) + poisson_log_prob(x, a_mu);
}

template <class T>
SCVAE_INLINE T zip_log_prob_grad(T x, T a_mu, T a_pi, T& d_mu, T& d_pi) {
  if (x == T(0)) return zip_log_prob0_grad(a_mu, a_pi, d_mu, d_pi);
  const detail::ZeroInflation<T> z(a_pi);
  d_pi = -z.pi;
  return z.log_1m_pi() + poisson_log_prob_grad(x, a_mu, d_mu);
}

// ---- ZINB on pre-activations (a_mu, a_theta, a_pi) ----
template <class T>
SCVAE_INLINE T zinb_log_prob0(T a_mu, T a_theta, T a_pi) {
  return detail::zi_log_prob0(detail::ZeroInflation<T>(a_pi), nb_log_prob0(a_mu, a_theta));
}

template <class T>
SCVAE_INLINE T zinb_log_prob0_grad(T a_mu, T a_theta, T a_pi, T& d_mu, T& d_theta, T& d_pi) {
  T d_m, d_t, r;
  const T lp0 = nb_log_prob0_grad(a_mu, a_theta, d_m, d_t);
  const T lp = detail::zi_log_prob0_grad(detail::ZeroInflation<T>(a_pi), lp0, d_pi, r);
  d_mu = r * d_m;
  d_theta = r * d_t;
  return lp;
}

template <class T>
SCVAE_INLINE T zinb_log_prob(T x, T a_mu, T a_theta, T a_pi) {
  if (x == T(0)) return zinb_log_prob0(a_mu, a_theta, a_pi);
  return -math::softplus(a_pi) + nb_log_prob(x, a_mu, a_theta);
}

template <class T>
SCVAE_INLINE T zinb_log_prob_grad(T x, T a_mu, T a_theta, T a_pi, T& d_mu, T& d_theta, T& d_pi) {
  if (x == T(0)) return zinb_log_prob0_grad(a_mu, a_theta, a_pi, d_mu, d_theta, d_pi);
  const detail::ZeroInflation<T> z(a_pi);
  d_pi = -z.pi;
  return z.log_1m_pi() + nb_log_prob_grad(x, a_mu, a_theta, d_mu, d_theta);
}

}  // namespace scvae
