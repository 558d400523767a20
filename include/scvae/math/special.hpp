#pragma once
// Scalar special functions shared by host and device code (SCVAE_INLINE is __host__ __device__
// under nvcc), so the CPU pass and a CUDA kernel evaluate the same source. Templated on
// T = float | double and computed in T; only <cmath> functions are called.
//
// Accuracy (measured by tests/test_special.cpp against mpmath / long double references; "eps" is
// T's machine epsilon; full table in docs/likelihoods.md):
//   sigmoid, softplus, log_sigmoid, log_add_exp   relative error <= 4 eps for all finite x
//   log1pmx                                       relative error <= 8 eps on y > -1
//   log_factorial                                 that of the C library's lgamma (glibc: a few eps)
//   lgamma_diff, digamma_diff                     relative error <= 32 eps for integer x >= 0,
//                                                 theta in [1e-30, 1e9] (non-integer x: absolute
//                                                 error ~ eps * |x log theta|)
//   theta_digamma_diff_m_x                        absolute error <= 16 eps * max(1, x^2 / theta)
//   digamma                                       relative error <= 8 eps away from its root
//                                                 1.4616...; absolute error <= 4 eps near it
// NaN in gives NaN out (never hidden), so a diverging model is still detected.
#include <cmath>

#include "../core/config.hpp"

namespace scvae {
namespace math {

// Unqualified calls below pick the float or double overload (and nvcc's device versions).
using std::exp;
using std::expm1;
using std::fabs;
using std::floor;
using std::lgamma;
using std::log;
using std::log1p;
using std::tan;

namespace detail {
// Whether float-length series suffice.
template <class T>
constexpr bool kShort = sizeof(T) <= 4;
// Small non-negative integers take the exact finite-sum paths in lgamma_diff and digamma_diff.
constexpr int kSmallCount = 8;
// Asymptotic series are used at arguments >= kAsymptotic (arguments below are shifted up).
constexpr int kAsymptotic = 10;

template <class T>
SCVAE_INLINE bool is_small_count(T x) {
  return x <= T(kSmallCount) && x == floor(x);
}

// Stirling remainder S(z) = lgamma(z) - [(z - 1/2) log z - z + log(2 pi) / 2], z >= 10.
// Truncation error at z = 10: 3e-17 (double series, through z^-13); 6e-11 (float, through z^-5).
template <class T>
SCVAE_INLINE T stirling_tail(T z) {
  const T r = T(1) / z;
  const T r2 = r * r;
  if (kShort<T>) return r * (T(1.0 / 12) - r2 * (T(1.0 / 360) - r2 * T(1.0 / 1260)));
  return r * (T(1.0 / 12) -
              r2 * (T(1.0 / 360) -
                    r2 * (T(1.0 / 1260) -
                          r2 * (T(1.0 / 1680) -
                                r2 * (T(1.0 / 1188) - r2 * (T(691.0 / 360360) - r2 * T(1.0 / 156)))))));
}

// Digamma asymptotic series beyond its first three terms:
// psi(z) = log z - 1/(2z) - 1/(12 z^2) + psi_tail(z), z >= 10 (B_2k / (2k z^2k), k >= 2).
// Truncation error at z = 10: 4e-17 (double, through z^-14); 4e-11 (float, through z^-6).
template <class T>
SCVAE_INLINE T psi_tail(T z) {
  const T r2 = T(1) / (z * z);
  const T r4 = r2 * r2;
  if (kShort<T>) return r4 * (T(1.0 / 120) - r2 * T(1.0 / 252));
  return r4 * (T(1.0 / 120) -
               r2 * (T(1.0 / 252) -
                     r2 * (T(1.0 / 240) - r2 * (T(1.0 / 132) - r2 * (T(691.0 / 32760) - r2 * T(1.0 / 12))))));
}
}  // namespace detail

// x limited to [-c, c] (c >= 0): Adam's element-wise gradient clip on every path (the CPU's
// Eigen and SIMD sweeps, the CUDA kernel). Comparisons, not min/max: a NaN x is false on both
// sides and comes out as NaN, never as a finite -c or c (std::min/max, fminf/fmaxf and the
// SIMD min/max instructions each treat NaN by their own rule of operand order).
template <class T>
SCVAE_INLINE T clip_symmetric(T x, T c) {
  return x < -c ? -c : (x > c ? c : x);
}

// 1 / (1 + exp(-x)). exp only of -|x|, so it never overflows.
template <class T>
SCVAE_INLINE T sigmoid(T x) {
  const T e = exp(-fabs(x));
  const T r = T(1) / (T(1) + e);
  return x >= T(0) ? r : e * r;
}

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow for large x, and log1p keeps
// softplus(x) = exp(x) to full relative precision for very negative x.
template <class T>
SCVAE_INLINE T softplus(T x) {
  return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x)));
}

