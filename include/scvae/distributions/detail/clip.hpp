#pragma once
// The log-space clamp on the mean and dispersion heads, shared by every count likelihood.
#include "../../core/config.hpp"

namespace scvae {

// mu = exp(clamp(a, -kLogClip, kLogClip)); the same for theta. scVAE clips at 10; 15 because
// 10x counts can exceed e^10 = 22026. The gradient is 0 outside the interval (as scVAE's clip).
constexpr double kLogClip = 15.0;

namespace detail {
// clamp(a, -kLogClip, kLogClip); `inside` = whether the gradient passes (boundaries included).
// Comparisons (not fmin/fmax) so that a NaN pre-activation stays NaN.
template <class T>
SCVAE_INLINE T clip_log(T a, bool& inside) {
  const T lo = T(-kLogClip), hi = T(kLogClip);
  inside = !(a < lo || a > hi);
  return a < lo ? lo : (a > hi ? hi : a);
}
template <class T>
SCVAE_INLINE T clip_log(T a) {
  bool inside;
  return clip_log(a, inside);
}
}  // namespace detail
}  // namespace scvae
