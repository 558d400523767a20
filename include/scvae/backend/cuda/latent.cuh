#pragma once
// Latent-space kernels: the Gaussian latent (VAE) and the Gaussian-mixture ops (GMVAE). The
// matrices are small ([2Z x K*N], Z ~ 25, K ~ 10), so the kernels favour the CPU's loop order
// over raw speed: a per-column sum is one thread looping over rows, and a sum over columns (the
// prior and component-weight gradients) is one thread per output element looping over columns
// in order. No atomics anywhere: deterministic, and the same summation order as the CPU.
// Scalar formulas come from inference/gaussian.hpp (SCVAE_INLINE, shared with the CPU).
#include "../../inference/gaussian.hpp"
#include "../../inference/mixture.hpp"
#include "common.cuh"

namespace scvae {
namespace cuda {
namespace detail {

template <class T>
__device__ __forceinline__ Index grid_id() {
  return blockIdx.x * Index(blockDim.x) + threadIdx.x;
}
__device__ __forceinline__ Index grid_stride() { return Index(gridDim.x) * blockDim.x; }

// z [Z x N], kl [N] (null to skip), head [2Z x N], eps [Z x N]: one thread per column.
template <class T>
__global__ void gaussian_latent_forward_kernel(MatrixView<T> z, T* kl, MatrixView<const T> head, MatrixView<const T> eps,
                                               T lv_min, T lv_max) {
  const Index Z = z.rows;
  for (Index j = grid_id<T>(); j < z.cols; j += grid_stride()) {
    T k = 0;
    for (Index i = 0; i < Z; ++i) {
      const T mu = head(i, j), lv = gaussian::clamp_lv(head(Z + i, j), lv_min, lv_max);
      z(i, j) = mu + exp(T(0.5) * lv) * eps(i, j);
      k += gaussian::kl_std_normal(mu, lv);
    }
    if (kl) kl[j] = k;
  }
}

// d_head [2Z x N] overwritten: one thread per (i, j) of dz [Z x N].
template <class T>
__global__ void gaussian_latent_backward_kernel(MatrixView<T> d_head, MatrixView<const T> dz, MatrixView<const T> head,
                                                MatrixView<const T> eps, T kl_scale, T lv_min, T lv_max) {
  const Index Z = dz.rows, n = dz.rows * dz.cols;
  for (Index t = grid_id<T>(); t < n; t += grid_stride()) {
    const Coord c = coord(t, Z);
    const Index i = c.i, j = c.j;
    const T mu = head(i, j), raw = head(Z + i, j);
    const T lv = gaussian::clamp_lv(raw, lv_min, lv_max);
    const T s = exp(T(0.5) * lv);
    d_head(i, j) = dz(i, j) + kl_scale * mu;
    d_head(Z + i, j) = gaussian::lv_active(raw, lv_min, lv_max)
                           ? dz(i, j) * eps(i, j) * T(0.5) * s + kl_scale * T(0.5) * (s * s - T(1))
                           : T(0);
  }
}

template <class T>
__global__ void gaussian_log_weight_kernel(T* out /*[N]*/, MatrixView<const T> z, MatrixView<const T> head,
                                           MatrixView<const T> eps, T lv_min, T lv_max) {
  const Index Z = z.rows;
  for (Index j = grid_id<T>(); j < z.cols; j += grid_stride()) {
    T s = 0;
    for (Index i = 0; i < Z; ++i)
      s += gaussian::log_prior_minus_log_q(z(i, j), eps(i, j), gaussian::clamp_lv(head(Z + i, j), lv_min, lv_max));
    out[j] = s;
  }
}

// q, log_q [K x N] from logits [K x N]: one thread per column.
template <class T>
__global__ void softmax_columns_kernel(MatrixView<T> q, MatrixView<T> log_q, MatrixView<const T> logits) {
  for (Index j = grid_id<T>(); j < logits.cols; j += grid_stride()) {
    T m = logits(0, j);
    for (Index k = 1; k < logits.rows; ++k) m = m < logits(k, j) ? logits(k, j) : m;  // std::max(m, x)
    T s = 0;
    for (Index k = 0; k < logits.rows; ++k) s += exp(logits(k, j) - m);
    const T ls = m + log(s);
    for (Index k = 0; k < logits.rows; ++k) {
      log_q(k, j) = logits(k, j) - ls;
      q(k, j) = exp(log_q(k, j));
    }
  }
}

// pre [H x K*N]: pre[:, k*N + j] = p[:, j] + wk[:, k].
template <class T>
__global__ void broadcast_components_kernel(MatrixView<T> pre, MatrixView<const T> p, MatrixView<const T> wk) {
  const Index N = p.cols, H = p.rows, n = H * pre.cols;
  for (Index t = grid_id<T>(); t < n; t += grid_stride()) {
    const Coord c = coord(t, H);
    const Index k = c.j / N, j = c.j - k * N;
    pre(c.i, c.j) = p(c.i, j) + wk(c.i, k);
  }
}
// dp [H x N] = sum_k d_pre[:, k*N + j] (overwritten), k in order.
template <class T>
__global__ void reduce_components_dp_kernel(MatrixView<T> dp, MatrixView<const T> d_pre, Index K) {
  const Index N = dp.cols, H = dp.rows, n = H * N;
  for (Index t = grid_id<T>(); t < n; t += grid_stride()) {
    const Coord c = coord(t, H);
    T s = 0;
    for (Index k = 0; k < K; ++k) s += d_pre(c.i, k * N + c.j);
    dp(c.i, c.j) = s;
  }
}
// dwk[:, k] += sum_j d_pre[:, k*N + j], j in order.
template <class T>
__global__ void reduce_components_dw_kernel(MatrixView<T> dwk, MatrixView<const T> d_pre, Index N) {
  const Index H = dwk.rows, n = H * dwk.cols;
  for (Index t = grid_id<T>(); t < n; t += grid_stride()) {
    const Coord c = coord(t, H);
    T s = dwk(c.i, c.j);
    for (Index j = 0; j < N; ++j) s += d_pre(c.i, c.j * N + j);
    dwk(c.i, c.j) = s;
  }
}
// w[k*N + j] = scale * q[k, j].
template <class T>
__global__ void mixture_weights_kernel(T* w, MatrixView<const T> q, T scale) {
  const Index K = q.rows, N = q.cols, n = K * N;
  for (Index t = grid_id<T>(); t < n; t += grid_stride()) {
    const Index k = t / N, j = t - k * N;
    w[t] = scale * q(k, j);
  }
}

// z, klz per column c = k*n + j: one thread per column.
template <class T>
__global__ void mixture_latent_forward_kernel(MatrixView<T> z, T* klz, MatrixView<const T> head, MatrixView<const T> eps,
                                              MatrixView<const T> prior_mean, MatrixView<const T> prior_raw, Index n,
                                              T lv_min, T lv_max) {
  const Index Z = z.rows;
  for (Index col = grid_id<T>(); col < z.cols; col += grid_stride()) {
    const Index k = col / n;
    T kl = 0;
    for (Index i = 0; i < Z; ++i) {
      const T mu = head(i, col), lv = gaussian::clamp_lv(head(Z + i, col), lv_min, lv_max);
      z(i, col) = mu + exp(T(0.5) * lv) * eps(i, col);
      kl += gaussian::kl_normal(mu, lv, prior_mean(i, k), log(gaussian::softplus_scalar(prior_raw(i, k))));
    }
    if (klz) klz[col] = kl;
  }
}
// One thread per (i, k): writes d_head for the component's n columns and accumulates the prior
// gradients over them in column order.
template <class T>
__global__ void mixture_latent_backward_kernel(MatrixView<T> d_head, MatrixView<T> d_prior_mean, MatrixView<T> d_prior_raw,
                                               MatrixView<const T> dz, MatrixView<const T> head, MatrixView<const T> eps,
                                               MatrixView<const T> prior_mean, MatrixView<const T> prior_raw,
                                               const T* kl_scale, Index n, Index K, T lv_min, T lv_max) {
  const Index Z = dz.rows, total = Z * K;
  for (Index t = grid_id<T>(); t < total; t += grid_stride()) {
    const Coord c = coord(t, Z);
    const Index i = c.i, k = c.j;
    const T s = prior_raw(i, k), plv = log(gaussian::softplus_scalar(s));
    const T inv_pv = exp(-plv), pm = prior_mean(i, k), dls = gaussian::dlog_softplus(s);
    T gm = d_prior_mean(i, k), gr = d_prior_raw(i, k);
    for (Index j = 0; j < n; ++j) {
      const Index col = k * n + j;
      const T ks = kl_scale[col];
      const T mu = head(i, col), raw = head(Z + i, col);
      const T lv = gaussian::clamp_lv(raw, lv_min, lv_max);
      const T d = mu - pm, sd = exp(T(0.5) * lv);
      d_head(i, col) = dz(i, col) + ks * d * inv_pv;
      d_head(Z + i, col) = gaussian::lv_active(raw, lv_min, lv_max)
                               ? dz(i, col) * eps(i, col) * T(0.5) * sd + ks * T(0.5) * (sd * sd * inv_pv - T(1))
                               : T(0);
      gm -= ks * d * inv_pv;
      gr += ks * T(0.5) * (T(1) - (sd * sd + d * d) * inv_pv) * dls;
    }
    d_prior_mean(i, k) = gm;
    d_prior_raw(i, k) = gr;
  }
}

// Per column j: ll, kl and d_logits (inference/mixture.hpp, the same source as the CPU's).
template <class T>
__global__ void mixture_combine_kernel(T* ll, T* kl, MatrixView<T> d_logits, MatrixView<const T> q, MatrixView<const T> log_q,
                                       const T* log_px, const T* klz, const T* log_prior, T beta, T scale) {
  for (Index j = grid_id<T>(); j < q.cols; j += grid_stride())
    mixture::combine_column(j, q, log_q, log_px, klz, log_prior, beta, scale, ll[j], kl[j], d_logits);
}

// d_prior_logits[k] += sum_j scale * beta * (q(k, j) - exp(log_prior[k])), j in order.
template <class T>
__global__ void mixture_prior_grad_kernel(T* d_prior_logits, MatrixView<const T> q, const T* log_prior, T beta, T scale) {
  const Index K = q.rows, N = q.cols;
  for (Index k = grid_id<T>(); k < K; k += grid_stride()) {
    T s = d_prior_logits[k];
    const T pk = exp(log_prior[k]);
    for (Index j = 0; j < N; ++j) s += scale * beta * (q(k, j) - pk);
    d_prior_logits[k] = s;
  }
}

}  // namespace detail
}  // namespace cuda
}  // namespace scvae
