#pragma once
// Count likelihoods of the decoder output: everything a model needs.
//   LikelihoodSpec, n_heads, parse_*        (likelihood_spec.hpp)
//   log_prob(spec, x, mu, theta, pi)        natural-parameter reference (tests, users)
//   likelihood_forward_backward             the fused CPU pass: per-cell log p(x) and the
//                                           gradients w.r.t. the head pre-activations
//   mean, variance, mean_variance, sample   predictions and posterior-predictive draws
// Parameterisation, formulas and gradients: docs/likelihoods.md.
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../core/error.hpp"
#include "../core/view.hpp"
#include "detail/element.hpp"
#include "detail/nonzero_sweep.hpp"
#include "detail/zero_fast.hpp"
#include "detail/zero_sweep.hpp"
#include "likelihood_spec.hpp"
#include "negative_binomial.hpp"
#include "poisson.hpp"
#include "zero_inflated.hpp"

namespace scvae {

// log p(x | mu, theta, pi) with natural parameters (mu >= 0, theta > 0, pi in [0, 1]), no clamp:
// the reference for tests. theta is ignored by poisson/zip, pi by poisson/nb.
template <class T>
T log_prob(const LikelihoodSpec& spec, T x, T mu, T theta = T(1), T pi = T(0)) {
  switch (spec.kind) {
    case Likelihood::poisson: return poisson_log_pmf(x, mu);
    case Likelihood::nb: return nb_log_pmf(x, mu, theta);
    case Likelihood::zip: return zip_log_pmf(x, mu, pi);
    case Likelihood::zinb: return zinb_log_pmf(x, mu, theta, pi);
  }
  return T(0);
}

// Mean and variance of p(x | mu, theta, pi):
//   poisson mu, mu;  nb mu, mu + mu^2/theta;  zip (1-pi) mu, (1-pi) mu (1 + pi mu);
//   zinb (1-pi) mu, (1-pi) mu (1 + pi mu + mu/theta).
template <class T>
SCVAE_INLINE T mean(const LikelihoodSpec& spec, T mu, T /*theta*/, T pi) {
  return has_zero_inflation(spec.kind) ? (T(1) - pi) * mu : mu;
}
template <class T>
SCVAE_INLINE T variance(const LikelihoodSpec& spec, T mu, T theta, T pi) {
  const T over = has_dispersion(spec.kind) ? mu / theta : T(0);  // NB over-dispersion
  const T p = has_zero_inflation(spec.kind) ? pi : T(0);
  return (T(1) - p) * mu * (T(1) + p * mu + over);
}

namespace detail {

// Natural parameters of element (g, b) from the heads (clamped as in the log-pmf).
template <class T>
struct NaturalParams {
  T mu, theta, pi;
};
template <class T>
NaturalParams<T> natural_params(const LikelihoodSpec& spec, MatrixView<const T> heads,
                                VectorView<const T> gene_log_theta, Index G, Index g, Index b) {
  NaturalParams<T> p{math::exp(clip_log(heads(g, b))), T(1), T(0)};
  if (has_dispersion(spec.kind))
    p.theta = math::exp(clip_log(has_gene_dispersion(spec) ? gene_log_theta[g] : heads(G + g, b)));
  if (has_zero_inflation(spec.kind)) p.pi = math::sigmoid(heads(pi_head(spec) * G + g, b));
  return p;
}

// G = counts.rows from heads and the spec; throws on inconsistent shapes.
template <class T>
Index check_heads(const LikelihoodSpec& spec, MatrixView<const T> heads, VectorView<const T> gene_log_theta,
                  Index G) {
  SCVAE_CHECK(heads.rows == n_heads(spec) * G, "likelihood: heads must have n_heads * genes rows");
  SCVAE_CHECK(heads.ld >= heads.rows, "likelihood: heads.ld < rows");
  if (has_gene_dispersion(spec))
    SCVAE_CHECK(gene_log_theta.size == G && gene_log_theta.data != nullptr,
                "likelihood: Dispersion::gene needs gene_log_theta of size genes");
  else
    SCVAE_CHECK(gene_log_theta.size == 0, "likelihood: gene_log_theta given but the spec has no per-gene dispersion");
  return G;
}

// The shapes likelihood_forward_backward needs (shared by the CPU pass and the CUDA backend's);
// throws on the first mismatch.
template <class T>
void check_pass_args(const LikelihoodSpec& spec, MatrixView<const T> heads, VectorView<const T> gene_log_theta,
                     CscView<float> counts, VectorView<const T> cell_weight, VectorView<T> log_px,
                     MatrixView<T> d_heads, VectorView<T> d_gene_log_theta) {
  const Index G = counts.rows, B = counts.cols;
  check_heads(spec, heads, gene_log_theta, G);
  SCVAE_CHECK(heads.cols == B, "likelihood_forward_backward: heads and counts differ in cells");
  SCVAE_CHECK(log_px.size == B, "likelihood_forward_backward: log_px must have one entry per cell");
  if (d_heads.data != nullptr) {
    SCVAE_CHECK(d_heads.rows == heads.rows && d_heads.cols == B && d_heads.ld >= d_heads.rows,
                "likelihood_forward_backward: d_heads must have the shape of heads");
    SCVAE_CHECK(cell_weight.size == B, "likelihood_forward_backward: cell_weight must have one entry per cell");
    if (has_gene_dispersion(spec) && d_gene_log_theta.data != nullptr)
      SCVAE_CHECK(d_gene_log_theta.size == G, "likelihood_forward_backward: d_gene_log_theta must have size genes");
  }
}

// Per-thread scratch of the calling thread, grown once and reused (no allocation per call).
template <class T>
T* thread_scratch(std::size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// Per-thread [n] float buffers of the fast pass (separate from thread_scratch, which the calling
// thread also uses for the dispersion-gradient accumulators).
template <int Slot>
float* pass_scratch(std::size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// Per-thread [G] arrays of sweep 2 (a cell has at most G stored counts).
struct NonzeroScratch {
  Index* gene;
  float *x, *a_mu, *a_theta, *a_pi, *lp, *d_mu, *d_theta, *d_pi;
  unsigned char* rare;
};
inline NonzeroScratch nonzero_scratch(Index G) {
  const std::size_t n = static_cast<std::size_t>(G);
  thread_local std::vector<float> f;
  thread_local std::vector<Index> gene;
  thread_local std::vector<unsigned char> rare;
  if (f.size() < 8 * n) f.resize(8 * n);
  if (gene.size() < n) gene.resize(n), rare.resize(n);
  float* p = f.data();
  return {gene.data(), p, p + n, p + 2 * n, p + 3 * n, p + 4 * n, p + 5 * n, p + 6 * n, p + 7 * n, rare.data()};
}

// The parallel frame shared by both passes: cell(b, acc_theta) for every column b, split over
// threads in fixed ranges; acc_theta is the calling thread's [G] accumulator of the per-gene
// dispersion gradient (null when d_gene_log_theta.data is), summed over threads in thread order
// afterwards into d_gene_log_theta: no races, deterministic for a fixed thread count. cell
// returns false for malformed counts; the column is then reported.
template <class T, class Cell>
void for_each_cell(Index G, Index B, VectorView<T> d_gene_log_theta, Cell cell) {
  int max_threads = 1;
#ifdef _OPENMP
  max_threads = omp_get_max_threads();
#endif
  T* scratch = d_gene_log_theta.data ? thread_scratch<T>(static_cast<std::size_t>(max_threads) * G) : nullptr;
  int bad_column = -1;

#ifdef _OPENMP
#pragma omp parallel if (B > 1)
#endif
  {
    int tid = 0, n_threads = 1;
#ifdef _OPENMP
    tid = omp_get_thread_num();
    n_threads = omp_get_num_threads();
#endif
    T* acc_theta = scratch ? scratch + static_cast<Index>(tid) * G : nullptr;
    if (acc_theta)
      for (Index g = 0; g < G; ++g) acc_theta[g] = T(0);

#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (Index b = 0; b < B; ++b)
      if (!cell(b, acc_theta)) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
        bad_column = static_cast<int>(b);  // any bad column is reported
      }

    if (scratch) {
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Index g = 0; g < G; ++g) {
        T s = T(0);
        for (int t = 0; t < n_threads; ++t) s += scratch[static_cast<Index>(t) * G + g];
        d_gene_log_theta[g] += s;
      }
    }
  }
  SCVAE_CHECK(bad_column < 0, "likelihood: counts column " + std::to_string(bad_column) +
                                  " has unsorted/out-of-range row indices or a negative or non-finite count");
}

// One cell's head columns and gradient outputs. element(): the reference element on gene g,
// returning log p and storing its gradients; store_grad(): gene g's head gradients (unweighted
// in, weighted out), and the cell's per-gene dispersion gradient through set_dth. Zero = the
// x = 0 path.
template <Likelihood L, bool GeneTheta, bool Grad, class T>
struct CellHeads {
  static constexpr bool kTheta = has_dispersion(L);
  static constexpr bool kThetaHead = kTheta && !GeneTheta;
  static constexpr bool kPi = has_zero_inflation(L);
  static constexpr Index kPiHead = kThetaHead ? 2 : 1;
  const T* h_mu;     // [G]
  const T* h_theta;  // [G] (the per-gene vector with GeneTheta)
  const T* h_pi;     // [G]
  T* d;              // [P*G] or null without gradients
  T w;               // the cell's gradient weight
  Index G;

