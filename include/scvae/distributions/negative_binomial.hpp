#pragma once
// Negative binomial (gamma-Poisson) count likelihood with mean mu and inverse dispersion theta,
// per element, host and device (derivation: docs/likelihoods.md).
//   a = clamp(a_mu), c = clamp(a_theta), mu = exp(a), theta = exp(c), u = a - c
//   log NB(x) = -theta softplus(u) - x softplus(-u) + lgamma_diff(x, theta) - log x!
//   d/da = x sigmoid(-u) - theta sigmoid(u)
//   d/dc = theta_digamma_diff_m_x(x, theta) + x sigmoid(u) - theta (softplus(u) - sigmoid(u))
// This is scvi-tools' log_nb_positive without its eps; variance mu + mu^2 / theta.
// x = 0 fast path: log NB(0) = -theta softplus(u) (the lgamma terms vanish).
#include "../math/special.hpp"
#include "detail/clip.hpp"

namespace scvae {
namespace detail {

// Shared pieces of softplus(+-u) and sigmoid(+-u) from a single exp(-|u|).
template <class T>
struct SoftplusPair {
  T sp_pos, sp_neg;    // softplus(u), softplus(-u)
  T sig_pos, sig_neg;  // sigmoid(u), sigmoid(-u)
  SCVAE_INLINE explicit SoftplusPair(T u) {
    const T e = math::exp(-math::fabs(u));
    const T l = math::log1p(e);
    const T r = T(1) / (T(1) + e);
    const bool pos = u >= T(0);
    sp_pos = (pos ? u : T(0)) + l;
    sp_neg = (pos ? T(0) : -u) + l;
    sig_pos = pos ? r : e * r;
    sig_neg = pos ? e * r : r;
  }
};

// log NB(x) on log-space parameters a = log mu, c = log theta (theta passed to avoid a second exp).
template <class T>
SCVAE_INLINE T nb_log_pmf_log(T x, T a, T c, T theta) {
  const T u = a - c;
  if (x == T(0)) return -theta * math::softplus(u);
  return -theta * math::softplus(u) - x * math::softplus(-u) + math::lgamma_diff(x, theta) -
         math::log_factorial(x);
}

// Same, with d/da and d/dc.
template <class T>
SCVAE_INLINE T nb_log_pmf_log_grad(T x, T a, T c, T theta, T& d_a, T& d_c) {
  const T u = a - c;
  const SoftplusPair<T> s(u);
  const T f = u <= T(0) ? -math::log1pmx(-s.sig_pos) : s.sp_pos - s.sig_pos;  // softplus_m_sigmoid
  if (x == T(0)) {
    d_a = -theta * s.sig_pos;
    d_c = -theta * f;
    return -theta * s.sp_pos;
  }
  d_a = x * s.sig_neg - theta * s.sig_pos;
  d_c = math::theta_digamma_diff_m_x(x, theta) + x * s.sig_pos - theta * f;
  return -theta * s.sp_pos - x * s.sp_neg + math::lgamma_diff(x, theta) - math::log_factorial(x);
}

}  // namespace detail

// Natural parameterisation (reference / tests): mu >= 0, theta > 0, no clamp.
template <class T>
SCVAE_INLINE T nb_log_pmf(T x, T mu, T theta) {
  return detail::nb_log_pmf_log(x, math::log(mu), math::log(theta), theta);
}

template <class T>
SCVAE_INLINE T nb_log_prob(T x, T a_mu, T a_theta) {
  const T c = detail::clip_log(a_theta);
  return detail::nb_log_pmf_log(x, detail::clip_log(a_mu), c, math::exp(c));
}

// Returns log NB(x) and sets d_mu, d_theta = d log NB / d a_mu, d a_theta.
template <class T>
SCVAE_INLINE T nb_log_prob_grad(T x, T a_mu, T a_theta, T& d_mu, T& d_theta) {
  bool in_a, in_c;
  const T a = detail::clip_log(a_mu, in_a);
  const T c = detail::clip_log(a_theta, in_c);
  T d_a, d_c;
  const T lp = detail::nb_log_pmf_log_grad(x, a, c, math::exp(c), d_a, d_c);
  d_mu = in_a ? d_a : T(0);
  d_theta = in_c ? d_c : T(0);
  return lp;
}

template <class T>
SCVAE_INLINE T nb_log_prob0(T a_mu, T a_theta) {
  const T c = detail::clip_log(a_theta);
  return -math::exp(c) * math::softplus(detail::clip_log(a_mu) - c);
}

template <class T>
SCVAE_INLINE T nb_log_prob0_grad(T a_mu, T a_theta, T& d_mu, T& d_theta) {
  return nb_log_prob_grad(T(0), a_mu, a_theta, d_mu, d_theta);
}

}  // namespace scvae
