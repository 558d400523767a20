#pragma once
// The CUDA backend: the second implementation of the backend trait (backend/cpu.hpp is the
// reference for every operation's semantics). Models and layers do not change, only the
// backend type: Vae<CudaBackend, float>, Gmvae<CudaBackend, float>.
//
//   - Views (MatrixView, VectorView, CscView) hold DEVICE pointers; Buffer<T> is an RAII device
//     array (cudaMalloc, zero-filled like the CPU's std::vector; movable, not copyable).
//   - Every call enqueues on the calling thread's stream (cuda/context.cuh); upload, download and
//     the scalar-returning sum / sum_squares / all_finite synchronise it.
//   - GEMMs are cuBLAS (column-major, any ld, FP32 without TF32); everything else is a kernel in
//     cuda/*.cuh. Deterministic: no atomics on floating-point data, fixed reduction orders.
//   - Random numbers: a 64-bit seed is drawn from the host Rng per call and expanded by Philox on
//     the device (same seed, same shape -> same draws; not the CPU's draws).
//   - Sparse batches must be on the device: see cuda/device_data.cuh (DeviceCsr, DeviceBatch)
//     and train/cuda_trainer.cuh.
// Compiled only by nvcc (link scvae::cuda); the CPU headers never include this file.
#include <cmath>
#include <string>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../core/view.hpp"
#include "../distributions/likelihood.hpp"
#include "../inference/gaussian.hpp"
#include "cuda/batch_norm.cuh"
#include "cuda/buffer.cuh"
#include "cuda/common.cuh"
#include "cuda/context.cuh"
#include "cuda/elementwise.cuh"
#include "cuda/latent.cuh"
#include "cuda/library.cuh"
#include "cuda/likelihood.cuh"
#include "cuda/reduce.cuh"
#include "cuda/sparse.cuh"

namespace scvae {

struct CudaBackend {
  static constexpr const char* name = "cuda";
  template <class T>
  using Buffer = cuda::DeviceBuffer<T>;

  // ---- threads and memory -------------------------------------------------------------------
  // Host threads play no part in the GPU's work: set_threads is accepted and ignored, threads()
  // is 1 (the backend issues all work from the calling thread).
  static void set_threads(int) {}
  static int threads() { return 1; }
  template <class T>
  static Buffer<T> allocate(Index n) { return Buffer<T>(n); }
  template <class T>
  static T* data(Buffer<T>& b) { return b.data(); }
  template <class T>
  static const T* data(const Buffer<T>& b) { return b.data(); }
  // Host -> device (dst: device view, host: dst.size values). Returns when the copy is done.
  template <class T>
  static void upload(VectorView<T> dst, const T* host) {
    if (dst.size <= 0) return;
    auto& ctx = cuda::Context::get();
    SCVAE_CUDA_CHECK(cudaMemcpyAsync(dst.data, host, bytes<T>(dst.size), cudaMemcpyHostToDevice, ctx.stream()));
    ctx.synchronize();
  }
  // Device -> host (waits for the work queued before it).
  template <class T>
  static void download(T* host, VectorView<const T> src) {
    if (src.size <= 0) return;
    auto& ctx = cuda::Context::get();
    SCVAE_CUDA_CHECK(cudaMemcpyAsync(host, src.data, bytes<T>(src.size), cudaMemcpyDeviceToHost, ctx.stream()));
    ctx.synchronize();
  }

  template <class T>
  static void fill(VectorView<T> v, T value) {
    fill(MatrixView<T>(v.data, v.size, v.size > 0 ? 1 : 0), value);
  }
  template <class T>
  static void fill(MatrixView<T> m, T value) {
    if (m.size() <= 0) return;
    auto& ctx = cuda::Context::get();
    if (value == T(0) && !std::signbit(value) && m.contiguous()) {
      SCVAE_CUDA_CHECK(cudaMemsetAsync(m.data, 0, bytes<T>(m.size()), ctx.stream()));
      return;
    }
    cuda::detail::apply_kernel<<<ctx.grid(m.size()), cuda::detail::kThreads, 0, ctx.stream()>>>(
        m, cuda::detail::SetTo<T>{value});
    SCVAE_CUDA_LAUNCH_CHECK("fill");
  }
  template <class T>
  static void copy(MatrixView<const T> src, MatrixView<T> dst) {
    SCVAE_CHECK(src.rows == dst.rows && src.cols == dst.cols, "copy: shapes differ");
    if (src.size() <= 0) return;
    auto& ctx = cuda::Context::get();
    SCVAE_CUDA_CHECK(cudaMemcpy2DAsync(dst.data, bytes<T>(dst.ld), src.data, bytes<T>(src.ld), bytes<T>(src.rows),
                                       static_cast<std::size_t>(src.cols), cudaMemcpyDeviceToDevice, ctx.stream()));
  }

