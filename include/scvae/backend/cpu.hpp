#pragma once
// The CPU backend: Eigen GEMMs (threaded through OpenMP) and plain loops for everything else.
//
// A backend is a type with static member templates over the scalar T; models and layers are
// written against this set of operations only (see docs/architecture.md, "The backend trait").
// Memory: Buffer<T> owns storage, data(buf) gives the raw pointer that views wrap. All matrices
// are column-major [features x batch]. Activation gradients overwrite (=), parameter gradients
// accumulate (+=), as in llm.c.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../core/view.hpp"
#include "../distributions/likelihood.hpp"
#include "../inference/gaussian.hpp"

namespace scvae {

struct CpuBackend {
  static constexpr const char* name = "cpu";
  template <class T>
  using Buffer = std::vector<T, Eigen::aligned_allocator<T>>;

  template <class T>
  using EMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  template <class T>
  using Map = Eigen::Map<EMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
  template <class T>
  using CMap = Eigen::Map<const EMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
  template <class T>
  static Map<T> map(MatrixView<T> m) { return Map<T>(m.data, m.rows, m.cols, Eigen::OuterStride<>(m.ld)); }
  template <class T>
  static CMap<T> map(MatrixView<const T> m) { return CMap<T>(m.data, m.rows, m.cols, Eigen::OuterStride<>(m.ld)); }

  // ---- threads and memory -------------------------------------------------------------------
  static void set_threads(int n) {
    if (n <= 0) return;
    Eigen::setNbThreads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
  }
  static int threads() { return Eigen::nbThreads(); }
  template <class T>
  static Buffer<T> allocate(Index n) { return Buffer<T>(static_cast<std::size_t>(n)); }
  template <class T>
  static T* data(Buffer<T>& b) { return b.data(); }
  template <class T>
  static const T* data(const Buffer<T>& b) { return b.data(); }
  // Host <-> backend transfers (identity copies on the CPU).
  template <class T>
  static void upload(VectorView<T> dst, const T* host) { std::copy(host, host + dst.size, dst.data); }
  template <class T>
  static void download(T* host, VectorView<const T> src) { std::copy(src.data, src.data + src.size, host); }

  template <class T>
  static void fill(VectorView<T> v, T value) { std::fill(v.data, v.data + v.size, value); }
  template <class T>
  static void fill(MatrixView<T> m, T value) {
    for (Index j = 0; j < m.cols; ++j) std::fill(&m(0, j), &m(0, j) + m.rows, value);
  }
  template <class T>
  static void copy(MatrixView<const T> src, MatrixView<T> dst) { map(dst) = map(src); }

  // ---- dense linear algebra -----------------------------------------------------------------
  // C = alpha * op(A) * op(B) + beta * C.
  template <class T>
  static void gemm(bool trans_a, bool trans_b, T alpha, MatrixView<const T> a, MatrixView<const T> b, T beta,
                   MatrixView<T> c) {
    auto C = map(c);
    if (beta == T(0)) C.setZero();
    else if (beta != T(1)) C *= beta;
    auto A = map(a);
    auto Bm = map(b);
    if (!trans_a && !trans_b) C.noalias() += alpha * A * Bm;
    else if (trans_a && !trans_b) C.noalias() += alpha * A.transpose() * Bm;
    else if (!trans_a && trans_b) C.noalias() += alpha * A * Bm.transpose();
    else C.noalias() += alpha * A.transpose() * Bm.transpose();
  }

