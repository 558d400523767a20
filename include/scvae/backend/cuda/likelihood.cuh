#pragma once
// The fused count-likelihood heads on the GPU: one kernel pass over heads [P*G x B] computes the
// parameter transforms, each cell's log p(x) and the gradient w.r.t. every head pre-activation,
// calling the SAME per-element functions as the CPU pass (distributions/detail/element.hpp).
//
// Layout: a block owns a tile of kLikTile genes (2 per thread, 256 threads) for kLikCols cells
// (one warp per cell while reading counts). Counts are read sparse: warp c binary-searches the
// tile's [g0, g0 + kLikTile) range in cell c's sorted row indices and scatters those counts into
// a shared-memory tile pre-filled with -1 ("no stored count" -> the x = 0 fast path, exactly the
// genes the CPU's sweep treats as zeros). Then every thread reads its genes' heads (coalesced),
// evaluates the element, writes w * gradient, and keeps per-cell log-pmf sums in double.
// Blocks of tile 0 also validate their cells' whole columns (sorted, in range, 0 <= count < inf) and
// report a bad column through the context's status word (thrown at the next scalar read).
//
// Reductions, all deterministic (no atomics):
//   log_px[b]            block sums per (tile, cell) -> partials [tiles x B] -> a second kernel
//                        adds the tiles in order.
//   d_gene_log_theta[g]  each thread sums w_b d_theta over its block's cells in order ->
//                        partials [cell groups x G] -> the second kernel adds the groups in order.
#include "../../distributions/detail/element.hpp"
#include "../../distributions/likelihood.hpp"
#include "context.cuh"
#include "sparse.cuh"

