#pragma once
// Compile-time dispatch of the per-element log-pmf (and gradient) on the likelihood, so the CPU
// fused pass and a CUDA kernel instantiate the same element code. a_theta / a_pi (and their
// gradients) are ignored by likelihoods without them. Zero = the x = 0 fast path.
#include "../likelihood_spec.hpp"
#include "../negative_binomial.hpp"
#include "../poisson.hpp"
#include "../zero_inflated.hpp"

namespace scvae {
namespace detail {

template <Likelihood L, bool Zero, class T>
SCVAE_INLINE T element_log_prob(T x, T a_mu, T a_theta, T a_pi) {
  if constexpr (L == Likelihood::poisson) return Zero ? poisson_log_prob0(a_mu) : poisson_log_prob(x, a_mu);
  if constexpr (L == Likelihood::nb) return Zero ? nb_log_prob0(a_mu, a_theta) : nb_log_prob(x, a_mu, a_theta);
  if constexpr (L == Likelihood::zip) return Zero ? zip_log_prob0(a_mu, a_pi) : zip_log_prob(x, a_mu, a_pi);
  if constexpr (L == Likelihood::zinb)
    return Zero ? zinb_log_prob0(a_mu, a_theta, a_pi) : zinb_log_prob(x, a_mu, a_theta, a_pi);
}

template <Likelihood L, bool Zero, class T>
SCVAE_INLINE T element_log_prob_grad(T x, T a_mu, T a_theta, T a_pi, T& d_mu, T& d_theta, T& d_pi) {
  if constexpr (L == Likelihood::poisson)
    return Zero ? poisson_log_prob0_grad(a_mu, d_mu) : poisson_log_prob_grad(x, a_mu, d_mu);
  if constexpr (L == Likelihood::nb)
    return Zero ? nb_log_prob0_grad(a_mu, a_theta, d_mu, d_theta) : nb_log_prob_grad(x, a_mu, a_theta, d_mu, d_theta);
  if constexpr (L == Likelihood::zip)
    return Zero ? zip_log_prob0_grad(a_mu, a_pi, d_mu, d_pi) : zip_log_prob_grad(x, a_mu, a_pi, d_mu, d_pi);
  if constexpr (L == Likelihood::zinb)
    return Zero ? zinb_log_prob0_grad(a_mu, a_theta, a_pi, d_mu, d_theta, d_pi)
                : zinb_log_prob_grad(x, a_mu, a_theta, a_pi, d_mu, d_theta, d_pi);
}

}  // namespace detail
}  // namespace scvae
