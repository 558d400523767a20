#pragma once
// The Gaussian latent: encoder head [2Z x N] = (mean; raw log-variance), reparameterisation
// z = mu + exp(lv / 2) * eps with the noise eps as an INPUT (so backends can be compared on the
// same draws), and the analytic KL to N(0, I).
// lv = clamp(raw, lv_min, lv_max) as scVAE clips log sigma to [-3, 3]; the gradient is zero
// outside the range, exactly as the clip's derivative.
//   KL(N(mu, e^lv) || N(0, 1)) = 1/2 (mu^2 + e^lv - 1 - lv)
//   d/dmu = mu,  d/dlv = 1/2 (e^lv - 1)
//   dz/dmu = 1,  dz/dlv = eps e^{lv/2} / 2
#include <cmath>

#include "../core/config.hpp"

namespace scvae {

struct LatentClamp {
  double lv_min = -6.0, lv_max = 6.0;  // log-variance range (scVAE: log sigma in [-3, 3])
};

namespace gaussian {

template <class T>
SCVAE_INLINE T clamp_lv(T raw, T lo, T hi) { return raw < lo ? lo : (raw > hi ? hi : raw); }
template <class T>
SCVAE_INLINE bool lv_active(T raw, T lo, T hi) { return raw >= lo && raw <= hi; }
template <class T>
SCVAE_INLINE T kl_std_normal(T mu, T lv) { return T(0.5) * (mu * mu + exp(lv) - T(1) - lv); }
// KL(N(mu, e^lv) || N(m, e^plv)) for one dimension.
template <class T>
SCVAE_INLINE T kl_normal(T mu, T lv, T m, T plv) {
  const T d = mu - m;
  return T(0.5) * (plv - lv + (exp(lv) + d * d) * exp(-plv) - T(1));
}
// log N(z; 0, 1) - log N(z; mu, e^lv) with z = mu + e^{lv/2} eps: the constants cancel.
template <class T>
SCVAE_INLINE T log_prior_minus_log_q(T z, T eps, T lv) { return T(0.5) * (eps * eps - z * z + lv); }

// Prior variance v = softplus(s) (scVAE's learned component variances) and its log.
template <class T>
SCVAE_INLINE T softplus_scalar(T s) { return s > T(0) ? s + log1p(exp(-s)) : log1p(exp(s)); }
// d log softplus(s) / ds = sigmoid(s) / softplus(s).
template <class T>
SCVAE_INLINE T dlog_softplus(T s) { return (T(1) / (T(1) + exp(-s))) / softplus_scalar(s); }

}  // namespace gaussian
}  // namespace scvae