// log(sigmoid(x)) = -softplus(-x).
template <class T>
SCVAE_INLINE T log_sigmoid(T x) {
  return -softplus(-x);
}

// log(exp(a) + exp(b)). -inf + -inf gives -inf (not NaN); NaN propagates.
template <class T>
SCVAE_INLINE T log_add_exp(T a, T b) {
  const T d = fabs(a - b);
  if (d != d) return a == b ? a : d;  // equal infinities, or a NaN
  return (a > b ? a : b) + log1p(exp(-d));
}

// log1p(y) - y for y > -1, without the cancellation of the direct difference for small |y|.
// On [-1/2, 1]: log1p(y) = 2 atanh(r), r = y / (2 + y), |r| <= 1/3, so
// log1p(y) - y = -y r + 2 (r^3/3 + r^5/5 + ...) with no cancelling terms.
// Outside it the direct difference loses at most 2 bits.
template <class T>
SCVAE_INLINE T log1pmx(T y) {
  if (y >= T(-0.5) && y <= T(1)) {
    const T r = y / (T(2) + y);
    const T r2 = r * r;
    T p;  // sum_k r^(2k-2) / (2k+1), k = 1..K; K = 8 (float), 16 (double) for r^2 <= 1/9
    if (detail::kShort<T>) {
      p = T(1.0 / 17);
      p = p * r2 + T(1.0 / 15);
      p = p * r2 + T(1.0 / 13);
      p = p * r2 + T(1.0 / 11);
      p = p * r2 + T(1.0 / 9);
      p = p * r2 + T(1.0 / 7);
      p = p * r2 + T(1.0 / 5);
      p = p * r2 + T(1.0 / 3);
    } else {
      p = T(1.0 / 33);
      p = p * r2 + T(1.0 / 31);
      p = p * r2 + T(1.0 / 29);
      p = p * r2 + T(1.0 / 27);
      p = p * r2 + T(1.0 / 25);
      p = p * r2 + T(1.0 / 23);
      p = p * r2 + T(1.0 / 21);
      p = p * r2 + T(1.0 / 19);
      p = p * r2 + T(1.0 / 17);
      p = p * r2 + T(1.0 / 15);
      p = p * r2 + T(1.0 / 13);
      p = p * r2 + T(1.0 / 11);
      p = p * r2 + T(1.0 / 9);
      p = p * r2 + T(1.0 / 7);
      p = p * r2 + T(1.0 / 5);
      p = p * r2 + T(1.0 / 3);
    }
    return -y * r + T(2) * r * r2 * p;
  }
  return log1p(y) - y;
}

// softplus(u) - sigmoid(u) > 0. For u <= 0 it is -log1pmx(-sigmoid(u)) (accurate as u -> -inf,
// where both terms approach exp(u) and the difference is exp(2u)/2); for u > 0 the direct
// difference loses at most 2 bits.
template <class T>
SCVAE_INLINE T softplus_m_sigmoid(T u) {
  return u <= T(0) ? -log1pmx(-sigmoid(u)) : softplus(u) - sigmoid(u);
}

// log(x!) = lgamma(x + 1) for real x >= 0 (counts are stored as floating point).
template <class T>
SCVAE_INLINE T log_factorial(T x) {
  return lgamma(x + T(1));
}

