#pragma once
// Seeded k-means (Lloyd's algorithm with greedy k-means++ initialisation, as scikit-learn).
// Used to cluster the latent space of a plain VAE and to compare with GMVAE assignments.
// Results are identical with every standard library: draws come from the raw mt19937_64 stream.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "detail/data_map.hpp"

namespace scvae {

struct KMeansResult {
  std::vector<int> labels;    // [N] cluster of each point, 0..k-1
  Eigen::MatrixXd centroids;  // [D x k]
  double inertia = 0.0;       // sum of squared distances of points to their centroid
  int iterations = 0;         // Lloyd iterations of the best run
};

namespace detail {

// Number of distinct columns of x (lexicographic sort of column indices).
inline Index count_distinct_columns(const ConstDataMap& x) {
  std::vector<Index> order(static_cast<std::size_t>(x.cols()));
  std::iota(order.begin(), order.end(), Index{0});
  auto less = [&](Index a, Index b) {
    for (Index d = 0; d < x.rows(); ++d)
      if (x(d, a) != x(d, b)) return x(d, a) < x(d, b);
    return false;
  };
  std::sort(order.begin(), order.end(), less);
  Index distinct = 1;
  for (std::size_t i = 1; i < order.size(); ++i) distinct += less(order[i - 1], order[i]) ? 1 : 0;
  return distinct;
}

// Greedy k-means++: each new centre is the best (lowest potential) of 2 + log(k) candidates
// drawn with probability proportional to the squared distance to the nearest chosen centre.
inline Eigen::MatrixXd kmeans_plus_plus(const ConstDataMap& x, Index k, std::mt19937_64& rng) {
  const Index n = x.cols();
  Eigen::MatrixXd centres(x.rows(), k);
  const Index first = static_cast<Index>(metrics_uniform_below(rng, static_cast<std::uint64_t>(n)));
  centres.col(0) = x.col(first);
  std::vector<double> closest(n), cumulative(n), trial(n), best_trial(n);
  for (Index i = 0; i < n; ++i) closest[i] = (x.col(i) - centres.col(0)).squaredNorm();
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  for (Index c = 1; c < k; ++c) {
    std::partial_sum(closest.begin(), closest.end(), cumulative.begin());
    const double potential = cumulative.back();
    double best_potential = std::numeric_limits<double>::infinity();
    Index best = 0;
    for (int t = 0; t < trials; ++t) {
      Index cand;
      if (potential > 0.0) {
        const double r = metrics_uniform01(rng) * potential;
        cand = static_cast<Index>(std::upper_bound(cumulative.begin(), cumulative.end(), r) - cumulative.begin());
        cand = std::min(cand, n - 1);
        while (closest[cand] == 0.0 && cand > 0) --cand;  // never pick a point that is already a centre
      } else {
        cand = static_cast<Index>(metrics_uniform_below(rng, static_cast<std::uint64_t>(n)));
      }
      double pot = 0.0;
      for (Index i = 0; i < n; ++i) {
        trial[i] = std::min(closest[i], (x.col(i) - x.col(cand)).squaredNorm());
        pot += trial[i];
      }
      if (pot < best_potential) {
        best_potential = pot;
        best = cand;
        best_trial.swap(trial);
      }
    }
    centres.col(c) = x.col(best);
    closest = best_trial;
  }
  return centres;
}

// Assigns each point to its nearest centre (ties: lowest index); returns whether any label changed.
inline bool kmeans_assign(const ConstDataMap& x, const Eigen::MatrixXd& centres, std::vector<int>& labels,
                          std::vector<double>& dist) {
  const Index n = x.cols(), k = centres.cols();
  bool changed = false;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) reduction(|| : changed) if (n * k * x.rows() > 200000)
#endif
  for (Index i = 0; i < n; ++i) {
    double best = std::numeric_limits<double>::infinity();
    int arg = 0;
    for (Index c = 0; c < k; ++c) {
      const double d = (x.col(i) - centres.col(c)).squaredNorm();
      if (d < best) {
        best = d;
        arg = static_cast<int>(c);
      }
    }
    changed = changed || labels[i] != arg;
    labels[i] = arg;
    dist[i] = best;
  }
  return changed;
}

inline KMeansResult kmeans_single(const ConstDataMap& x, Index k, int max_iter, double tol, std::mt19937_64& rng) {
  const Index n = x.cols(), dim = x.rows();
  KMeansResult r;
  r.centroids = kmeans_plus_plus(x, k, rng);
  r.labels.assign(n, -1);
  std::vector<double> dist(n);
  std::vector<Index> counts(k);
  Eigen::MatrixXd sums(dim, k);
  std::vector<Index> order(n);
  for (int it = 0; it < max_iter; ++it) {
    r.iterations = it + 1;
    const bool changed = kmeans_assign(x, r.centroids, r.labels, dist);
    if (!changed) break;  // strict convergence: centres are already the means of their points
    sums.setZero();
    std::fill(counts.begin(), counts.end(), 0);
    for (Index i = 0; i < n; ++i) {
      sums.col(r.labels[i]) += x.col(i);
      ++counts[r.labels[i]];
    }
    // Empty clusters take the points farthest from their centres (as scikit-learn), so k
    // clusters stay populated; a moved point leaves its old cluster's sum.
    const Index n_empty = std::count(counts.begin(), counts.end(), Index{0});
    if (n_empty > 0) {
      std::iota(order.begin(), order.end(), Index{0});
      std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return dist[a] > dist[b]; });
      Index next = 0;
      for (Index c = 0; c < k; ++c) {
        if (counts[c] != 0) continue;
        Index i = order[next++];
        while (counts[r.labels[i]] <= 1 && next < n) i = order[next++];  // keep donors non-empty
        sums.col(r.labels[i]) -= x.col(i);
        --counts[r.labels[i]];
        r.labels[i] = static_cast<int>(c);
        sums.col(c) = x.col(i);
        counts[c] = 1;
        dist[i] = 0.0;
      }
    }
    double shift = 0.0;
    for (Index c = 0; c < k; ++c) {
      const Eigen::VectorXd m = sums.col(c) / static_cast<double>(counts[c]);
      shift += (m - r.centroids.col(c)).squaredNorm();
      r.centroids.col(c) = m;
    }
    if (shift <= tol) {
      kmeans_assign(x, r.centroids, r.labels, dist);  // labels consistent with the final centres
      break;
    }
  }
  r.inertia = std::accumulate(dist.begin(), dist.end(), 0.0);
  return r;
}

}  // namespace detail