  // C [M x N] = alpha * W [M x G] * X [G x N] (sparse) + beta * C. Touches only W's columns of
  // genes that are non-zero in the batch: cost M * nnz instead of M * G * N.
  template <class T>
  static void spmm(T alpha, MatrixView<const T> w, CscView<float> x, T beta, MatrixView<T> c) {
    const Index M = w.rows;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (x.cols > 1 && x.nnz() * M > 200000)
#endif
    for (Index n = 0; n < x.cols; ++n) {
      T* cn = &c(0, n);
      if (beta == T(0)) std::fill(cn, cn + M, T(0));
      else for (Index i = 0; i < M; ++i) cn[i] *= beta;
      for (std::int64_t k = x.ptr[n]; k < x.ptr[n + 1]; ++k) {
        const T v = alpha * static_cast<T>(x.val[k]);
        const T* wg = &w(0, x.idx[k]);
        for (Index i = 0; i < M; ++i) cn[i] += v * wg[i];
      }
    }
  }
  // dW [M x G] += alpha * dC [M x N] * X^T (X [G x N] sparse). Threads split W's rows, so no
  // two threads write the same element and the result does not depend on the thread count.
  template <class T>
  static void spmm_grad(T alpha, MatrixView<const T> dc, CscView<float> x, MatrixView<T> dw) {
    const Index M = dw.rows;
#ifdef _OPENMP
    const int nt = (x.nnz() * M > 200000) ? omp_get_max_threads() : 1;
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), T_ = omp_get_num_threads();
#else
    {
      const int t = 0, T_ = 1;
#endif
      const Index r0 = M * t / T_, r1 = M * (t + 1) / T_;
      for (Index n = 0; n < x.cols; ++n) {
        const T* dcn = &dc(0, n);
        for (std::int64_t k = x.ptr[n]; k < x.ptr[n + 1]; ++k) {
          const T v = alpha * static_cast<T>(x.val[k]);
          T* dwg = &dw(0, x.idx[k]);
          for (Index i = r0; i < r1; ++i) dwg[i] += v * dcn[i];
        }
      }
    }
  }
  // C[:, j] += b for every column j.
  template <class T>
  static void add_bias(MatrixView<T> c, VectorView<const T> b) {
    for (Index j = 0; j < c.cols; ++j) {
      T* cj = &c(0, j);
      for (Index i = 0; i < c.rows; ++i) cj[i] += b[i];
    }
  }
  // db += row sums of dC.
  template <class T>
  static void bias_grad(MatrixView<const T> dc, VectorView<T> db) {
    for (Index j = 0; j < dc.cols; ++j) {
      const T* cj = &dc(0, j);
      for (Index i = 0; i < dc.rows; ++i) db[i] += cj[i];
    }
  }