// lgamma(x + theta) - lgamma(theta) for x >= 0, theta > 0 (the NB binomial coefficient
// without its 1/x!). Never forms lgamma(theta) itself, so theta = 1e6 loses no precision:
//  - x a small integer (<= 8): log of prod_{k<x} (theta + k), in chunks of 4 factors;
//  - otherwise theta is shifted to t = theta + n >= 10 (subtracting log1p(x / (theta + k))), and
//    the Stirling difference is written with log1p(x / t):
//      (x + t - 1/2) log1p(x / t) + x (log t - 1) + S(x + t) - S(t).
template <class T>
SCVAE_INLINE T lgamma_diff(T x, T theta) {
  if (x == T(0)) return T(0);
  if (detail::is_small_count(x)) {
    const int n = static_cast<int>(x);
    // Four factors stay within float range for theta in [1e-30, 1e9].
    const int chunk = (theta > T(1e-30) && theta < T(1e9)) ? 4 : 1;
    T s = T(0), p = T(1);
    for (int k = 0; k < n; ++k) {
      p *= theta + T(k);
      if ((k + 1) % chunk == 0) {
        s += log(p);
        p = T(1);
      }
    }
    return s + log(p);
  }
  T s = T(0), t = theta;
  while (t < T(detail::kAsymptotic)) {  // lgamma(z) = lgamma(z + 1) - log(z)
    s -= log1p(x / t);
    t += T(1);
  }
  const T z = x + t;
  return s + (z - T(0.5)) * log1p(x / t) + x * (log(t) - T(1)) +
         (detail::stirling_tail(z) - detail::stirling_tail(t));
}

// Digamma psi(x) = d lgamma(x) / dx. x > 0: recurrence up to x >= 10, then the asymptotic
// series; x < 0: reflection psi(x) = psi(1 - x) - pi / tan(pi x); NaN at the poles 0, -1, ...
template <class T>
SCVAE_INLINE T digamma(T x) {
  T s = T(0);
  if (x <= T(0)) {
    if (x == floor(x)) return static_cast<T>(NAN);
    const T pi = T(3.14159265358979323846);
    s = -pi / tan(pi * x);
    x = T(1) - x;
  }
  while (x < T(detail::kAsymptotic)) {
    s -= T(1) / x;
    x += T(1);
  }
  return s + log(x) - T(0.5) / x - T(1) / (T(12) * x * x) + detail::psi_tail(x);
}

// psi(x + theta) - psi(theta) for x >= 0, theta > 0, without forming psi(theta):
//  - x a small integer (<= 8): sum_{k<x} 1 / (theta + k);
//  - otherwise shift theta to t >= 10 (adding x / ((theta + k)(x + theta + k))), then
//      log1p(x / t) + x / (2 t z) + x (t + z) / (12 t^2 z^2) + psi_tail(z) - psi_tail(t), z = x + t,
//    with the two leading differences written exactly.
template <class T>
SCVAE_INLINE T digamma_diff(T x, T theta) {
  if (x == T(0)) return T(0);
  if (detail::is_small_count(x)) {
    const int n = static_cast<int>(x);
    T s = T(0);
    for (int k = 0; k < n; ++k) s += T(1) / (theta + T(k));
    return s;
  }
  T s = T(0), t = theta;
  while (t < T(detail::kAsymptotic)) {  // psi(z) = psi(z + 1) - 1/z
    s += x / (t * (x + t));
    t += T(1);
  }
  const T z = x + t;
  const T xtz = x / (t * z);
  return s + log1p(x / t) + T(0.5) * xtz + xtz * ((t + z) / (T(12) * t * z)) +
         (detail::psi_tail(z) - detail::psi_tail(t));
}

// theta * (psi(x + theta) - psi(theta)) - x: the part of d/d(log theta) of the NB log-pmf in
// which two O(x) terms cancel as theta -> inf (the value is -x (x - 1) / (2 theta) + ...).
//  - x a small integer (<= 8): -sum_{k=1}^{x-1} k / (theta + k), exactly;
//  - theta >= 10: theta log1pmx(x / theta) + x / (2z) + theta * (higher digamma differences);
//  - otherwise the direct expression (no large cancellation for theta < 10).
template <class T>
SCVAE_INLINE T theta_digamma_diff_m_x(T x, T theta) {
  if (x == T(0)) return T(0);
  if (detail::is_small_count(x)) {
    const int n = static_cast<int>(x);
    T s = T(0);
    for (int k = 1; k < n; ++k) s -= T(k) / (theta + T(k));
    return s;
  }
  if (theta < T(detail::kAsymptotic)) return theta * digamma_diff(x, theta) - x;
  const T z = x + theta;
  return theta * log1pmx(x / theta) + T(0.5) * x / z + (x / z) * ((theta + z) / (T(12) * theta * z)) +
         theta * (detail::psi_tail(z) - detail::psi_tail(theta));
}

}  // namespace math
}  // namespace scvae
