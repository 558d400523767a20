#pragma once
// Simulated single-cell counts for tests, benchmarks and demos: cell types with their own mean
// expression profiles, log-normal library sizes and gamma-Poisson (negative binomial) noise.
//
//   base profile    p0_g ~ Gamma(gene_shape, 1), normalised to sum 1 (heavy-tailed, as real genes)
//   type profile    p_kg ∝ p0_g * f_kg;  f_kg = exp(±(log de_fold + de_log_sd * N(0,1))) for a
//                   de_fraction of genes (direction 50/50), else 1
//   library size    L_c = exp(library_log_mean + library_log_sd * N(0,1))
//   counts          x_cg ~ Poisson(L_c p_kg * G_cg / r), G_cg ~ Gamma(r, 1)   (r = dispersion)
//
// The matrix is built straight into CSR and never dense: per cell, genes are visited in decreasing
// mean order and zeros are skipped by thinning a geometric process (exact), so the cost scales
// with the number of non-zeros (20,000 x 27,998 at 93% zeros: about 3 s on 2 cores, 5 s on one).
// All randomness comes from the raw mt19937_64 stream with the samplers below (never the
// implementation-defined std:: distributions), and each cell has its own stream, so the output
// is the same on every standard library and for any number of threads.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/view.hpp"
#include "csr_matrix.hpp"

namespace scvae {

struct SimulationOptions {
  Index cells = 2000;
  Index genes = 500;
  Index clusters = 5;
  std::uint64_t seed = 0;
  double dispersion = 1.0;         // gamma-Poisson shape r: variance = mu + mu^2 / r
  double library_log_mean = 7.0;   // mean of log library size (exp(7) ~ 1100 counts)
  double library_log_sd = 0.4;     // sd of log library size
  double gene_shape = 0.3;         // gamma shape of the base relative expression (smaller: heavier tail)
  double de_fraction = 0.1;        // fraction of genes with a cell-type-specific fold change, per type
  double de_fold = 4.0;            // typical fold change of such a gene (up or down)
  double de_log_sd = 0.3;          // spread of the log fold changes around log(de_fold)
  std::vector<double> cluster_proportions;  // relative type sizes [clusters]; empty: equal sizes