  // ---- dense linear algebra -----------------------------------------------------------------
  // C [M x N] = alpha * op(A) [M x K] * op(B) [K x N] + beta * C (cuBLAS, column-major, any ld).
  template <class T>
  static void gemm(bool trans_a, bool trans_b, T alpha, MatrixView<const T> a, MatrixView<const T> b, T beta,
                   MatrixView<T> c) {
    const Index M = trans_a ? a.cols : a.rows, K = trans_a ? a.rows : a.cols;
    const Index Kb = trans_b ? b.cols : b.rows, N = trans_b ? b.rows : b.cols;
    SCVAE_CHECK(K == Kb && c.rows == M && c.cols == N, "gemm: inner or outer dimensions do not match");
    if (M == 0 || N == 0) return;
    auto& ctx = cuda::Context::get();
    if (K == 0) {  // C = beta C (cuBLAS would also do this, but A's ld may be 0 here)
      if (beta == T(0)) fill(c, T(0));
      else if (beta != T(1)) apply(c, cuda::detail::Scale<T>{beta});
      return;
    }
    cuda::ScopedTimer timer(ctx, "gemm", 2.0 * double(M) * double(N) * double(K));
    const cublasOperation_t oa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, ob = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int m = to_int(M), n = to_int(N), k = to_int(K);
    const int lda = to_int(a.ld > 0 ? a.ld : 1), ldb = to_int(b.ld > 0 ? b.ld : 1), ldc = to_int(c.ld);
    if constexpr (sizeof(T) == 4)
      SCVAE_CUDA_CHECK(cublasSgemm(ctx.cublas(), oa, ob, m, n, k, &alpha, a.data, lda, b.data, ldb, &beta, c.data, ldc));
    else
      SCVAE_CUDA_CHECK(cublasDgemm(ctx.cublas(), oa, ob, m, n, k, &alpha, a.data, lda, b.data, ldb, &beta, c.data, ldc));
  }