// Clusters the N columns of `data` into k groups. Runs `n_init` seeded initialisations and keeps
// the lowest inertia. Stops when no label changes or the centres move less than
// tol * (mean per-feature variance) in total squared distance.
// Throws InputError when k < 1, k > N, data holds fewer than k distinct points or a non-finite value.
inline KMeansResult kmeans(MatrixView<const double> data,  // [D x N]
                           Index k, std::uint64_t seed = 0, int n_init = 10, int max_iter = 300,
                           double tol = 1e-4) {
  const auto x = detail::map_data(data, "kmeans");
  SCVAE_CHECK(k >= 1, "kmeans: k must be at least 1, got " + std::to_string(k));
  SCVAE_CHECK(k <= x.cols(), "kmeans: k = " + std::to_string(k) + " exceeds the number of points (" +
                                 std::to_string(x.cols()) + ")");
  SCVAE_CHECK(n_init >= 1, "kmeans: n_init must be at least 1");
  SCVAE_CHECK(max_iter >= 1, "kmeans: max_iter must be at least 1");
  SCVAE_CHECK(tol >= 0.0, "kmeans: tol must be non-negative");
  const Index distinct = detail::count_distinct_columns(x);
  SCVAE_CHECK(distinct >= k, "kmeans: k = " + std::to_string(k) + " exceeds the number of distinct points (" +
                                 std::to_string(distinct) + ")");
  const Eigen::VectorXd mean = x.rowwise().mean();
  const double variance = (x.colwise() - mean).squaredNorm() / static_cast<double>(x.size());
  // Squared distances must be finite for any run to beat another (values near 1e154 overflow).
  SCVAE_CHECK(std::isfinite(variance), "kmeans: values too large (squared distances overflow a double)");
  const double abs_tol = tol * variance;

  std::mt19937_64 rng(seed);
  KMeansResult best;
  best.inertia = std::numeric_limits<double>::infinity();
  for (int run = 0; run < n_init; ++run) {
    KMeansResult r = detail::kmeans_single(x, k, max_iter, abs_tol, rng);
    if (r.inertia < best.inertia) best = std::move(r);
  }
  return best;
}

inline KMeansResult kmeans(const Eigen::MatrixXd& data,  // [D x N]
                           Index k, std::uint64_t seed = 0, int n_init = 10, int max_iter = 300,
                           double tol = 1e-4) {
  return kmeans(detail::view_of(data), k, seed, n_init, max_iter, tol);
}

}  // namespace scvae