  // 20,000 cells x 27,998 genes like the 10x mouse-brain subset MBC-20k, about 93% zeros
  // (measured for seed 0: 93.10% zeros, 38.6M non-zeros = 309 MB of CSR, median 2,975 counts and
  // 1,851 detected genes per cell).
  static SimulationOptions like_mbc20k(std::uint64_t seed = 0) {
    SimulationOptions o;
    o.cells = 20000;
    o.genes = 27998;
    o.clusters = 10;
    o.seed = seed;
    o.dispersion = 0.5;
    o.library_log_mean = 8.0;
    o.library_log_sd = 0.5;
    o.gene_shape = 0.25;
    o.de_fraction = 0.05;
    o.de_fold = 4.0;
    o.de_log_sd = 0.3;
    return o;
  }
  // 5 types x 400 cells x 500 genes that k-means on log counts separates (for tests and demos).
  // (Not named small(): Windows headers define `small` as a macro.)
  static SimulationOptions small_test(std::uint64_t seed = 0) {
    SimulationOptions o;
    o.cells = 2000;
    o.genes = 500;
    o.clusters = 5;
    o.seed = seed;
    return o;
  }
};

struct SimulatedData {
  CsrMatrix counts;                      // [cells x genes] with cell and gene names
  std::vector<int> labels;               // [cells] cell type 0..clusters-1
  std::vector<std::string> label_names;  // [clusters]
  std::vector<std::vector<double>> profiles;  // [clusters][genes] relative mean expression (rows sum to 1)
  std::vector<double> library_sizes;     // [cells] the drawn L_c (expected total count of the cell)
};

namespace detail {
namespace sampling {

inline std::uint64_t splitmix64(std::uint64_t x) {
  std::uint64_t z = x + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// Uniform on the open interval (0, 1): safe under log and as a divisor.
inline double uniform(std::mt19937_64& rng) { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; }
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {  // [0, n)
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t r;
  do r = rng(); while (r >= limit);
  return r % n;
}
// Box-Muller, one value per call (no cached spare: the stream position stays simple to reason about).
inline double normal(std::mt19937_64& rng) {
  const double u1 = uniform(rng), u2 = uniform(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
}
// Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 through Gamma(shape + 1) * U^(1/shape).
inline double gamma(std::mt19937_64& rng, double shape) {
  if (shape < 1.0) {
    const double g = gamma(rng, shape + 1.0);
    return g * std::exp(std::log(uniform(rng)) / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = normal(rng);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = uniform(rng);
    if (u < 1.0 - 0.0331 * (x * x) * (x * x)) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}
// Poisson(lambda): inversion for lambda < 10, PTRS (Hörmann 1993, transformed rejection with
// squeeze) above, whose cost does not grow with lambda.
inline std::int64_t poisson(std::mt19937_64& rng, double lambda) {
  if (!(lambda > 0.0)) return 0;
  if (lambda < 10.0) {
    const double u = uniform(rng);
    double p = std::exp(-lambda), cdf = p;
    std::int64_t k = 0;
    while (u > cdf && k < 1000) {  // cap: guards against cdf stalling below u by rounding
      ++k;
      p *= lambda / static_cast<double>(k);
      cdf += p;
    }
    return k;
  }
  const double slam = std::sqrt(lambda), loglam = std::log(lambda);
  const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2.0);
  for (;;) {
    const double u = uniform(rng) - 0.5, v = uniform(rng);
    const double us = 0.5 - std::abs(u);
    const double k = std::floor((2.0 * a / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= vr) return static_cast<std::int64_t>(k);
    if (k < 0.0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <= -lambda + k * loglam - std::lgamma(k + 1.0))
      return static_cast<std::int64_t>(k);
  }
}
// Negative binomial with mean m and shape r as the gamma-Poisson mixture.
inline std::int64_t negative_binomial(std::mt19937_64& rng, double m, double r) {
  if (!(m > 0.0)) return 0;
  return poisson(rng, m * gamma(rng, r) / r);
}
// P(X > 0) for X ~ NB(mean m, shape r): 1 - (1 + m/r)^-r, accurate for tiny m.
inline double nb_nonzero_probability(double m, double r) { return -std::expm1(-r * std::log1p(m / r)); }
// X ~ NB(m, r) conditioned on X > 0, by inversion of the truncated pmf P(k) / pnz with
// P(k+1) = P(k) (k + r) / (k + 1) * q. Cost ~ the drawn value: meant for small means.
// pnz = nb_nonzero_probability(m, r).
inline std::int64_t negative_binomial_nonzero(std::mt19937_64& rng, double m, double r, double pnz) {
  const double q = m / (r + m);
  double p = (1.0 - pnz) * r * q;  // P(1)
  const double u = uniform(rng) * pnz;
  double cdf = p;
  std::int64_t k = 1;
  while (u > cdf) {
    p *= (static_cast<double>(k) + r) / static_cast<double>(k + 1) * q;
    ++k;
    cdf += p;
    if (k > 100000) {  // rounding left cdf below u: fall back to rejection (exact, slow, never seen)
      for (;;)
        if (const auto j = negative_binomial(rng, m, r)) return j;
    }
  }
  return k;
}

// Independent NB(scale * rel[i], r) draws for i in [0, n), reporting only the non-zero ones
// through emit(i, count). `rel` must be non-increasing. Means >= 8 are drawn directly (gamma-
// Poisson). Below, candidates come from a geometric process with success probability q =
// P(non-zero) at the current position (an upper bound for all later ones), each kept with
// probability P_i / q (thinning), and q is refreshed after each candidate; kept ones get a
// zero-truncated draw. Expected cost ~ the number of non-zeros, not n.
template <class Emit>
void sample_nb_sparse(const double* rel, double scale, Index n, double r, std::mt19937_64& rng, Emit&& emit) {
  constexpr double direct_mean = 8.0;
  Index pos = 0;
  for (; pos < n && scale * rel[pos] >= direct_mean; ++pos)
    if (const auto k = negative_binomial(rng, scale * rel[pos], r)) emit(pos, k);
  while (pos < n) {
    double m = scale * rel[pos];
    const double log_p0 = -r * std::log1p(m / r);  // log P(0) = log(1 - q)
    const double q = -std::expm1(log_p0);
    if (!(q > 0.0)) return;  // all later means are zero as well
    double p = q;
    const double skip = std::floor(std::log(uniform(rng)) / log_p0);
    if (skip >= static_cast<double>(n - pos)) return;
    if (skip > 0.0) {
      pos += static_cast<Index>(skip);
      m = scale * rel[pos];
      p = nb_nonzero_probability(m, r);
      if (uniform(rng) * q >= p) {
        ++pos;
        continue;
      }
    }
    emit(pos, negative_binomial_nonzero(rng, m, r, p));
    ++pos;
  }
}

inline int count_trailing_zeros(std::uint64_t word) {  // word != 0
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_ctzll(word);
#else
  int bit = 0;
  while (!((word >> bit) & 1u)) ++bit;
  return bit;
#endif
}

inline std::string padded_name(const char* prefix, Index i, Index count) {
  const std::string digits = std::to_string(i + 1);
  const std::size_t width = std::to_string(count).size();
  return prefix + std::string(width > digits.size() ? width - digits.size() : 0, '0') + digits;
}

}  // namespace sampling
}  // namespace detail

// Simulates a labelled count matrix. Throws InputError for invalid options.
inline SimulatedData simulate_counts(const SimulationOptions& o) {
  namespace s = detail::sampling;
  SCVAE_CHECK(o.cells >= 1 && o.genes >= 1, "simulate_counts: cells and genes must be positive");
  SCVAE_CHECK(o.genes <= INT32_MAX, "simulate_counts: genes exceed the int32 column index range");
  SCVAE_CHECK(o.clusters >= 1 && o.clusters <= o.cells, "simulate_counts: clusters must be in [1, cells]");
  // The ranges keep every profile and library size finite: a normal draw is at most 8.7 in size
  // (Box-Muller on 53-bit uniforms), so |log fold change| <= log(1e6) + 5 * 8.7 ~ 57 and
  // log library size < 20 + 5 * 8.7. (Comparisons are written so that NaN fails them.)
  SCVAE_CHECK(o.dispersion > 0.0 && std::isfinite(o.dispersion), "simulate_counts: dispersion must be positive and finite");
  SCVAE_CHECK(o.library_log_mean >= 0.0 && o.library_log_mean < 20.0, "simulate_counts: library_log_mean must be in [0, 20)");
  SCVAE_CHECK(o.library_log_sd >= 0.0 && o.library_log_sd <= 5.0, "simulate_counts: library_log_sd must be in [0, 5]");
  SCVAE_CHECK(o.gene_shape > 0.0 && o.gene_shape <= 1e6, "simulate_counts: gene_shape must be in (0, 1e6]");
  SCVAE_CHECK(o.de_fraction >= 0.0 && o.de_fraction <= 1.0, "simulate_counts: de_fraction must be in [0, 1]");
  SCVAE_CHECK(o.de_fold >= 1.0 && o.de_fold <= 1e6, "simulate_counts: de_fold must be in [1, 1e6]");
  SCVAE_CHECK(o.de_log_sd >= 0.0 && o.de_log_sd <= 5.0, "simulate_counts: de_log_sd must be in [0, 5]");
  SCVAE_CHECK(o.cluster_proportions.empty() || static_cast<Index>(o.cluster_proportions.size()) == o.clusters,
              "simulate_counts: cluster_proportions must be empty or have one entry per cluster");
  double proportion_total = 0.0;
  for (double w : o.cluster_proportions) {
    SCVAE_CHECK(w >= 0.0 && std::isfinite(w), "simulate_counts: cluster_proportions must be non-negative and finite");
    proportion_total += w;
  }
  SCVAE_CHECK(std::isfinite(proportion_total), "simulate_counts: cluster_proportions overflow when summed");

  const Index n_cells = o.cells, n_genes = o.genes, k_types = o.clusters;
  std::mt19937_64 rng(s::splitmix64(o.seed));
  SimulatedData out;

  // Type profiles.
  std::vector<double> base(n_genes);
  for (auto& v : base) v = s::gamma(rng, o.gene_shape);
  out.profiles.assign(k_types, base);
  for (Index k = 0; k < k_types; ++k) {
    auto& p = out.profiles[k];
    for (Index g = 0; g < n_genes; ++g) {
      if (s::uniform(rng) >= o.de_fraction) continue;
      const double sign = s::uniform(rng) < 0.5 ? -1.0 : 1.0;
      p[g] *= std::exp(sign * (std::log(o.de_fold) + o.de_log_sd * s::normal(rng)));
    }
    double total = std::accumulate(p.begin(), p.end(), 0.0);
    SCVAE_CHECK(total > 0.0, "simulate_counts: gene_shape too small, every gene has zero expression");
    for (auto& v : p) v /= total;
  }

  // Labels: exact type sizes (largest remainder), shuffled.
  std::vector<double> w = o.cluster_proportions.empty() ? std::vector<double>(k_types, 1.0) : o.cluster_proportions;
  const double w_total = std::accumulate(w.begin(), w.end(), 0.0);
  SCVAE_CHECK(w_total > 0.0, "simulate_counts: cluster_proportions sum to zero");
  std::vector<Index> size(k_types);
  std::vector<std::pair<double, Index>> remainder(k_types);
  Index assigned = 0;
  for (Index k = 0; k < k_types; ++k) {
    const double exact = w[k] / w_total * static_cast<double>(n_cells);
    size[k] = static_cast<Index>(std::floor(exact));
    remainder[k] = {exact - std::floor(exact), k};
    assigned += size[k];
  }
  std::stable_sort(remainder.begin(), remainder.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (Index i = 0; assigned < n_cells; ++i, ++assigned) ++size[remainder[i % k_types].second];
  out.labels.reserve(n_cells);
  for (Index k = 0; k < k_types; ++k) out.labels.insert(out.labels.end(), size[k], static_cast<int>(k));
  for (Index i = n_cells - 1; i > 0; --i)
    std::swap(out.labels[i], out.labels[s::uniform_below(rng, static_cast<std::uint64_t>(i) + 1)]);

  // Genes of each type in decreasing mean order, for the sparse sampler.
  std::vector<std::vector<std::int32_t>> order(k_types, std::vector<std::int32_t>(n_genes));
  std::vector<std::vector<double>> sorted(k_types, std::vector<double>(n_genes));
  for (Index k = 0; k < k_types; ++k) {
    auto& idx = order[k];
    std::iota(idx.begin(), idx.end(), 0);
    const auto& p = out.profiles[k];
    std::stable_sort(idx.begin(), idx.end(), [&](std::int32_t a, std::int32_t b) { return p[a] > p[b]; });
    for (Index g = 0; g < n_genes; ++g) sorted[k][g] = p[idx[g]];
  }

  CsrMatrix& m = out.counts;
  m.n_rows = n_cells;
  m.n_cols = n_genes;
  m.indptr.assign(n_cells + 1, 0);
  out.library_sizes.resize(n_cells);
  const std::uint64_t cell_seed = s::splitmix64(o.seed ^ 0x5ca1ab1e5eedULL);
  const Index block = 512;
  std::vector<std::vector<std::int32_t>> cell_idx(block);
  std::vector<std::vector<float>> cell_val(block);
  for (Index c0 = 0; c0 < n_cells; c0 += block) {
    const Index nb = std::min(block, n_cells - c0);
#if defined(_OPENMP)
#pragma omp parallel if (n_cells * n_genes > 1000000)
#endif
    {
      // Per-thread scratch: bitmap of non-zero genes and their counts, so each row comes out
      // sorted by gene without sorting.
      std::vector<std::uint64_t> bits((n_genes + 63) / 64, 0);
      std::vector<float> dense(n_genes);
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 16)
#endif
      for (Index b = 0; b < nb; ++b) {
        const Index c = c0 + b;
        std::mt19937_64 crng(s::splitmix64(cell_seed + static_cast<std::uint64_t>(c)));
        const double lib = std::exp(o.library_log_mean + o.library_log_sd * s::normal(crng));
        out.library_sizes[c] = lib;
        const int k = out.labels[c];
        const double* p = sorted[k].data();
        Index nz = 0;
        s::sample_nb_sparse(p, lib, n_genes, o.dispersion, crng, [&](Index i, std::int64_t x) {
          const std::int32_t gene = order[k][i];
          bits[gene >> 6] |= std::uint64_t{1} << (gene & 63);
          dense[gene] = static_cast<float>(x);
          ++nz;
        });
        auto& ci = cell_idx[b];
        auto& cv = cell_val[b];
        ci.resize(nz);
        cv.resize(nz);
        Index t = 0;
        for (std::size_t wd = 0; wd < bits.size(); ++wd) {
          std::uint64_t word = bits[wd];
          bits[wd] = 0;
          while (word) {
            const int bit = s::count_trailing_zeros(word);
            const std::int32_t gene = static_cast<std::int32_t>(wd * 64 + bit);
            ci[t] = gene;
            cv[t] = dense[gene];
            ++t;
            word &= word - 1;
          }
        }
      }
    }
    std::int64_t block_nnz = 0;
    for (Index b = 0; b < nb; ++b) block_nnz += static_cast<std::int64_t>(cell_idx[b].size());
    if (c0 == 0) {  // reserve once from the first block's density (avoids doubling the largest arrays)
      const double per_cell = static_cast<double>(block_nnz) / static_cast<double>(nb);
      const auto expect = static_cast<std::size_t>(per_cell * static_cast<double>(n_cells) * 1.02 + 1024);
      m.indices.reserve(expect);
      m.values.reserve(expect);
    }
    for (Index b = 0; b < nb; ++b) {
      m.indices.insert(m.indices.end(), cell_idx[b].begin(), cell_idx[b].end());
      m.values.insert(m.values.end(), cell_val[b].begin(), cell_val[b].end());
      m.indptr[c0 + b + 1] = static_cast<std::int64_t>(m.indices.size());
    }
  }

  m.row_names.resize(n_cells);
  for (Index c = 0; c < n_cells; ++c) m.row_names[c] = s::padded_name("cell_", c, n_cells);
  m.col_names.resize(n_genes);
  for (Index g = 0; g < n_genes; ++g) m.col_names[g] = s::padded_name("gene_", g, n_genes);
  out.label_names.resize(k_types);
  for (Index k = 0; k < k_types; ++k) out.label_names[k] = s::padded_name("type_", k, k_types);
  return out;
}

}  // namespace scvae