  // ---- elementwise activations --------------------------------------------------------------
  template <class T, class F>
  static void map2(MatrixView<T> out, MatrixView<const T> in, F f) {
    for (Index j = 0; j < out.cols; ++j)
      for (Index i = 0; i < out.rows; ++i) out(i, j) = f(in(i, j));
  }
  template <class T, class F>
  static void map3(MatrixView<T> out, MatrixView<const T> a, MatrixView<const T> b, F f) {
    for (Index j = 0; j < out.cols; ++j)
      for (Index i = 0; i < out.rows; ++i) out(i, j) = f(a(i, j), b(i, j));
  }
  template <class T>
  static void relu_forward(MatrixView<T> out, MatrixView<const T> in) {
    map2(out, in, [](T v) { return v > T(0) ? v : T(0); });
  }
  // d_in = d_out * [in > 0]; d_in may alias d_out.
  template <class T>
  static void relu_backward(MatrixView<T> d_in, MatrixView<const T> d_out, MatrixView<const T> in) {
    map3(d_in, d_out, in, [](T g, T v) { return v > T(0) ? g : T(0); });
  }
  template <class T>
  static void softplus_forward(MatrixView<T> out, MatrixView<const T> in) {
    map2(out, in, [](T v) { return v > T(0) ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); });
  }
  template <class T>
  static void softplus_backward(MatrixView<T> d_in, MatrixView<const T> d_out, MatrixView<const T> in) {
    map3(d_in, d_out, in, [](T g, T v) { return g / (T(1) + std::exp(-v)); });
  }
  // Inverted dropout: mask holds 0 or 1/(1-p), drawn here; out = in * mask.
  template <class T>
  static void dropout_mask(MatrixView<T> mask, T p, Rng& rng) {
    const T keep = T(1) / (T(1) - p);
    for (Index j = 0; j < mask.cols; ++j)
      for (Index i = 0; i < mask.rows; ++i) mask(i, j) = rng.uniform() < double(p) ? T(0) : keep;
  }
  template <class T>
  static void multiply(MatrixView<T> out, MatrixView<const T> a, MatrixView<const T> b) {
    map3(out, a, b, [](T x, T y) { return x * y; });
  }

  // ---- batch normalisation (per feature = row, over the batch = columns) ---------------------
  // Training: y = gamma * xhat + beta, xhat = (x - mean) * inv_std with batch statistics;
  // running statistics move by `momentum` (unbiased variance, as PyTorch). gamma may be empty
  // (scVAE's "center, no scale").
  template <class T>
  static void batch_norm_forward_train(MatrixView<T> y, MatrixView<T> xhat, VectorView<T> mean, VectorView<T> inv_std,
                                       MatrixView<const T> x, VectorView<const T> gamma, VectorView<const T> beta,
                                       VectorView<T> running_mean, VectorView<T> running_var, T eps, T momentum) {
    const Index F = x.rows, N = x.cols;
    for (Index i = 0; i < F; ++i) {
      T s = 0;
      for (Index j = 0; j < N; ++j) s += x(i, j);
      const T mu = s / T(N);
      T ss = 0;
      for (Index j = 0; j < N; ++j) ss += (x(i, j) - mu) * (x(i, j) - mu);
      const T var = ss / T(N);
      mean[i] = mu;
      inv_std[i] = T(1) / std::sqrt(var + eps);
      if (running_mean.size) {
        const T unbiased = N > 1 ? ss / T(N - 1) : var;
        running_mean[i] = (T(1) - momentum) * running_mean[i] + momentum * mu;
        running_var[i] = (T(1) - momentum) * running_var[i] + momentum * unbiased;
      }
    }
    for (Index j = 0; j < N; ++j)
      for (Index i = 0; i < F; ++i) {
        const T h = (x(i, j) - mean[i]) * inv_std[i];
        xhat(i, j) = h;
        y(i, j) = (gamma.size ? gamma[i] * h : h) + beta[i];
      }
  }
  template <class T>
  static void batch_norm_forward_eval(MatrixView<T> y, MatrixView<const T> x, VectorView<const T> gamma,
                                      VectorView<const T> beta, VectorView<const T> running_mean,
                                      VectorView<const T> running_var, T eps) {
    for (Index j = 0; j < x.cols; ++j)
      for (Index i = 0; i < x.rows; ++i) {
        const T h = (x(i, j) - running_mean[i]) / std::sqrt(running_var[i] + eps);
        y(i, j) = (gamma.size ? gamma[i] * h : h) + beta[i];
      }
  }
  // dx = inv_std / N * (N * g - sum(g) - xhat * sum(g * xhat)), g = dy * gamma.
  template <class T>
  static void batch_norm_backward(MatrixView<T> dx, VectorView<T> dgamma, VectorView<T> dbeta, MatrixView<const T> dy,
                                  MatrixView<const T> xhat, VectorView<const T> inv_std, VectorView<const T> gamma) {
    const Index F = dy.rows, N = dy.cols;
    for (Index i = 0; i < F; ++i) {
      T sg = 0, sgx = 0, sdy = 0, sdyx = 0;
      const T gm = gamma.size ? gamma[i] : T(1);
      for (Index j = 0; j < N; ++j) {
        sdy += dy(i, j);
        sdyx += dy(i, j) * xhat(i, j);
      }
      sg = gm * sdy;
      sgx = gm * sdyx;
      dbeta[i] += sdy;
      if (dgamma.size) dgamma[i] += sdyx;
      const T k = inv_std[i] / T(N);
      for (Index j = 0; j < N; ++j) dx(i, j) = k * (T(N) * gm * dy(i, j) - sg - xhat(i, j) * sgx);
    }
  }

  // ---- random numbers ----------------------------------------------------------------------
  template <class T>
  static void random_normal(MatrixView<T> out, Rng& rng) {
    for (Index j = 0; j < out.cols; ++j)
      for (Index i = 0; i < out.rows; ++i) out(i, j) = static_cast<T>(rng.normal());
  }

  // ---- reductions and optimiser support ----------------------------------------------------
  template <class T>
  static T sum(VectorView<const T> v) {
    T s = 0;
    for (Index i = 0; i < v.size; ++i) s += v[i];
    return s;
  }
  template <class T>
  static double sum_squares(VectorView<const T> v) {
    double s = 0;
    for (Index i = 0; i < v.size; ++i) s += double(v[i]) * double(v[i]);
    return s;
  }
  template <class T>
  static bool all_finite(VectorView<const T> v) {
    bool ok = true;
    for (Index i = 0; i < v.size; ++i) ok &= std::isfinite(v[i]);
    return ok;
  }
  template <class T>
  static void scale(VectorView<T> v, T a) {
    for (Index i = 0; i < v.size; ++i) v[i] *= a;
  }
  template <class T>
  static void clamp(VectorView<T> v, T lo, T hi) {
    for (Index i = 0; i < v.size; ++i) v[i] = std::min(hi, std::max(lo, v[i]));
  }
  // One Adam step over the whole arena. weight_decay is added to the gradient (L2, as
  // torch.optim.Adam) unless decoupled (AdamW).
  template <class T>
  static void adam_step(VectorView<T> p, VectorView<const T> g, VectorView<T> m, VectorView<T> v, T lr, T beta1,
                        T beta2, T eps, T weight_decay, bool decoupled, long step) {
    const T bc1 = T(1) - std::pow(beta1, T(step));
    const T bc2 = T(1) - std::pow(beta2, T(step));
    const T step_size = lr / bc1;
    const T inv_sqrt_bc2 = T(1) / std::sqrt(bc2);
    for (Index i = 0; i < p.size; ++i) {
      T gi = g[i];
      if (!decoupled) gi += weight_decay * p[i];
      m[i] = beta1 * m[i] + (T(1) - beta1) * gi;
      v[i] = beta2 * v[i] + (T(1) - beta2) * gi * gi;
      T upd = step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
      if (decoupled) upd += lr * weight_decay * p[i];
      p[i] -= upd;
    }
  }

  // ---- Gaussian latent (see inference/gaussian.hpp for the formulas) -------------------------
  // z [Z x N] = mu + exp(lv/2) eps, kl [N] = KL(q || N(0, I)) per cell; head [2Z x N].
  template <class T>
  static void gaussian_latent_forward(MatrixView<T> z, VectorView<T> kl, MatrixView<const T> head,
                                      MatrixView<const T> eps, LatentClamp c) {
    const Index Z = z.rows;
    for (Index j = 0; j < z.cols; ++j) {
      T k = 0;
      for (Index i = 0; i < Z; ++i) {
        const T mu = head(i, j), lv = gaussian::clamp_lv(head(Z + i, j), T(c.lv_min), T(c.lv_max));
        z(i, j) = mu + std::exp(T(0.5) * lv) * eps(i, j);
        k += gaussian::kl_std_normal(mu, lv);
      }
      if (kl.data) kl[j] = k;
    }
  }
  // d_head [2Z x N] (overwritten) from dz = dL/dz [Z x N] and the KL's weight in the loss, kl_scale.
  template <class T>
  static void gaussian_latent_backward(MatrixView<T> d_head, MatrixView<const T> dz, MatrixView<const T> head,
                                       MatrixView<const T> eps, T kl_scale, LatentClamp c) {
    const Index Z = dz.rows;
    for (Index j = 0; j < dz.cols; ++j)
      for (Index i = 0; i < Z; ++i) {
        const T mu = head(i, j), raw = head(Z + i, j);
        const T lv = gaussian::clamp_lv(raw, T(c.lv_min), T(c.lv_max));
        const T s = std::exp(T(0.5) * lv);
        d_head(i, j) = dz(i, j) + kl_scale * mu;
        d_head(Z + i, j) = gaussian::lv_active(raw, T(c.lv_min), T(c.lv_max))
                               ? dz(i, j) * eps(i, j) * T(0.5) * s + kl_scale * T(0.5) * (s * s - T(1))
                               : T(0);
      }
  }
  // out[j] = sum_i log N(z_ij; 0, 1) - log q(z_ij | x_j): the importance weight's latent part.
  template <class T>
  static void gaussian_log_weight(VectorView<T> out, MatrixView<const T> z, MatrixView<const T> head,
                                  MatrixView<const T> eps, LatentClamp c) {
    const Index Z = z.rows;
    for (Index j = 0; j < z.cols; ++j) {
      T s = 0;
      for (Index i = 0; i < Z; ++i)
        s += gaussian::log_prior_minus_log_q(z(i, j), eps(i, j), gaussian::clamp_lv(head(Z + i, j), T(c.lv_min), T(c.lv_max)));
      out[j] = s;
    }
  }

  // ---- count likelihood heads (distributions/likelihood.hpp holds the fused CPU pass) --------
  template <class T>
  static void likelihood_forward_backward(const LikelihoodSpec& spec, MatrixView<const T> heads,
                                          VectorView<const T> gene_log_theta, CscView<float> counts,
                                          VectorView<const T> cell_weight, VectorView<T> log_px,
                                          MatrixView<T> d_heads, VectorView<T> d_gene_log_theta) {
    scvae::likelihood_forward_backward<T>(spec, heads, gene_log_theta, counts, cell_weight, log_px, d_heads,
                                          d_gene_log_theta);
  }
  template <class T>
  static void likelihood_mean_variance(const LikelihoodSpec& spec, MatrixView<const T> heads,
                                       VectorView<const T> gene_log_theta, MatrixView<T> mean, MatrixView<T> variance) {
    scvae::mean_variance<T>(spec, heads, gene_log_theta, mean, variance);
  }

  // ---- Gaussian-mixture VAE (models/gmvae.hpp) ----------------------------------------------
  // Columns are component-major: column k*N + j is cell j under component k.
  // q [K x N] = softmax of logits per column, log_q its logarithm.
  template <class T>
  static void softmax_columns(MatrixView<T> q, MatrixView<T> log_q, MatrixView<const T> logits) {
    for (Index j = 0; j < logits.cols; ++j) {
      T m = logits(0, j);
      for (Index k = 1; k < logits.rows; ++k) m = std::max(m, logits(k, j));
      T s = 0;
      for (Index k = 0; k < logits.rows; ++k) s += std::exp(logits(k, j) - m);
      const T ls = m + std::log(s);
      for (Index k = 0; k < logits.rows; ++k) {
        log_q(k, j) = logits(k, j) - ls;
        q(k, j) = std::exp(log_q(k, j));
      }
    }
  }
  // pre [H x K*N]: pre[:, k*N + j] = p[:, j] + wk[:, k] (the one-hot component input of q(z|x,k)).
  template <class T>
  static void broadcast_components(MatrixView<T> pre, MatrixView<const T> p, MatrixView<const T> wk) {
    const Index N = p.cols, K = wk.cols, H = p.rows;
    for (Index k = 0; k < K; ++k)
      for (Index j = 0; j < N; ++j)
        for (Index i = 0; i < H; ++i) pre(i, k * N + j) = p(i, j) + wk(i, k);
  }
  // dp [H x N] = sum_k d_pre[:, k*N + j] (overwritten); dwk[:, k] += sum_j d_pre[:, k*N + j].
  template <class T>
  static void reduce_components(MatrixView<T> dp, MatrixView<T> dwk, MatrixView<const T> d_pre) {
    const Index N = dp.cols, K = dwk.cols, H = dp.rows;
    fill(dp, T(0));
    for (Index k = 0; k < K; ++k)
      for (Index j = 0; j < N; ++j)
        for (Index i = 0; i < H; ++i) {
          dp(i, j) += d_pre(i, k * N + j);
          dwk(i, k) += d_pre(i, k * N + j);
        }
  }
  // w[k*N + j] = scale * q[k, j].
  template <class T>
  static void mixture_weights(VectorView<T> w, MatrixView<const T> q, T scale) {
    const Index K = q.rows, N = q.cols;
    for (Index k = 0; k < K; ++k)
      for (Index j = 0; j < N; ++j) w[k * N + j] = scale * q(k, j);
  }
  // z = mu + e^{lv/2} eps and klz[c] = KL(N(mu, e^lv) || N(m_k, softplus(s_k))) per column c = k*N + j.
  template <class T>
  static void mixture_latent_forward(MatrixView<T> z, VectorView<T> klz, MatrixView<const T> head,
                                     MatrixView<const T> eps, MatrixView<const T> prior_mean,
                                     MatrixView<const T> prior_raw, Index n, LatentClamp c) {
    const Index Z = z.rows;
    for (Index col = 0; col < z.cols; ++col) {
      const Index k = col / n;
      T kl = 0;
      for (Index i = 0; i < Z; ++i) {
        const T mu = head(i, col), lv = gaussian::clamp_lv(head(Z + i, col), T(c.lv_min), T(c.lv_max));
        z(i, col) = mu + std::exp(T(0.5) * lv) * eps(i, col);
        kl += gaussian::kl_normal(mu, lv, prior_mean(i, k), std::log(gaussian::softplus_scalar(prior_raw(i, k))));
      }
      if (klz.data) klz[col] = kl;
    }
  }
  // d_head overwritten; d_prior_mean, d_prior_raw accumulated; kl_scale[c] is d loss / d klz[c].
  template <class T>
  static void mixture_latent_backward(MatrixView<T> d_head, MatrixView<T> d_prior_mean, MatrixView<T> d_prior_raw,
                                      MatrixView<const T> dz, MatrixView<const T> head, MatrixView<const T> eps,
                                      MatrixView<const T> prior_mean, MatrixView<const T> prior_raw,
                                      VectorView<const T> kl_scale, Index n, LatentClamp c) {
    const Index Z = dz.rows;
    for (Index col = 0; col < dz.cols; ++col) {
      const Index k = col / n;
      const T ks = kl_scale[col];
      for (Index i = 0; i < Z; ++i) {
        const T mu = head(i, col), raw = head(Z + i, col);
        const T lv = gaussian::clamp_lv(raw, T(c.lv_min), T(c.lv_max));
        const T s = prior_raw(i, k), plv = std::log(gaussian::softplus_scalar(s));
        const T inv_pv = std::exp(-plv), d = mu - prior_mean(i, k), sd = std::exp(T(0.5) * lv);
        d_head(i, col) = dz(i, col) + ks * d * inv_pv;
        d_head(Z + i, col) = gaussian::lv_active(raw, T(c.lv_min), T(c.lv_max))
                                 ? dz(i, col) * eps(i, col) * T(0.5) * sd + ks * T(0.5) * (sd * sd * inv_pv - T(1))
                                 : T(0);
        d_prior_mean(i, k) -= ks * d * inv_pv;
        d_prior_raw(i, k) += ks * T(0.5) * (T(1) - (sd * sd + d * d) * inv_pv) * gaussian::dlog_softplus(s);
      }
    }
  }
  // The exact sum over components. Per cell j, with F_k = log p(x|z_k) - beta KLz_k:
  //   ELBO_j(beta) = sum_k q_k F_k - beta sum_k q_k (log q_k - log pi_k)
  // Outputs per cell (beta = 1 for the reported terms): ll = sum_k q_k log p(x|z_k),
  // kl = sum_k q_k KLz_k + KL(q(y|x) || p(y)); d_logits = scale * d ELBO / d logits (overwritten);
  // d_prior_logits += scale * d ELBO / d prior logits (skipped if empty). scale = -1/N for the loss.
  template <class T>
  static void mixture_combine(VectorView<T> ll, VectorView<T> kl, MatrixView<T> d_logits, VectorView<T> d_prior_logits,
                              MatrixView<const T> q, MatrixView<const T> log_q, VectorView<const T> log_px,
                              VectorView<const T> klz, VectorView<const T> log_prior, T beta, T scale) {
    const Index K = q.rows, N = q.cols;
    for (Index j = 0; j < N; ++j) {
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
      ll[j] = l;
      kl[j] = kz + ky;
      if (d_logits.data)
        for (Index k = 0; k < K; ++k) {
          const Index c = k * N + j;
          const T g = log_px[c] - beta * klz[c] - beta * (log_q(k, j) - log_prior[k]);
          d_logits(k, j) = scale * q(k, j) * (g - mean_g);
        }
      if (d_prior_logits.data)
        for (Index k = 0; k < K; ++k) d_prior_logits[k] += scale * beta * (q(k, j) - std::exp(log_prior[k]));
    }
  }
};

}  // namespace scvae