  // C [M x N] = alpha * W [M x G] * X [G x N] (sparse, device CSC) + beta * C.
  template <class T>
  static void spmm(T alpha, MatrixView<const T> w, CscView<float> x, T beta, MatrixView<T> c) {
    SCVAE_CHECK(w.cols == x.rows && c.rows == w.rows && c.cols == x.cols, "spmm: shapes do not match");
    if (c.size() <= 0) return;
    auto& ctx = cuda::Context::get();
    check_device_csc(ctx, x, "spmm");
    cuda::ScopedTimer timer(ctx, "spmm");
    const dim3 grid(static_cast<unsigned int>(x.cols),
                    static_cast<unsigned int>((c.rows + cuda::detail::kSparseThreads - 1) / cuda::detail::kSparseThreads));
    cuda::detail::spmm_kernel<T><<<grid, cuda::detail::kSparseThreads, 0, ctx.stream()>>>(alpha, w, x, beta, c, ctx.status());
    SCVAE_CUDA_LAUNCH_CHECK("spmm");
  }
  // dW [M x G] += alpha * dC [M x N] * X^T (X [G x N] sparse, device CSC); accumulate = false
  // writes the product (every element, old values unread), as CpuBackend. Gene-partitioned,
  // deterministic (see cuda/sparse.cuh). A malformed batch (where CpuBackend::spmm_grad throws)
  // is reported at the next synchronising call, as for spmm.
  template <class T>
  static void spmm_grad(T alpha, MatrixView<const T> dc, CscView<float> x, MatrixView<T> dw, bool accumulate = true) {
    SCVAE_CHECK(dw.cols == x.rows && dc.rows == dw.rows && dc.cols == x.cols, "spmm_grad: shapes do not match");
    if (dw.size() <= 0) return;
    if (x.cols <= 0) {  // an empty batch: the product is zero
      if (!accumulate) fill<T>(dw, T(0));
      return;
    }
    auto& ctx = cuda::Context::get();
    check_device_csc(ctx, x, "spmm_grad");
    cuda::ScopedTimer timer(ctx, "spmm_grad");
    const dim3 grid(static_cast<unsigned int>(x.rows),
                    static_cast<unsigned int>((dw.rows + cuda::detail::kSparseThreads - 1) / cuda::detail::kSparseThreads));
    cuda::detail::spmm_grad_kernel<T><<<grid, cuda::detail::kSparseThreads, 0, ctx.stream()>>>(alpha, dc, x, dw,
                                                                                              accumulate, ctx.status());
    SCVAE_CUDA_LAUNCH_CHECK("spmm_grad");
  }
  // C[:, j] += b.
  template <class T>
  static void add_bias(MatrixView<T> c, VectorView<const T> b) {
    SCVAE_CHECK(b.size == c.rows, "add_bias: bias size != rows");
    if (c.size() <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::add_bias_kernel<T><<<ctx.grid(c.size()), cuda::detail::kThreads, 0, ctx.stream()>>>(c, b.data);
    SCVAE_CUDA_LAUNCH_CHECK("add_bias");
  }
  // db += row sums of dC.
  template <class T>
  static void bias_grad(MatrixView<const T> dc, VectorView<T> db) {
    SCVAE_CHECK(db.size == dc.rows, "bias_grad: bias size != rows");
    if (dc.rows <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::bias_grad_kernel<T><<<ctx.grid(dc.rows), cuda::detail::kThreads, 0, ctx.stream()>>>(dc, db.data);
    SCVAE_CUDA_LAUNCH_CHECK("bias_grad");
  }

  // ---- elementwise activations --------------------------------------------------------------
  template <class T>
  static void relu_forward(MatrixView<T> out, MatrixView<const T> in) { map1(out, in, cuda::detail::Relu<T>{}); }
  // d_in = d_out * [in > 0]; d_in may alias d_out.
  template <class T>
  static void relu_backward(MatrixView<T> d_in, MatrixView<const T> d_out, MatrixView<const T> in) {
    map2(d_in, d_out, in, cuda::detail::ReluGrad<T>{});
  }
  template <class T>
  static void softplus_forward(MatrixView<T> out, MatrixView<const T> in) { map1(out, in, cuda::detail::Softplus<T>{}); }
  template <class T>
  static void softplus_backward(MatrixView<T> d_in, MatrixView<const T> d_out, MatrixView<const T> in) {
    map2(d_in, d_out, in, cuda::detail::SoftplusGrad<T>{});
  }
  // Inverted dropout: mask holds 0 or 1/(1-p), drawn here (one 64-bit seed from rng); out = in * mask.
  template <class T>
  static void dropout_mask(MatrixView<T> mask, T p, Rng& rng) {
    const unsigned long long seed = rng.next_u64();
    if (mask.size() <= 0) return;
    auto& ctx = cuda::Context::get();
    const T keep = T(1) / (T(1) - p);
    cuda::detail::dropout_mask_kernel<T><<<ctx.grid(mask.size()), cuda::detail::kThreads, 0, ctx.stream()>>>(mask, p, keep, seed);
    SCVAE_CUDA_LAUNCH_CHECK("dropout_mask");
  }
  template <class T>
  static void multiply(MatrixView<T> out, MatrixView<const T> a, MatrixView<const T> b) {
    map2(out, a, b, cuda::detail::Mul<T>{});
  }

  // ---- batch normalisation (per feature = row, over the batch = columns) ---------------------
  template <class T>
  static void batch_norm_forward_train(MatrixView<T> y, MatrixView<T> xhat, VectorView<T> mean, VectorView<T> inv_std,
                                       MatrixView<const T> x, VectorView<const T> gamma, VectorView<const T> beta,
                                       VectorView<T> running_mean, VectorView<T> running_var, T eps, T momentum) {
    const Index F = x.rows;
    SCVAE_CHECK(y.rows == F && y.cols == x.cols && xhat.rows == F && xhat.cols == x.cols,
                "batch_norm_forward_train: y and xhat must have the shape of x");
    SCVAE_CHECK(mean.size == F && inv_std.size == F && beta.size == F && (gamma.size == 0 || gamma.size == F),
                "batch_norm_forward_train: per-feature vectors must have one entry per row");
    if (F <= 0 || x.cols <= 0) return;
    auto& ctx = cuda::Context::get();
    using namespace cuda::detail;
    bn_forward_train_kernel<T><<<blocks_for(F, kBnRows, 1 << 30), dim3(kBnRows, kBnCols), 0, ctx.stream()>>>(
        y, xhat, mean.data, inv_std.data, x, gamma.size ? gamma.data : nullptr, beta.data,
        running_mean.size ? running_mean.data : nullptr, running_mean.size ? running_var.data : nullptr, eps, momentum);
    SCVAE_CUDA_LAUNCH_CHECK("batch_norm_forward_train");
  }
  template <class T>
  static void batch_norm_forward_eval(MatrixView<T> y, MatrixView<const T> x, VectorView<const T> gamma,
                                      VectorView<const T> beta, VectorView<const T> running_mean,
                                      VectorView<const T> running_var, T eps) {
    SCVAE_CHECK(y.rows == x.rows && y.cols == x.cols, "batch_norm_forward_eval: y must have the shape of x");
    if (x.size() <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::bn_forward_eval_kernel<T><<<ctx.grid(x.size()), cuda::detail::kThreads, 0, ctx.stream()>>>(
        y, x, gamma.size ? gamma.data : nullptr, beta.data, running_mean.data, running_var.data, eps);
    SCVAE_CUDA_LAUNCH_CHECK("batch_norm_forward_eval");
  }
  template <class T>
  static void batch_norm_backward(MatrixView<T> dx, VectorView<T> dgamma, VectorView<T> dbeta, MatrixView<const T> dy,
                                  MatrixView<const T> xhat, VectorView<const T> inv_std, VectorView<const T> gamma) {
    const Index F = dy.rows;
    SCVAE_CHECK(dx.rows == F && dx.cols == dy.cols && xhat.rows == F && xhat.cols == dy.cols,
                "batch_norm_backward: dx and xhat must have the shape of dy");
    if (F <= 0 || dy.cols <= 0) return;
    auto& ctx = cuda::Context::get();
    using namespace cuda::detail;
    bn_backward_kernel<T><<<blocks_for(F, kBnRows, 1 << 30), dim3(kBnRows, kBnCols), 0, ctx.stream()>>>(
        dx, dgamma.size ? dgamma.data : nullptr, dbeta.data, dy, xhat, inv_std.data, gamma.size ? gamma.data : nullptr);
    SCVAE_CUDA_LAUNCH_CHECK("batch_norm_backward");
  }

  // ---- random numbers ----------------------------------------------------------------------
  // Standard normals: one 64-bit seed from rng, Philox on the device (element (i, j) uses
  // subsequence i + j * rows). Same rng state -> same draws.
  template <class T>
  static void random_normal(MatrixView<T> out, Rng& rng) {
    const unsigned long long seed = rng.next_u64();
    if (out.size() <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::random_normal_kernel<T><<<ctx.grid(out.size()), cuda::detail::kThreads, 0, ctx.stream()>>>(out, seed);
    SCVAE_CUDA_LAUNCH_CHECK("random_normal");
  }

  // ---- reductions and optimiser support (the scalar is copied back) -------------------------
  template <class T>
  static T sum(VectorView<const T> v) {
    return static_cast<T>(cuda::detail::reduce<cuda::detail::ReduceOp::sum, T>(v));
  }
  template <class T>
  static double sum_squares(VectorView<const T> v) {
    return cuda::detail::reduce<cuda::detail::ReduceOp::sum_squares, T>(v);
  }
  template <class T>
  static bool all_finite(VectorView<const T> v) {
    return cuda::detail::reduce<cuda::detail::ReduceOp::non_finite, T>(v) == 0.0;
  }
  template <class T>
  static void scale(VectorView<T> v, T a) {
    apply(MatrixView<T>(v.data, v.size, v.size > 0 ? 1 : 0), cuda::detail::Scale<T>{a});
  }
  template <class T>
  static void clamp(VectorView<T> v, T lo, T hi) {
    apply(MatrixView<T>(v.data, v.size, v.size > 0 ? 1 : 0), cuda::detail::Clamp<T>{lo, hi});
  }
  // One Adam step over the whole arena (bias corrections computed here exactly as on the CPU;
  // grad_scale and clip as CpuBackend::adam_step: clip(grad_scale * g, [-clip, clip]), 0 = off).
  template <class T>
  static void adam_step(VectorView<T> p, VectorView<const T> g, VectorView<T> m, VectorView<T> v, T lr, T beta1,
                        T beta2, T eps, T weight_decay, bool decoupled, long step, T grad_scale = T(1),
                        T clip = T(0)) {
    SCVAE_CHECK(g.size == p.size && m.size == p.size && v.size == p.size, "adam_step: sizes differ");
    if (p.size <= 0) return;
    const T bc1 = T(1) - std::pow(beta1, T(step));
    const T bc2 = T(1) - std::pow(beta2, T(step));
    const T step_size = lr / bc1;
    const T inv_sqrt_bc2 = T(1) / std::sqrt(bc2);
    auto& ctx = cuda::Context::get();
    cuda::detail::adam_kernel<T><<<ctx.grid(p.size), cuda::detail::kThreads, 0, ctx.stream()>>>(
        p.data, g.data, m.data, v.data, p.size, lr, beta1, beta2, eps, weight_decay, decoupled, step_size, inv_sqrt_bc2,
        grad_scale, clip);
    SCVAE_CUDA_LAUNCH_CHECK("adam_step");
  }

  // ---- Gaussian latent ----------------------------------------------------------------------
  // z [Z x N] = mu + exp(lv/2) eps, kl [N] (skipped when kl.data is null); head [2Z x N].
  template <class T>
  static void gaussian_latent_forward(MatrixView<T> z, VectorView<T> kl, MatrixView<const T> head,
                                      MatrixView<const T> eps, LatentClamp c) {
    SCVAE_CHECK(head.rows == 2 * z.rows && head.cols == z.cols && eps.rows == z.rows && eps.cols == z.cols,
                "gaussian_latent_forward: head must be [2Z x N], eps [Z x N]");
    if (z.cols <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::gaussian_latent_forward_kernel<T><<<ctx.grid(z.cols), cuda::detail::kThreads, 0, ctx.stream()>>>(
        z, kl.data, head, eps, T(c.lv_min), T(c.lv_max));
    SCVAE_CUDA_LAUNCH_CHECK("gaussian_latent_forward");
  }
  // d_head [2Z x N] (overwritten) from dz [Z x N] and the KL's weight kl_scale.
  template <class T>
  static void gaussian_latent_backward(MatrixView<T> d_head, MatrixView<const T> dz, MatrixView<const T> head,
                                       MatrixView<const T> eps, T kl_scale, LatentClamp c) {
    SCVAE_CHECK(d_head.rows == 2 * dz.rows && head.rows == 2 * dz.rows && d_head.cols == dz.cols &&
                    head.cols == dz.cols && eps.rows == dz.rows && eps.cols == dz.cols,
                "gaussian_latent_backward: shapes do not match");
    if (dz.size() <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::gaussian_latent_backward_kernel<T><<<ctx.grid(dz.size()), cuda::detail::kThreads, 0, ctx.stream()>>>(
        d_head, dz, head, eps, kl_scale, T(c.lv_min), T(c.lv_max));
    SCVAE_CUDA_LAUNCH_CHECK("gaussian_latent_backward");
  }
  // out [N] = sum_i log N(z_ij; 0, 1) - log q(z_ij | x_j).
  template <class T>
  static void gaussian_log_weight(VectorView<T> out, MatrixView<const T> z, MatrixView<const T> head,
                                  MatrixView<const T> eps, LatentClamp c) {
    SCVAE_CHECK(out.size == z.cols && head.rows == 2 * z.rows && head.cols == z.cols && eps.rows == z.rows &&
                    eps.cols == z.cols,
                "gaussian_log_weight: shapes do not match");
    if (z.cols <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::gaussian_log_weight_kernel<T><<<ctx.grid(z.cols), cuda::detail::kThreads, 0, ctx.stream()>>>(
        out.data, z, head, eps, T(c.lv_min), T(c.lv_max));
    SCVAE_CUDA_LAUNCH_CHECK("gaussian_log_weight");
  }

  // ---- count likelihood heads (cuda/likelihood.cuh) -----------------------------------------
  // log_px [B] = per-cell log p(x | heads); d_heads [P*G x B] = cell_weight[b] * gradient
  // (overwritten; skipped when d_heads.data is null); d_gene_log_theta [G] accumulated.
  template <class T>
  static void likelihood_forward_backward(const LikelihoodSpec& spec, MatrixView<const T> heads,
                                          VectorView<const T> gene_log_theta, CscView<float> counts,
                                          VectorView<const T> cell_weight, VectorView<T> log_px,
                                          MatrixView<T> d_heads, VectorView<T> d_gene_log_theta) {
    const Index G = counts.rows, B = counts.cols;
    scvae::detail::check_pass_args(spec, heads, gene_log_theta, counts, cell_weight, log_px, d_heads,
                                   d_gene_log_theta);
    const bool grad = d_heads.data != nullptr;
    const bool gene = has_gene_dispersion(spec);
    if (B <= 0) return;
    if (G <= 0) {  // no genes: log p(x) = 0, as on the CPU
      fill<T>(log_px, T(0));
      return;
    }
    auto& ctx = cuda::Context::get();
    check_device_csc(ctx, counts, "likelihood_forward_backward");
    using namespace cuda::detail;
    // Work area: per-(tile, cell) log-pmf partials, then per-(cell group, gene) theta partials.
    const Index tiles = (G + kLikTile - 1) / kLikTile, groups = (B + kLikCols - 1) / kLikCols;
    const std::size_t lp_bytes = ((static_cast<std::size_t>(tiles * B) * sizeof(double) + 255) / 256) * 256;
    const std::size_t th_bytes = (gene && grad) ? static_cast<std::size_t>(groups * G) * sizeof(T) : 0;
    char* ws = static_cast<char*>(ctx.workspace(lp_bytes + th_bytes));
    double* lp_partial = reinterpret_cast<double*>(ws);
    T* theta_partial = reinterpret_cast<T*>(ws + lp_bytes);
    // nnz is read on the host only for the bandwidth report of enabled timers.
    cuda::ScopedTimer timer(ctx, timer_name(spec, grad),
                            ctx.timers.enabled ? likelihood_bytes(spec, G, B, device_nnz(ctx, counts), grad, sizeof(T)) : 0);
    switch (spec.kind) {
      case Likelihood::poisson:
        likelihood_dispatch<Likelihood::poisson, T>(false, grad, &ctx, heads, gene_log_theta, counts, cell_weight, log_px,
                                                    d_heads, d_gene_log_theta, lp_partial, theta_partial);
        break;
      case Likelihood::nb:
        likelihood_dispatch<Likelihood::nb, T>(gene, grad, &ctx, heads, gene_log_theta, counts, cell_weight, log_px,
                                               d_heads, d_gene_log_theta, lp_partial, theta_partial);
        break;
      case Likelihood::zip:
        likelihood_dispatch<Likelihood::zip, T>(false, grad, &ctx, heads, gene_log_theta, counts, cell_weight, log_px,
                                                d_heads, d_gene_log_theta, lp_partial, theta_partial);
        break;
      case Likelihood::zinb:
        likelihood_dispatch<Likelihood::zinb, T>(gene, grad, &ctx, heads, gene_log_theta, counts, cell_weight, log_px,
                                                 d_heads, d_gene_log_theta, lp_partial, theta_partial);
        break;
    }
  }
  // Mean and/or variance [G x B] of p(x | heads) (either output may have data == nullptr).
  template <class T>
  static void likelihood_mean_variance(const LikelihoodSpec& spec, MatrixView<const T> heads,
                                       VectorView<const T> gene_log_theta, MatrixView<T> mean, MatrixView<T> variance) {
    const Index G = heads.rows / n_heads(spec), B = heads.cols;
    scvae::detail::check_heads(spec, heads, gene_log_theta, G);
    if (mean.data) SCVAE_CHECK(mean.rows == G && mean.cols == B, "mean_variance: mean must be [G x B]");
    if (variance.data) SCVAE_CHECK(variance.rows == G && variance.cols == B, "mean_variance: variance must be [G x B]");
    if (G * B <= 0 || (!mean.data && !variance.data)) return;
    auto& ctx = cuda::Context::get();
    const T* glt = has_gene_dispersion(spec) ? gene_log_theta.data : nullptr;
    const unsigned int grid = ctx.grid(G * B);
    using namespace cuda::detail;
    switch (spec.kind) {
      case Likelihood::poisson:
        mean_variance_kernel<Likelihood::poisson, T><<<grid, kThreads, 0, ctx.stream()>>>(spec, heads, glt, mean, variance, G);
        break;
      case Likelihood::nb:
        mean_variance_kernel<Likelihood::nb, T><<<grid, kThreads, 0, ctx.stream()>>>(spec, heads, glt, mean, variance, G);
        break;
      case Likelihood::zip:
        mean_variance_kernel<Likelihood::zip, T><<<grid, kThreads, 0, ctx.stream()>>>(spec, heads, glt, mean, variance, G);
        break;
      case Likelihood::zinb:
        mean_variance_kernel<Likelihood::zinb, T><<<grid, kThreads, 0, ctx.stream()>>>(spec, heads, glt, mean, variance, G);
        break;
    }
    SCVAE_CUDA_LAUNCH_CHECK("likelihood_mean_variance");
  }

  // ---- library-size mean (models/count_decoder.hpp, MeanLink::library) ----------------------
  template <class T>
  static void column_log_library(CscView<float> x, bool log1p_input, VectorView<T> out) {
    SCVAE_CHECK(out.size == x.cols, "column_log_library: one output per column");
    if (x.cols <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::column_log_library_kernel<T>
        <<<static_cast<unsigned int>(x.cols), cuda::detail::kThreads, 0, ctx.stream()>>>(x, log1p_input, out.data);
    SCVAE_CUDA_LAUNCH_CHECK("column_log_library");
  }
  template <class T>
  static void log_softmax_shift(MatrixView<T> a, VectorView<const T> shift) {
    SCVAE_CHECK(shift.size == a.cols, "log_softmax_shift: one shift per column");
    if (a.cols <= 0 || a.rows <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::log_softmax_shift_kernel<T>
        <<<static_cast<unsigned int>(a.cols), cuda::detail::kThreads, 0, ctx.stream()>>>(a, shift.data);
    SCVAE_CUDA_LAUNCH_CHECK("log_softmax_shift");
  }
  template <class T>
  static void log_softmax_shift_backward(MatrixView<T> dy, MatrixView<const T> y, VectorView<const T> shift) {
    SCVAE_CHECK(y.rows == dy.rows && y.cols == dy.cols && shift.size == dy.cols,
                "log_softmax_shift_backward: dy, y and shift must match");
    if (dy.cols <= 0 || dy.rows <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::log_softmax_shift_backward_kernel<T>
        <<<static_cast<unsigned int>(dy.cols), cuda::detail::kThreads, 0, ctx.stream()>>>(dy, y, shift.data);
    SCVAE_CUDA_LAUNCH_CHECK("log_softmax_shift_backward");
  }

  // ---- Gaussian-mixture VAE (columns component-major: column k*N + j = cell j, component k) ---
  template <class T>
  static void softmax_columns(MatrixView<T> q, MatrixView<T> log_q, MatrixView<const T> logits) {
    SCVAE_CHECK(q.rows == logits.rows && q.cols == logits.cols && log_q.rows == logits.rows &&
                    log_q.cols == logits.cols,
                "softmax_columns: q and log_q must have the shape of logits");
    if (logits.cols <= 0 || logits.rows <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::softmax_columns_kernel<T><<<ctx.grid(logits.cols), cuda::detail::kThreads, 0, ctx.stream()>>>(q, log_q, logits);
    SCVAE_CUDA_LAUNCH_CHECK("softmax_columns");
  }
  // pre [H x K*N] = p [H x N] broadcast + wk [H x K].
  template <class T>
  static void broadcast_components(MatrixView<T> pre, MatrixView<const T> p, MatrixView<const T> wk) {
    SCVAE_CHECK(pre.rows == p.rows && wk.rows == p.rows && pre.cols == p.cols * wk.cols,
                "broadcast_components: pre must be [H x K*N]");
    if (pre.size() <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::broadcast_components_kernel<T><<<ctx.grid(pre.size()), cuda::detail::kThreads, 0, ctx.stream()>>>(pre, p, wk);
    SCVAE_CUDA_LAUNCH_CHECK("broadcast_components");
  }
  // dp [H x N] = sum_k d_pre (overwritten); dwk [H x K] += sum_j d_pre.
  template <class T>
  static void reduce_components(MatrixView<T> dp, MatrixView<T> dwk, MatrixView<const T> d_pre) {
    SCVAE_CHECK(d_pre.rows == dp.rows && dwk.rows == dp.rows && d_pre.cols == dp.cols * dwk.cols,
                "reduce_components: d_pre must be [H x K*N]");
    if (dp.rows <= 0) return;
    auto& ctx = cuda::Context::get();
    if (dp.size() > 0) {
      cuda::detail::reduce_components_dp_kernel<T><<<ctx.grid(dp.size()), cuda::detail::kThreads, 0, ctx.stream()>>>(
          dp, d_pre, dwk.cols);
      SCVAE_CUDA_LAUNCH_CHECK("reduce_components_dp");
    }
    if (dwk.size() > 0) {
      cuda::detail::reduce_components_dw_kernel<T><<<ctx.grid(dwk.size()), cuda::detail::kThreads, 0, ctx.stream()>>>(
          dwk, d_pre, dp.cols);
      SCVAE_CUDA_LAUNCH_CHECK("reduce_components_dw");
    }
  }
  // w [K*N]: w[k*N + j] = scale * q[k, j].
  template <class T>
  static void mixture_weights(VectorView<T> w, MatrixView<const T> q, T scale) {
    SCVAE_CHECK(w.size == q.rows * q.cols, "mixture_weights: w must have K*N entries");
    if (w.size <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::mixture_weights_kernel<T><<<ctx.grid(w.size), cuda::detail::kThreads, 0, ctx.stream()>>>(w.data, q, scale);
    SCVAE_CUDA_LAUNCH_CHECK("mixture_weights");
  }
  // z [Z x K*n], klz [K*n] (skipped when null), head [2Z x K*n], eps [Z x K*n], prior [Z x K].
  template <class T>
  static void mixture_latent_forward(MatrixView<T> z, VectorView<T> klz, MatrixView<const T> head,
                                     MatrixView<const T> eps, MatrixView<const T> prior_mean,
                                     MatrixView<const T> prior_raw, Index n, LatentClamp c) {
    SCVAE_CHECK(head.rows == 2 * z.rows && head.cols == z.cols && eps.rows == z.rows && eps.cols == z.cols,
                "mixture_latent_forward: head must be [2Z x K*n], eps [Z x K*n]");
    SCVAE_CHECK(n >= 0 && z.cols == n * prior_mean.cols && prior_mean.rows == z.rows && prior_raw.rows == z.rows &&
                    prior_raw.cols == prior_mean.cols,
                "mixture_latent_forward: priors must be [Z x K] and z [Z x K*n]");
    if (z.cols <= 0) return;  // no cells (n = 0): nothing to do, as on the CPU
    auto& ctx = cuda::Context::get();
    cuda::detail::mixture_latent_forward_kernel<T><<<ctx.grid(z.cols), cuda::detail::kThreads, 0, ctx.stream()>>>(
        z, klz.data, head, eps, prior_mean, prior_raw, n, T(c.lv_min), T(c.lv_max));
    SCVAE_CUDA_LAUNCH_CHECK("mixture_latent_forward");
  }
  // d_head overwritten; d_prior_mean, d_prior_raw [Z x K] accumulated; kl_scale [K*n].
  template <class T>
  static void mixture_latent_backward(MatrixView<T> d_head, MatrixView<T> d_prior_mean, MatrixView<T> d_prior_raw,
                                      MatrixView<const T> dz, MatrixView<const T> head, MatrixView<const T> eps,
                                      MatrixView<const T> prior_mean, MatrixView<const T> prior_raw,
                                      VectorView<const T> kl_scale, Index n, LatentClamp c) {
    const Index Z = dz.rows, K = prior_mean.cols;
    SCVAE_CHECK(d_head.rows == 2 * Z && head.rows == 2 * Z && d_head.cols == dz.cols && head.cols == dz.cols &&
                    eps.rows == Z && eps.cols == dz.cols,
                "mixture_latent_backward: shapes do not match");
    SCVAE_CHECK(n >= 0 && dz.cols == n * K && kl_scale.size == dz.cols && prior_mean.rows == Z &&
                    prior_raw.rows == Z && prior_raw.cols == K && d_prior_mean.rows == Z && d_prior_mean.cols == K &&
                    d_prior_raw.rows == Z && d_prior_raw.cols == K,
                "mixture_latent_backward: priors must be [Z x K], kl_scale [K*n]");
    if (Z * K <= 0 || n == 0) return;  // no cells: the prior gradients keep their values, as on the CPU
    auto& ctx = cuda::Context::get();
    cuda::detail::mixture_latent_backward_kernel<T><<<ctx.grid(Z * K, 64), 64, 0, ctx.stream()>>>(
        d_head, d_prior_mean, d_prior_raw, dz, head, eps, prior_mean, prior_raw, kl_scale.data, n, K, T(c.lv_min),
        T(c.lv_max));
    SCVAE_CUDA_LAUNCH_CHECK("mixture_latent_backward");
  }
  // The exact sum over components (see CpuBackend::mixture_combine).
  template <class T>
  static void mixture_combine(VectorView<T> ll, VectorView<T> kl, MatrixView<T> d_logits, VectorView<T> d_prior_logits,
                              MatrixView<const T> q, MatrixView<const T> log_q, VectorView<const T> log_px,
                              VectorView<const T> klz, VectorView<const T> log_prior, T beta, T scale) {
    const Index K = q.rows, N = q.cols;
    SCVAE_CHECK(ll.size == N && kl.size == N && log_q.rows == K && log_q.cols == N && log_px.size == K * N &&
                    klz.size == K * N && log_prior.size == K,
                "mixture_combine: shapes do not match");
    if (d_logits.data) SCVAE_CHECK(d_logits.rows == K && d_logits.cols == N, "mixture_combine: d_logits must be [K x N]");
    if (d_prior_logits.data) SCVAE_CHECK(d_prior_logits.size == K, "mixture_combine: d_prior_logits must have K entries");
    if (N <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::mixture_combine_kernel<T><<<ctx.grid(N, 64), 64, 0, ctx.stream()>>>(
        ll.data, kl.data, d_logits, q, log_q, log_px.data, klz.data, log_prior.data, beta, scale);
    SCVAE_CUDA_LAUNCH_CHECK("mixture_combine");
    if (d_prior_logits.data && K > 0) {
      cuda::detail::mixture_prior_grad_kernel<T><<<ctx.grid(K, 64), 64, 0, ctx.stream()>>>(d_prior_logits.data, q,
                                                                                           log_prior.data, beta, scale);
      SCVAE_CUDA_LAUNCH_CHECK("mixture_prior_grad");
    }
  }

  // ---- extras of this backend (not part of the trait) ---------------------------------------
  // Waits for the calling thread's queued work and throws a deferred input error, if any.
  static void synchronize() { cuda::Context::get().check_status(); }

 private:
  template <class T>
  static std::size_t bytes(Index n) { return static_cast<std::size_t>(n) * sizeof(T); }
  static int to_int(Index v) {
    SCVAE_CHECK(v >= 0 && v <= 2147483647, "gemm: dimension exceeds the cuBLAS int range");
    return static_cast<int>(v);
  }
  template <class T, class F>
  static void map1(MatrixView<T> out, MatrixView<const T> in, F f) {
    SCVAE_CHECK(out.rows == in.rows && out.cols == in.cols, "elementwise op: shapes differ");
    if (out.size() <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::map1_kernel<<<ctx.grid(out.size()), cuda::detail::kThreads, 0, ctx.stream()>>>(out, in, f);
    SCVAE_CUDA_LAUNCH_CHECK("map1");
  }
  template <class T, class F>
  static void map2(MatrixView<T> out, MatrixView<const T> a, MatrixView<const T> b, F f) {
    SCVAE_CHECK(out.rows == a.rows && out.cols == a.cols && b.rows == a.rows && b.cols == a.cols,
                "elementwise op: shapes differ");
    if (out.size() <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::map2_kernel<<<ctx.grid(out.size()), cuda::detail::kThreads, 0, ctx.stream()>>>(out, a, b, f);
    SCVAE_CUDA_LAUNCH_CHECK("map2");
  }
  template <class T, class F>
  static void apply(MatrixView<T> m, F f) {
    if (m.size() <= 0) return;
    auto& ctx = cuda::Context::get();
    cuda::detail::apply_kernel<<<ctx.grid(m.size()), cuda::detail::kThreads, 0, ctx.stream()>>>(m, f);
    SCVAE_CUDA_LAUNCH_CHECK("apply");
  }
  // A CscView given to a kernel must hold device pointers: a host batch (e.g. from the CPU
  // Trainer's gather_batch) would fault inside the kernel, so it is refused here with a hint.
  static void check_device_csc(cuda::Context& ctx, CscView<float> x, const char* what) {
    if (x.cols <= 0) return;
    SCVAE_CHECK(ctx.is_device_pointer(x.ptr),
                std::string(what) + ": the sparse batch must be in device memory (CudaBackend); gather it with "
                                    "scvae::cuda::DeviceBatch or train with scvae::CudaTrainer");
  }
  static std::int64_t device_nnz(cuda::Context& ctx, CscView<float> x) {
    std::int64_t ends[2] = {0, 0};
    SCVAE_CUDA_CHECK(cudaMemcpyAsync(&ends[0], x.ptr, sizeof(std::int64_t), cudaMemcpyDeviceToHost, ctx.stream()));
    SCVAE_CUDA_CHECK(cudaMemcpyAsync(&ends[1], x.ptr + x.cols, sizeof(std::int64_t), cudaMemcpyDeviceToHost, ctx.stream()));
    ctx.synchronize();
    return ends[1] - ends[0];
  }
  static const char* timer_name(const LikelihoodSpec& spec, bool grad) {
    const bool gene = has_gene_dispersion(spec);
    switch (spec.kind) {
      case Likelihood::poisson: return grad ? "likelihood poisson" : "likelihood poisson (no grad)";
      case Likelihood::nb:
        return gene ? (grad ? "likelihood nb gene" : "likelihood nb gene (no grad)")
                    : (grad ? "likelihood nb gene-cell" : "likelihood nb gene-cell (no grad)");
      case Likelihood::zip: return grad ? "likelihood zip" : "likelihood zip (no grad)";
      case Likelihood::zinb:
        return gene ? (grad ? "likelihood zinb gene" : "likelihood zinb gene (no grad)")
                    : (grad ? "likelihood zinb gene-cell" : "likelihood zinb gene-cell (no grad)");
    }
    return "likelihood";
  }
};

}  // namespace scvae
