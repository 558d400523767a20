#pragma once
// The GMVAE's exact sum over K components for one cell, shared by CpuBackend::mixture_combine and
// its CUDA kernel (SCVAE_INLINE is __host__ __device__ under nvcc), so both evaluate one source.
// With F_k = log p(x|z_k) - beta KLz_k and q_k = q(k|x):
//   ELBO(beta) = sum_k q_k F_k - beta sum_k q_k (log q_k - log pi_k)
// Outputs (beta = 1 for the reported terms): ll = sum_k q_k log p(x|z_k),
// kl = sum_k q_k KLz_k + KL(q(y|x) || p(y)), and, where d_logits.data is set, column j of
// d_logits = scale * d ELBO / d logits (softmax Jacobian: q_k (g_k - sum_l q_l g_l)).
#include "../core/config.hpp"
#include "../core/view.hpp"

namespace scvae {
namespace mixture {

// Cell j. q, log_q, d_logits: [K x N]; log_px, klz: [K*N], component k of cell j at k*N + j;
// log_prior: [K].
template <class T>
SCVAE_INLINE void combine_column(Index j, MatrixView<const T> q, MatrixView<const T> log_q, const T* log_px,
                                 const T* klz, const T* log_prior, T beta, T scale, T& ll, T& kl,
                                 MatrixView<T> d_logits) {
  const Index K = q.rows, N = q.cols;
  T l = 0, kz = 0, ky = 0, mean_g = 0;
  for (Index k = 0; k < K; ++k) {
    const T qk = q(k, j);
    const Index c = k * N + j;
    l += qk * log_px[c];
    kz += qk * klz[c];
    if (qk > T(0)) ky += qk * (log_q(k, j) - log_prior[k]);
  }
  for (Index k = 0; k < K; ++k) {
    const Index c = k * N + j;
    mean_g += q(k, j) * (log_px[c] - beta * klz[c] - beta * (log_q(k, j) - log_prior[k]));
  }
  ll = l;
  kl = kz + ky;
  if (d_logits.data)
    for (Index k = 0; k < K; ++k) {
      const Index c = k * N + j;
      const T g = log_px[c] - beta * klz[c] - beta * (log_q(k, j) - log_prior[k]);
      d_logits(k, j) = scale * q(k, j) * (g - mean_g);
    }
}

}  // namespace mixture
}  // namespace scvae
