#pragma once
// Poisson count likelihood, per element, host and device (derivation: docs/likelihoods.md).
//   a = clamp(a_mu, -kLogClip, kLogClip), mu = exp(a)
//   log P(x) = x a - mu - log x!          d/da = x - mu
// *_log_prob take the head pre-activation a_mu; poisson_log_pmf takes the natural mean mu.
// *0 variants are the x = 0 fast path (log P(0) = -mu).
#include "../math/special.hpp"
#include "detail/clip.hpp"

namespace scvae {

// Natural parameterisation (reference / tests): mu >= 0, no clamp. mu = 0 gives 0 at x = 0 and
// -inf at x > 0.
template <class T>
SCVAE_INLINE T poisson_log_pmf(T x, T mu) {
  if (x == T(0)) return -mu;
  return x * math::log(mu) - mu - math::log_factorial(x);
}

template <class T>
SCVAE_INLINE T poisson_log_prob0(T a_mu) {
  return -math::exp(detail::clip_log(a_mu));
}

template <class T>
SCVAE_INLINE T poisson_log_prob0_grad(T a_mu, T& d_mu) {
  bool in;
  const T mu = math::exp(detail::clip_log(a_mu, in));
  d_mu = in ? -mu : T(0);
  return -mu;
}

template <class T>
SCVAE_INLINE T poisson_log_prob(T x, T a_mu) {
  const T a = detail::clip_log(a_mu);
  return x * a - math::exp(a) - math::log_factorial(x);
}

// Returns log P(x) and sets d_mu = d log P / d a_mu.
template <class T>
SCVAE_INLINE T poisson_log_prob_grad(T x, T a_mu, T& d_mu) {
  bool in;
  const T a = detail::clip_log(a_mu, in);
  const T mu = math::exp(a);
  d_mu = in ? x - mu : T(0);
  return x * a - mu - math::log_factorial(x);
}

}  // namespace scvae