namespace scvae {
namespace cuda {
namespace detail {

constexpr int kLikThreads = 256;
constexpr int kLikGenesPerThread = 2;
constexpr int kLikTile = kLikThreads * kLikGenesPerThread;  // genes per block
constexpr int kLikCols = kLikThreads / 32;                  // cells per block (one warp each)

template <Likelihood L, bool GeneTheta, bool Grad, class T>
__global__ void __launch_bounds__(kLikThreads)
    likelihood_kernel(MatrixView<const T> heads /*[P*G x B]*/, const T* __restrict__ gene_log_theta /*[G] or null*/,
                      CscView<float> counts /*[G x B]*/, const T* __restrict__ cell_weight /*[B]*/,
                      double* __restrict__ lp_partial /*[tiles x B]*/, MatrixView<T> d_heads /*[P*G x B]*/,
                      T* __restrict__ theta_partial /*[groups x G] or null*/, int* status, Index group0) {
  constexpr bool kTheta = has_dispersion(L);
  constexpr bool kThetaHead = kTheta && !GeneTheta;
  constexpr bool kPi = has_zero_inflation(L);
  constexpr Index kPiHead = kThetaHead ? 2 : 1;
  __shared__ float s_x[kLikCols][kLikTile];
  __shared__ double s_red[kLikThreads / 32][kLikCols];

  const Index G = counts.rows, B = counts.cols;
  const Index tile = blockIdx.x, g0 = tile * kLikTile;
  const Index group = group0 + Index(blockIdx.y), b0 = group * kLikCols;  // launched in chunks of groups
  const int ncols = static_cast<int>(B - b0 < kLikCols ? B - b0 : kLikCols);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

  for (int t = threadIdx.x; t < kLikCols * kLikTile; t += kLikThreads) (&s_x[0][0])[t] = -1.f;
  __syncthreads();

  // Sparse read: warp c scatters cell b0 + c's counts of this gene tile.
  if (warp < ncols) {
    const Index b = b0 + warp;
    const std::int64_t k0 = counts.ptr[b], k1 = counts.ptr[b + 1];
    if (tile == 0)
      for (std::int64_t k = k0 + lane; k < k1; k += 32) {
        const std::int32_t g = counts.idx[k];
        const float v = counts.val[k];
        if (g < 0 || g >= G || !(v >= 0.f && v < INFINITY) || (k > k0 && counts.idx[k - 1] >= g)) report_bad_column(status, b);
      }
    std::int64_t ks = 0, ke = 0;
    if (lane == 0) {
      ks = lower_bound(counts.idx, k0, k1, static_cast<std::int32_t>(g0));
      ke = lower_bound(counts.idx, ks, k1, static_cast<std::int32_t>(g0 + kLikTile < G ? g0 + kLikTile : G));
    }
    ks = __shfl_sync(0xffffffffu, ks, 0);
    ke = __shfl_sync(0xffffffffu, ke, 0);
    for (std::int64_t k = ks + lane; k < ke; k += 32) {
      const std::int32_t g = counts.idx[k];
      if (g >= g0 && g < g0 + kLikTile) s_x[warp][g - g0] = counts.val[k];
    }
  }
  __syncthreads();

  double lp[kLikCols];
#pragma unroll
  for (int c = 0; c < kLikCols; ++c) lp[c] = 0.0;

#pragma unroll
  for (int r = 0; r < kLikGenesPerThread; ++r) {
    const int gl = threadIdx.x + r * kLikThreads;
    const Index g = g0 + gl;
    if (g >= G) continue;
    const T a_theta_gene = GeneTheta ? gene_log_theta[g] : T(0);
    T acc_theta = T(0);
#pragma unroll
    for (int c = 0; c < kLikCols; ++c) {
      if (c >= ncols) break;
      const Index b = b0 + c;
      const T* h = heads.data + b * heads.ld;
      const float xs = s_x[c][gl];
      const T a_mu = h[g];
      const T a_theta = kTheta ? (GeneTheta ? a_theta_gene : h[G + g]) : T(0);
      const T a_pi = kPi ? h[kPiHead * G + g] : T(0);
      T v;
      if constexpr (Grad) {
        T d_mu, d_theta = T(0), d_pi = T(0);
        if (xs < 0.f) v = scvae::detail::element_log_prob_grad<L, true>(T(0), a_mu, a_theta, a_pi, d_mu, d_theta, d_pi);
        else v = scvae::detail::element_log_prob_grad<L, false>(static_cast<T>(xs), a_mu, a_theta, a_pi, d_mu, d_theta, d_pi);
        const T w = cell_weight[b];
        T* d = d_heads.data + b * d_heads.ld;
        d[g] = w * d_mu;
        if constexpr (kThetaHead) d[G + g] = w * d_theta;
        if constexpr (kPi) d[kPiHead * G + g] = w * d_pi;
        if constexpr (GeneTheta) acc_theta += w * d_theta;
      } else {
        if (xs < 0.f) v = scvae::detail::element_log_prob<L, true>(T(0), a_mu, a_theta, a_pi);
        else v = scvae::detail::element_log_prob<L, false>(static_cast<T>(xs), a_mu, a_theta, a_pi);
      }
      lp[c] += double(v);
    }
    if constexpr (Grad && GeneTheta)
      if (theta_partial) theta_partial[group * G + g] = acc_theta;
  }

#pragma unroll
  for (int c = 0; c < kLikCols; ++c) {
    const double s = warp_sum(lp[c]);
    if (lane == 0) s_red[warp][c] = s;
  }
  __syncthreads();
  if (threadIdx.x < ncols) {
    double s = 0;
    for (int w = 0; w < kLikThreads / 32; ++w) s += s_red[w][threadIdx.x];
    lp_partial[tile * B + b0 + threadIdx.x] = s;
  }
}

// log_px[b] = sum over tiles (in order); d_gene_log_theta[g] += sum over cell groups (in order).
template <class T>
__global__ void likelihood_finish_kernel(T* log_px, const double* lp_partial, Index tiles, Index B, T* d_gene_log_theta,
                                         const T* theta_partial, Index groups, Index G) {
  const Index id = blockIdx.x * Index(blockDim.x) + threadIdx.x, stride = Index(gridDim.x) * blockDim.x;
  for (Index b = id; b < B; b += stride) {
    double s = 0;
    for (Index t = 0; t < tiles; ++t) s += lp_partial[t * B + b];
    log_px[b] = static_cast<T>(s);
  }
  if (theta_partial)
    for (Index g = id; g < G; g += stride) {
      T s = T(0);
      for (Index q = 0; q < groups; ++q) s += theta_partial[q * G + g];
      d_gene_log_theta[g] += s;
    }
}

// mean / variance [G x B] (either may be null): natural parameters as in detail::natural_params.
template <Likelihood L, class T>
__global__ void mean_variance_kernel(LikelihoodSpec spec, MatrixView<const T> heads, const T* gene_log_theta,
                                     MatrixView<T> mean_out, MatrixView<T> variance_out, Index G) {
  const Index B = heads.cols, n = G * B;
  const int pi_row = pi_head(spec);
  for (Index t = blockIdx.x * Index(blockDim.x) + threadIdx.x; t < n; t += Index(gridDim.x) * blockDim.x) {
    const Coord c = coord(t, G);
    const Index g = c.i, b = c.j;
    const T mu = math::exp(scvae::detail::clip_log(heads(g, b)));
    T theta = T(1), pi = T(0);
    if (has_dispersion(L))
      theta = math::exp(scvae::detail::clip_log(gene_log_theta ? gene_log_theta[g] : heads(G + g, b)));
    if (has_zero_inflation(L)) pi = math::sigmoid(heads(pi_row * G + g, b));
    if (mean_out.data) mean_out(g, b) = scvae::mean(spec, mu, theta, pi);
    if (variance_out.data) variance_out(g, b) = scvae::variance(spec, mu, theta, pi);
  }
}

// Bytes one pass moves (for bandwidth reports): heads read, gradients written, counts read.
inline double likelihood_bytes(const LikelihoodSpec& spec, Index G, Index B, std::int64_t nnz, bool grad,
                               std::size_t scalar) {
  const double heads = double(n_heads(spec)) * G * B * scalar;
  double bytes = heads * (grad ? 2.0 : 1.0) + double(nnz) * 8.0 + double(B + 1) * 8.0 + double(B) * scalar;
  if (has_gene_dispersion(spec)) bytes += double(G) * scalar * (grad ? 2.0 : 1.0);
  return bytes;
}

template <Likelihood L, bool GeneTheta, bool Grad, class T>
void launch_likelihood(Context* ctxp, MatrixView<const T> heads, VectorView<const T> gene_log_theta,
                       CscView<float> counts, VectorView<const T> cell_weight, VectorView<T> log_px,
                       MatrixView<T> d_heads, VectorView<T> d_gene_log_theta, double* lp_partial, T* theta_partial) {
  Context& ctx = *ctxp;
  const Index G = counts.rows, B = counts.cols;
  const Index tiles = (G + kLikTile - 1) / kLikTile, groups = (B + kLikCols - 1) / kLikCols;
  const bool gene_grad = Grad && GeneTheta && d_gene_log_theta.data != nullptr;
  T* tp = gene_grad ? theta_partial : nullptr;
  // gridDim.y is at most 65,535: more cell groups (over 524k cells) go in several launches.
  constexpr Index kMaxGroups = 65535;
  for (Index group0 = 0; group0 < groups; group0 += kMaxGroups) {
    const Index n_groups = groups - group0 < kMaxGroups ? groups - group0 : kMaxGroups;
    const dim3 grid(static_cast<unsigned int>(tiles), static_cast<unsigned int>(n_groups));
    likelihood_kernel<L, GeneTheta, Grad, T><<<grid, kLikThreads, 0, ctx.stream()>>>(
        heads, gene_log_theta.data, counts, cell_weight.data, lp_partial, d_heads, tp, ctx.status(), group0);
    SCVAE_CUDA_LAUNCH_CHECK("likelihood");
  }
  const Index n = B > G ? B : G;
  likelihood_finish_kernel<T><<<ctx.grid(tp ? n : B), kThreads, 0, ctx.stream()>>>(
      log_px.data, lp_partial, tiles, B, d_gene_log_theta.data, tp, groups, G);
  SCVAE_CUDA_LAUNCH_CHECK("likelihood_finish");
}

template <Likelihood L, class T, class... Args>
void likelihood_dispatch(bool gene, bool grad, Args... args) {
  if constexpr (has_dispersion(L)) {  // Poisson / ZIP never instantiate the per-gene variants
    if (gene) {
      if (grad) launch_likelihood<L, true, true, T>(args...);
      else launch_likelihood<L, true, false, T>(args...);
      return;
    }
  }
  if (grad) launch_likelihood<L, false, true, T>(args...);
  else launch_likelihood<L, false, false, T>(args...);
}

}  // namespace detail
}  // namespace cuda
}  // namespace scvae
