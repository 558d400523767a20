#pragma once
// Mean silhouette coefficient of a clustering (Rousseeuw 1987) with Euclidean distances, as
// scikit-learn's silhouette_score: s(i) = (b - a) / max(a, b) with a the mean distance to the
// other members of i's cluster and b the lowest mean distance to another cluster; s = 0 for
// points alone in their cluster. O(N^2 D) time in cache-sized tiles (about 2.5 s for N = 20k,
// D = 10 on one core), O(N) extra memory; use silhouette_score_sampled for larger N.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "detail/contingency.hpp"
#include "detail/data_map.hpp"

namespace scvae {

inline double silhouette_score(MatrixView<const double> data,  // [D x N]
                               const std::vector<int>& labels) {
  const auto x = detail::map_data(data, "silhouette_score");
  const Index n = x.cols();
  SCVAE_CHECK(static_cast<Index>(labels.size()) == n,
              "silhouette_score: " + std::to_string(labels.size()) + " labels for " + std::to_string(n) + " points");
  Index k = 0;
  const std::vector<Index> code = detail::remap_labels(labels, k);
  SCVAE_CHECK(k >= 2 && k <= n - 1, "silhouette_score: needs 2 <= number of clusters <= N - 1, got " +
                                         std::to_string(k) + " clusters for " + std::to_string(n) + " points");
  std::vector<Index> counts(k, 0);
  for (Index i = 0; i < n; ++i) ++counts[code[i]];
  const Eigen::VectorXd sq = x.colwise().squaredNorm().transpose();

  // Tiles of [rb x cb] distances (||a||^2 + ||b||^2 - 2 a.b, one small GEMM) small enough to stay
  // in cache; each distance is added straight into its row's per-cluster sum.
  constexpr Index rb = 64, cb = 2048;
  const Index n_blocks = (n + rb - 1) / rb;
  std::vector<double> s_point(n, 0.0);
#if defined(_OPENMP)
#pragma omp parallel if (n > 2000)
#endif
  {
    Eigen::MatrixXd g(rb, cb), sums(rb, k);
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
    for (Index blk = 0; blk < n_blocks; ++blk) {
      const Index i0 = blk * rb, b = std::min(rb, n - i0);
      sums.setZero();
      for (Index j0 = 0; j0 < n; j0 += cb) {
        const Index c = std::min(cb, n - j0);
        auto t = g.topLeftCorner(b, c);
        t.noalias() = -2.0 * x.middleCols(i0, b).transpose() * x.middleCols(j0, c);
        t.colwise() += sq.segment(i0, b);
        t.rowwise() += sq.segment(j0, c).transpose();
        t = t.cwiseMax(0.0).cwiseSqrt();  // Eigen's SIMD sqrt: no errno path
        for (Index jj = 0; jj < c; ++jj) {
          const Index j = j0 + jj, self = j - i0;
          if (self >= 0 && self < b) t(self, jj) = 0.0;  // exact zero for a point and itself
          sums.col(code[j]).head(b) += t.col(jj);
        }
      }
      for (Index r = 0; r < b; ++r) {
        const Index own = code[i0 + r];
        if (counts[own] <= 1) continue;  // s = 0 for singletons
        const double a = sums(r, own) / static_cast<double>(counts[own] - 1);
        double bmin = std::numeric_limits<double>::infinity();
        for (Index cl = 0; cl < k; ++cl)
          if (cl != own) bmin = std::min(bmin, sums(r, cl) / static_cast<double>(counts[cl]));
        const double m = std::max(a, bmin);
        s_point[i0 + r] = m > 0.0 ? (bmin - a) / m : 0.0;
      }
    }
  }
  return std::accumulate(s_point.begin(), s_point.end(), 0.0) / static_cast<double>(n);
}

inline double silhouette_score(const Eigen::MatrixXd& data, const std::vector<int>& labels) {  // [D x N]
  return silhouette_score(detail::view_of(data), labels);
}

// Silhouette of a seeded random subset of `sample_size` points (without replacement), for large N.
// Cost O(sample_size^2 D). With sample_size >= N it equals silhouette_score.
inline double silhouette_score_sampled(MatrixView<const double> data,  // [D x N]
                                       const std::vector<int>& labels, Index sample_size, std::uint64_t seed = 0) {
  SCVAE_CHECK(sample_size >= 2, "silhouette_score_sampled: sample_size must be at least 2");
  SCVAE_CHECK(data.rows > 0 && data.cols > 0 && data.ld >= data.rows, "silhouette_score_sampled: empty or malformed data");
  const Index n = data.cols;
  SCVAE_CHECK(static_cast<Index>(labels.size()) == n, "silhouette_score_sampled: " + std::to_string(labels.size()) +
                                                          " labels for " + std::to_string(n) + " points");
  if (sample_size >= n) return silhouette_score(data, labels);
  std::vector<Index> idx(n);
  std::iota(idx.begin(), idx.end(), Index{0});
  std::mt19937_64 rng(seed);
  for (Index i = 0; i < sample_size; ++i) {  // partial Fisher-Yates
    const Index j = i + static_cast<Index>(detail::metrics_uniform_below(rng, static_cast<std::uint64_t>(n - i)));
    std::swap(idx[i], idx[j]);
  }
  Eigen::MatrixXd sub(data.rows, sample_size);
  std::vector<int> sub_labels(sample_size);
  for (Index j = 0; j < sample_size; ++j) {
    for (Index d = 0; d < data.rows; ++d) sub(d, j) = data(d, idx[j]);
    sub_labels[j] = labels[idx[j]];
  }
  return silhouette_score(sub, sub_labels);
}

inline double silhouette_score_sampled(const Eigen::MatrixXd& data, const std::vector<int>& labels,  // [D x N]
                                       Index sample_size, std::uint64_t seed = 0) {
  return silhouette_score_sampled(detail::view_of(data), labels, sample_size, seed);
}

}  // namespace scvae