  CellHeads(MatrixView<const T> heads, VectorView<const T> gene_log_theta, VectorView<const T> cell_weight,
            MatrixView<T> d_heads, Index G_, Index b)
      : h_mu(heads.data + b * heads.ld),
        h_theta(GeneTheta ? gene_log_theta.data : h_mu + G_),
        h_pi(h_mu + kPiHead * G_),
        d(Grad ? d_heads.data + b * d_heads.ld : nullptr),
        w(Grad ? cell_weight[b] : T(0)),
        G(G_) {}

  template <class SetDth>
  void store_grad(Index g, T d_mu, T d_theta, T d_pi, SetDth set_dth) const {
    d[g] = w * d_mu;
    if constexpr (kThetaHead) d[G + g] = w * d_theta;
    if constexpr (kPi) d[kPiHead * G + g] = w * d_pi;
    if constexpr (GeneTheta) set_dth(g, w * d_theta);
  }

  template <bool Zero, class SetDth>
  T element(Index g, T x, SetDth set_dth) const {
    const T a_theta = kTheta ? h_theta[g] : T(0);
    const T a_pi = kPi ? h_pi[g] : T(0);
    if constexpr (Grad) {
      T d_mu, d_theta = T(0), d_pi = T(0);
      const T lp = detail::element_log_prob_grad<L, Zero>(x, h_mu[g], a_theta, a_pi, d_mu, d_theta, d_pi);
      store_grad(g, d_mu, d_theta, d_pi, set_dth);
      return lp;
    } else {
      return detail::element_log_prob<L, Zero>(x, h_mu[g], a_theta, a_pi);
    }
  }
};

// The float pass, three sweeps per cell:
//  1. every gene as if x = 0, branch-free and vectorised (detail/zero_sweep.hpp): log p into a
//     [G] buffer, gradients into d_heads;
//  2. the stored counts (~7% of genes), gathered and vectorised the same way
//     (detail/nonzero_sweep.hpp), overwriting their genes' log p and gradients;
//  3. log_px = sum of the [G] buffer (in double), and the per-gene dispersion gradient.
// A cell whose x = 0 terms need the zero-inflated log-space branch (rare: pi and P(0) both
// below ~1e-30) has sweep 1 redone with the reference functions; stored counts the fast
// element does not cover (non-integer x < 10, x > 1e8) are redone one by one.
template <Likelihood L, bool GeneTheta, bool Grad>
void likelihood_pass_fast(MatrixView<const float> heads, VectorView<const float> gene_log_theta,
                          CscView<float> counts, VectorView<const float> cell_weight, VectorView<float> log_px,
                          MatrixView<float> d_heads, VectorView<float> d_gene_log_theta) {
  using Cell = CellHeads<L, GeneTheta, Grad, float>;
  const Index G = counts.rows, B = counts.cols;
  const bool gene_grad = Grad && GeneTheta && d_gene_log_theta.data != nullptr;
  const float* log_fact = log_factorial_table();

  for_each_cell<float>(G, B, gene_grad ? d_gene_log_theta : VectorView<float>{}, [&](Index b, float* acc_theta) {
    const Cell c(heads, gene_log_theta, cell_weight, d_heads, G, b);
    float* lp_buf = pass_scratch<0>(static_cast<std::size_t>(G));
    // Per-gene dispersion gradient of this cell (written unconditionally: a conditional store
    // would stop the vectorisation).
    float* dth_buf = (Grad && GeneTheta) ? pass_scratch<1>(static_cast<std::size_t>(G)) : nullptr;
    const NonzeroScratch nz = nonzero_scratch(G);
    auto set_dth = [&](Index g, float v) { dth_buf[g] = v; };

    // 1. all genes at x = 0 (vectorised at the CPU's width)
    detail::ZeroSweepArgs za;
    za.h_mu = c.h_mu;
    za.h_theta = Cell::kTheta ? c.h_theta : nullptr;
    za.h_pi = Cell::kPi ? c.h_pi : nullptr;
    za.G = G;
    za.w = c.w;
    za.lp = lp_buf;
    za.d_mu = c.d;
    za.d_theta = (Grad && Cell::kThetaHead) ? c.d + G : nullptr;
    za.d_pi = (Grad && Cell::kPi) ? c.d + Cell::kPiHead * G : nullptr;
    za.dth = dth_buf;
    if (detail::zero_sweep<L, GeneTheta, Grad>(za))
      for (Index g = 0; g < G; ++g) lp_buf[g] = c.template element<true>(g, 0.0f, set_dth);

    // 2. the stored counts: validated and gathered, one vectorised sweep, scattered back over
    // sweep 1's values (stored zeros keep them); rare elements through the reference.
    Index m = 0, g_min = 0;
    for (std::int64_t k = counts.ptr[b]; k < counts.ptr[b + 1]; ++k) {
      const Index g = counts.idx[k];
      const float x = counts.val[k];
      if (g < g_min || g >= G || !(x >= 0.0f && x < INFINITY)) return false;
      g_min = g + 1;
      if (x == 0.0f) continue;
      nz.gene[m] = g;
      nz.x[m] = x;
      nz.a_mu[m] = c.h_mu[g];
      if constexpr (Cell::kTheta) nz.a_theta[m] = c.h_theta[g];
      if constexpr (Cell::kPi) nz.a_pi[m] = c.h_pi[g];
      ++m;
    }
    if (m > 0) {
      const detail::NonzeroSweepArgs na{nz.x,  nz.a_mu, nz.a_theta, nz.a_pi, m,        log_fact,
                                        nz.lp, nz.d_mu, nz.d_theta, nz.d_pi, nz.rare};
      const int nz_rare = detail::nonzero_sweep<L, Grad>(na);
      for (Index k = 0; k < m; ++k) {
        const Index g = nz.gene[k];
        lp_buf[g] = nz.lp[k];
        if constexpr (Grad)
          c.store_grad(g, nz.d_mu[k], Cell::kTheta ? nz.d_theta[k] : 0.0f, Cell::kPi ? nz.d_pi[k] : 0.0f, set_dth);
      }
      if (nz_rare)
        for (Index k = 0; k < m; ++k)
          if (nz.rare[k]) lp_buf[nz.gene[k]] = c.template element<false>(nz.gene[k], nz.x[k], set_dth);
    }

    // 3. sums
    double lp_sum = 0;
#ifdef _OPENMP
#pragma omp simd reduction(+ : lp_sum)
#endif
    for (Index g = 0; g < G; ++g) lp_sum += double(lp_buf[g]);
    log_px[b] = static_cast<float>(lp_sum);
    if (acc_theta) {
#ifdef _OPENMP
#pragma omp simd
#endif
      for (Index g = 0; g < G; ++g) acc_theta[g] += dth_buf[g];
    }
    return true;
  });
}

// The reference pass (double, and float under SCVAE_SCALAR_HEADS): one sweep per cell; genes
// are walked with a cursor into the column's sparse entries, so the runs of zeros between stored
// counts call the x = 0 element functions in a tight loop.
template <Likelihood L, bool GeneTheta, bool Grad, class T>
void likelihood_pass_reference(MatrixView<const T> heads, VectorView<const T> gene_log_theta, CscView<float> counts,
                               VectorView<const T> cell_weight, VectorView<T> log_px, MatrixView<T> d_heads,
                               VectorView<T> d_gene_log_theta) {
  using Cell = CellHeads<L, GeneTheta, Grad, T>;
  const Index G = counts.rows, B = counts.cols;
  const bool gene_grad = Grad && GeneTheta && d_gene_log_theta.data != nullptr;

  for_each_cell<T>(G, B, gene_grad ? d_gene_log_theta : VectorView<T>{}, [&](Index b, T* acc_theta) {
    const Cell c(heads, gene_log_theta, cell_weight, d_heads, G, b);
    auto set_dth = [&](Index g, T v) {
      if (acc_theta) acc_theta[g] += v;
    };
    double lp_sum = 0;  // 28k terms: accumulate in double
    std::int64_t k = counts.ptr[b];
    const std::int64_t k_end = counts.ptr[b + 1];
    Index g = 0;
    for (;;) {
      Index g_next = G;  // next gene with a stored count
      if (k < k_end) {
        g_next = counts.idx[k];
        if (g_next < g || g_next >= G || !(counts.val[k] >= 0.0f && counts.val[k] < INFINITY)) return false;
      }
      for (; g < g_next; ++g) lp_sum += c.template element<true>(g, T(0), set_dth);  // run of zeros
      if (k >= k_end) break;
      lp_sum += c.template element<false>(g, static_cast<T>(counts.val[k]), set_dth);
      ++g;
      ++k;
    }
    log_px[b] = static_cast<T>(lp_sum);
    return true;
  });
}

// The fused pass for one likelihood. GeneTheta: log theta from the per-gene vector.
// Grad: gradients wanted (d_heads given).
template <Likelihood L, bool GeneTheta, bool Grad, class T>
void likelihood_pass(MatrixView<const T> heads, VectorView<const T> gene_log_theta, CscView<float> counts,
                     VectorView<const T> cell_weight, VectorView<T> log_px, MatrixView<T> d_heads,
                     VectorView<T> d_gene_log_theta) {
#ifndef SCVAE_SCALAR_HEADS
  if constexpr (std::is_same<T, float>::value) {  // vectorised sweeps (float only)
    likelihood_pass_fast<L, GeneTheta, Grad>(heads, gene_log_theta, counts, cell_weight, log_px, d_heads,
                                             d_gene_log_theta);
    return;
  }
#endif
  likelihood_pass_reference<L, GeneTheta, Grad, T>(heads, gene_log_theta, counts, cell_weight, log_px, d_heads,
                                                   d_gene_log_theta);
}

template <Likelihood L, class T, class... Args>
void likelihood_dispatch(bool gene, bool grad, Args... args) {
  if (gene) {
    if (grad) likelihood_pass<L, true, true, T>(args...);
    else likelihood_pass<L, true, false, T>(args...);
  } else {
    if (grad) likelihood_pass<L, false, true, T>(args...);
    else likelihood_pass<L, false, false, T>(args...);
  }
}

}  // namespace detail

// The fused CPU pass (the hot loop): for each cell b,
//   log_px[b] = sum_g log p(x_gb | heads(:, b))
//   d_heads(:, b) = cell_weight[b] * d log p(x_gb) / d heads(:, b)   (OVERWRITTEN, rows P*G)
//   d_gene_log_theta[g] += sum_b cell_weight[b] * d log p(x_gb) / d log_theta_g   (ACCUMULATED)
// Gradients are skipped when d_heads.data == nullptr (cell_weight may then be empty);
// d_gene_log_theta is skipped when its data is nullptr. Zero counts take the x = 0 fast path.
// Parallel over cells (OpenMP); the per-gene gradient goes through per-thread scratch.
template <class T>
void likelihood_forward_backward(const LikelihoodSpec& spec,
                                 MatrixView<const T> heads,           // [P*G x B] pre-activations
                                 VectorView<const T> gene_log_theta,  // [G] (Dispersion::gene) or size 0
                                 CscView<float> counts,               // [G x B] raw counts
                                 VectorView<const T> cell_weight,     // [B]
                                 VectorView<T> log_px,                // [B] out
                                 MatrixView<T> d_heads,               // [P*G x B] out, or data == nullptr
                                 VectorView<T> d_gene_log_theta) {    // [G] +=, or data == nullptr
  detail::check_pass_args(spec, heads, gene_log_theta, counts, cell_weight, log_px, d_heads, d_gene_log_theta);
  const bool grad = d_heads.data != nullptr;
  const bool gene = has_gene_dispersion(spec);
  switch (spec.kind) {
    case Likelihood::poisson:
      detail::likelihood_dispatch<Likelihood::poisson, T>(false, grad, heads, gene_log_theta, counts, cell_weight,
                                                          log_px, d_heads, d_gene_log_theta);
      break;
    case Likelihood::nb:
      detail::likelihood_dispatch<Likelihood::nb, T>(gene, grad, heads, gene_log_theta, counts, cell_weight, log_px,
                                                     d_heads, d_gene_log_theta);
      break;
    case Likelihood::zip:
      detail::likelihood_dispatch<Likelihood::zip, T>(false, grad, heads, gene_log_theta, counts, cell_weight,
                                                      log_px, d_heads, d_gene_log_theta);
      break;
    case Likelihood::zinb:
      detail::likelihood_dispatch<Likelihood::zinb, T>(gene, grad, heads, gene_log_theta, counts, cell_weight,
                                                       log_px, d_heads, d_gene_log_theta);
      break;
  }
}

// Mean and/or variance [G x B] of p(x | heads) (either output may have data == nullptr).
template <class T>
void mean_variance(const LikelihoodSpec& spec,
                   MatrixView<const T> heads,           // [P*G x B]
                   VectorView<const T> gene_log_theta,  // [G] or size 0
                   MatrixView<T> mean_out,              // [G x B] out
                   MatrixView<T> variance_out) {        // [G x B] out
  const Index G = heads.rows / n_heads(spec), B = heads.cols;
  detail::check_heads(spec, heads, gene_log_theta, G);
  if (mean_out.data) SCVAE_CHECK(mean_out.rows == G && mean_out.cols == B, "mean_variance: mean must be [G x B]");
  if (variance_out.data)
    SCVAE_CHECK(variance_out.rows == G && variance_out.cols == B, "mean_variance: variance must be [G x B]");
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (B > 1)
#endif
  for (Index b = 0; b < B; ++b)
    for (Index g = 0; g < G; ++g) {
      const auto p = detail::natural_params(spec, heads, gene_log_theta, G, g, b);
      if (mean_out.data) mean_out(g, b) = mean(spec, p.mu, p.theta, p.pi);
      if (variance_out.data) variance_out(g, b) = variance(spec, p.mu, p.theta, p.pi);
    }
}

// Posterior-predictive draws x_gb ~ p(x | heads(:, b)) into out [G x B]: Poisson(mu); NB as
// Poisson(Gamma(shape theta, scale mu / theta)); zero inflation as a Bernoulli(pi) structural zero.
// Sequential in column-major order, so a seed reproduces the draws.
template <class T>
void sample(const LikelihoodSpec& spec,
            MatrixView<const T> heads,           // [P*G x B]
            VectorView<const T> gene_log_theta,  // [G] or size 0
            std::mt19937_64& rng,
            MatrixView<T> out) {                 // [G x B] out
  const Index G = heads.rows / n_heads(spec), B = heads.cols;
  detail::check_heads(spec, heads, gene_log_theta, G);
  SCVAE_CHECK(out.rows == G && out.cols == B, "sample: out must be [G x B]");
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  for (Index b = 0; b < B; ++b)
    for (Index g = 0; g < G; ++g) {
      const auto p = detail::natural_params(spec, heads, gene_log_theta, G, g, b);
      if (has_zero_inflation(spec.kind) && unif(rng) < double(p.pi)) {
        out(g, b) = T(0);
        continue;
      }
      double rate = double(p.mu);
      if (has_dispersion(spec.kind))
        rate = std::gamma_distribution<double>(double(p.theta), double(p.mu) / double(p.theta))(rng);
      out(g, b) = rate > 0 ? static_cast<T>(std::poisson_distribution<std::int64_t>(rate)(rng)) : T(0);
    }
}

}  // namespace scvae
