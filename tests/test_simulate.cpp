// Simulated counts: determinism, shapes, sparsity of the presets, cell-type structure, and the
// portable samplers against their theoretical moments.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "scvae/data/simulate.hpp"
#include "scvae/metrics/metrics.hpp"

using scvae::Index;
namespace smp = scvae::detail::sampling;

namespace {

double zero_fraction(const scvae::CsrMatrix& m) {
  return 1.0 - static_cast<double>(m.nnz()) / (static_cast<double>(m.n_rows) * static_cast<double>(m.n_cols));
}

struct Moments {
  double mean = 0, var = 0;
};
Moments moments(Index n, const std::function<double()>& draw) {
  double s = 0, s2 = 0;
  for (Index i = 0; i < n; ++i) {
    const double x = draw();
    s += x;
    s2 += x * x;
  }
  Moments m;
  m.mean = s / n;
  m.var = (s2 - s * s / n) / (n - 1);
  return m;
}
// |sample mean - mu| within 5 standard errors, sample variance within 5% + 5 SE-ish slack.
void check_moments(const Moments& m, double mu, double var, Index n, double var_rel_tol = 0.05) {
  INFO("mean " << m.mean << " vs " << mu << ", variance " << m.var << " vs " << var);
  CHECK(std::abs(m.mean - mu) < 5.0 * std::sqrt(var / n) + 1e-12);
  CHECK(std::abs(m.var - var) < var_rel_tol * var + 1e-12);
}

}  // namespace

TEST_CASE("samplers match their theoretical moments", "[simulate][samplers]") {
  std::mt19937_64 rng(2024);
  const Index n = 200000;
  check_moments(moments(n, [&] { return smp::uniform(rng); }), 0.5, 1.0 / 12.0, n);
  check_moments(moments(n, [&] { return smp::normal(rng); }), 0.0, 1.0, n);
  for (double shape : {0.05, 0.3, 1.0, 2.5, 40.0}) {  // Gamma(a, 1): mean a, variance a
    INFO("gamma shape " << shape);
    check_moments(moments(n, [&] { return smp::gamma(rng, shape); }), shape, shape, n, shape < 0.1 ? 0.15 : 0.05);
  }
  for (double lambda : {0.01, 0.5, 4.0, 9.99, 10.0, 55.0, 1000.0, 1e6}) {  // inversion and PTRS
    INFO("poisson lambda " << lambda);
    check_moments(moments(n, [&] { return static_cast<double>(smp::poisson(rng, lambda)); }), lambda, lambda, n);
  }
  for (double m : {0.2, 3.0, 50.0}) {  // NB(m, r): variance m + m^2 / r
    const double r = 0.7;
    INFO("negative binomial mean " << m);
    check_moments(moments(n, [&] { return static_cast<double>(smp::negative_binomial(rng, m, r)); }), m,
                  m + m * m / r, n, 0.1);
  }
  // Zero-truncated NB: E[X | X > 0] = m / P(X > 0).
  for (double m : {0.001, 0.3, 5.0}) {
    const double r = 0.5, pnz = smp::nb_nonzero_probability(m, r);
    INFO("truncated NB mean " << m);
    const auto mo = moments(n, [&] { return static_cast<double>(smp::negative_binomial_nonzero(rng, m, r, pnz)); });
    CHECK(mo.mean == Approx(m / pnz).epsilon(0.03));
  }
  CHECK(smp::nb_nonzero_probability(2.0, 1.0) == Approx(2.0 / 3.0));  // 1 - 1/(1 + 2)
}

TEST_CASE("sparse NB sampler: per-position zero rate and mean", "[simulate][samplers]") {
  // Means from 30 down to 1e-4 (log-spaced), as a sorted expression profile; the thinning
  // sampler must reproduce P(X_i = 0) = (1 + m_i/r)^-r and E[X_i] = m_i at every position.
  const Index genes = 40;
  const double r = 0.5;
  std::vector<double> rel(genes);
  for (Index i = 0; i < genes; ++i) rel[i] = 30.0 * std::pow(1e-4 / 30.0, static_cast<double>(i) / (genes - 1));
  std::vector<double> nonzero(genes, 0.0), sum(genes, 0.0);
  std::mt19937_64 rng(9);
  const Index reps = 100000;
  Index bad_order = 0, bad_count = 0;
  for (Index t = 0; t < reps; ++t) {
    Index last = -1;
    smp::sample_nb_sparse(rel.data(), 1.0, genes, r, rng, [&](Index i, std::int64_t k) {
      bad_order += i <= last;  // positions must come strictly increasing
      bad_count += k <= 0;
      last = i;
      nonzero[i] += 1.0;
      sum[i] += static_cast<double>(k);
    });
  }
  CHECK(bad_order == 0);
  CHECK(bad_count == 0);
  for (Index i = 0; i < genes; ++i) {
    const double pnz = smp::nb_nonzero_probability(rel[i], r);
    INFO("position " << i << " mean " << rel[i]);
    CHECK(std::abs(nonzero[i] / reps - pnz) < 5.0 * std::sqrt(pnz * (1 - pnz) / reps) + 1e-6);
    const double sd = std::sqrt((rel[i] + rel[i] * rel[i] / r) / reps);
    CHECK(std::abs(sum[i] / reps - rel[i]) < 6.0 * sd + 1e-6);
  }
}

TEST_CASE("small preset: shapes, names, labels and sparsity", "[simulate]") {
  const auto o = scvae::SimulationOptions::small_test();
  const auto d = scvae::simulate_counts(o);
  const auto& m = d.counts;
  REQUIRE_NOTHROW(m.validate("simulated"));
  CHECK(m.n_rows == 2000);
  CHECK(m.n_cols == 500);
  CHECK(m.row_names.front() == "cell_0001");
  CHECK(m.row_names.back() == "cell_2000");
  CHECK(m.col_names[41] == "gene_042");
  REQUIRE(d.label_names.size() == 5);
  CHECK(d.label_names[0] == "type_1");
  REQUIRE(d.labels.size() == 2000);
  std::vector<int> size(5, 0);
  for (int l : d.labels) ++size.at(l);
  for (int s : size) CHECK(s == 400);  // exact sizes: equal proportions
  CHECK(!std::is_sorted(d.labels.begin(), d.labels.end()));  // shuffled, not in blocks
  CHECK(std::all_of(m.values.begin(), m.values.end(), [](float v) { return v >= 1.0f && v == std::floor(v); }));
  // Measured 0.621 (seed 0) and 0.61-0.64 over seeds 0-3.
  CHECK(zero_fraction(m) > 0.55);
  CHECK(zero_fraction(m) < 0.70);
  // Library sizes: log L ~ N(7, 0.4) and the observed totals average L.
  double log_mean = 0, ratio = 0;
  for (Index c = 0; c < m.n_rows; ++c) {
    log_mean += std::log(d.library_sizes[c]);
    const double total = std::accumulate(m.values.begin() + m.indptr[c], m.values.begin() + m.indptr[c + 1], 0.0);
    ratio += total / d.library_sizes[c];
  }
  CHECK(log_mean / m.n_rows == Approx(o.library_log_mean).margin(5 * 0.4 / std::sqrt(2000.0)));
  CHECK(ratio / m.n_rows == Approx(1.0).margin(0.02));
}

TEST_CASE("simulation is seeded and independent of the thread count", "[simulate]") {
  auto o = scvae::SimulationOptions::small_test(7);
  o.cells = 700;
  const auto a = scvae::simulate_counts(o);
  const auto b = scvae::simulate_counts(o);
  CHECK(a.counts.indptr == b.counts.indptr);
  CHECK(a.counts.indices == b.counts.indices);
  CHECK(a.counts.values == b.counts.values);
  CHECK(a.labels == b.labels);
#if defined(_OPENMP)
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  o.genes = 2000;  // large enough for the parallel path
  const auto one = scvae::simulate_counts(o);
  omp_set_num_threads(std::max(2, threads));
  const auto many = scvae::simulate_counts(o);
  omp_set_num_threads(threads);
  CHECK(one.counts.indices == many.counts.indices);
  CHECK(one.counts.values == many.counts.values);
  o.genes = 500;
#endif
  o.seed = 8;
  const auto c = scvae::simulate_counts(o);
  CHECK(c.counts.values != a.counts.values);
  CHECK(c.labels != a.labels);
  // Golden values for seed 7, 700 cells (integers, so 1-ulp libm differences rarely matter):
  // a change here means the random stream changed and simulated data sets are no longer
  // reproducible across versions.
  const double total = std::accumulate(a.counts.values.begin(), a.counts.values.end(), 0.0);
  CHECK(a.counts.nnz() == 134369);
  CHECK(total == 858527.0);
}

TEST_CASE("cell types have distinct mean profiles that k-means recovers", "[simulate]") {
  const auto o = scvae::SimulationOptions::small_test(3);
  const auto d = scvae::simulate_counts(o);
  const auto& m = d.counts;
  const Index k = o.clusters, g = o.genes;
  // Empirical per-type mean of the normalised counts x / L.
  Eigen::MatrixXd emp = Eigen::MatrixXd::Zero(g, k);
  std::vector<double> n_k(k, 0.0);
  for (Index c = 0; c < m.n_rows; ++c) {
    const int l = d.labels[c];
    n_k[l] += 1;
    for (auto t = m.indptr[c]; t < m.indptr[c + 1]; ++t) emp(m.indices[t], l) += m.values[t] / d.library_sizes[c];
  }
  for (Index l = 0; l < k; ++l) emp.col(l) /= n_k[l];
  // Each empirical profile is closest (in log space) to its own true profile.
  auto log_dist = [&](Index e, Index t) {
    double s = 0;
    for (Index j = 0; j < g; ++j) {
      const double diff = std::log(emp(j, e) + 1e-5) - std::log(d.profiles[t][j] + 1e-5);
      s += diff * diff;
    }
    return s;
  };
  for (Index e = 0; e < k; ++e)
    for (Index t = 0; t < k; ++t)
      if (t != e) CHECK(log_dist(e, e) * 2.0 < log_dist(e, t));
  // The true profiles differ on about de_fraction of the genes per type.
  Index differing = 0;
  for (Index j = 0; j < g; ++j) differing += std::abs(std::log(d.profiles[0][j] / d.profiles[1][j])) > 0.5;
  CHECK(differing > g / 10);
  CHECK(differing < g / 2);

  // Log-normalised counts -> PCA(10) -> k-means(5) finds the types (ARI 0.99-1.0 over seeds 0-3).
  Eigen::MatrixXd x = Eigen::MatrixXd::Zero(g, m.n_rows);
  for (Index c = 0; c < m.n_rows; ++c) {
    double lib = 0;
    for (auto t = m.indptr[c]; t < m.indptr[c + 1]; ++t) lib += m.values[t];
    for (auto t = m.indptr[c]; t < m.indptr[c + 1]; ++t) x(m.indices[t], c) = std::log1p(1e4 * m.values[t] / lib);
  }
  const auto p = scvae::pca(x, 10);
  const auto km = scvae::kmeans(p.projected, k, 1);
  CHECK(scvae::adjusted_rand_index(d.labels, km.labels) > 0.95);
}

TEST_CASE("MBC-20k-like preset: size and sparsity", "[simulate]") {
  auto o = scvae::SimulationOptions::like_mbc20k();
  CHECK(o.cells == 20000);
  CHECK(o.genes == 27998);
  // Zeros are a per-cell property, so 1,000 cells estimate the full preset's fraction (the full
  // 20,000 x 27,998 matrix measured 0.9310, 38.6M non-zeros, 2.7 s on 2 cores).
  o.cells = 1000;
  const auto d = scvae::simulate_counts(o);
  REQUIRE_NOTHROW(d.counts.validate());
  CHECK(d.counts.n_cols == 27998);
  CHECK(zero_fraction(d.counts) > 0.92);
  CHECK(zero_fraction(d.counts) < 0.94);
  CHECK(d.label_names.size() == 10);
  CHECK(d.label_names[9] == "type_10");
}

TEST_CASE("simulation options are validated", "[simulate]") {
  auto bad = [](auto edit) {
    auto o = scvae::SimulationOptions::small_test();
    edit(o);
    return o;
  };
  CHECK_THROWS_AS(scvae::simulate_counts(bad([](auto& o) { o.cells = 0; })), scvae::InputError);
  CHECK_THROWS_AS(scvae::simulate_counts(bad([](auto& o) { o.clusters = 0; })), scvae::InputError);
  CHECK_THROWS_AS(scvae::simulate_counts(bad([](auto& o) { o.dispersion = 0.0; })), scvae::InputError);
  CHECK_THROWS_AS(scvae::simulate_counts(bad([](auto& o) { o.de_fraction = 1.5; })), scvae::InputError);
  CHECK_THROWS_AS(scvae::simulate_counts(bad([](auto& o) { o.de_fold = 0.5; })), scvae::InputError);
  CHECK_THROWS_WITH(scvae::simulate_counts(bad([](auto& o) { o.cluster_proportions = {1.0, 2.0}; })),
                    Catch::Contains("cluster_proportions"));
  // Values that overflowed the profiles or library sizes to inf/NaN (or silently to all zeros) are
  // refused up front, naming the field.
  const double nan = std::nan(""), inf = INFINITY;
  auto refused = [&](auto edit, const char* field) {
    INFO(field);
    CHECK_THROWS_WITH(scvae::simulate_counts(bad(edit)), Catch::Contains(field));
  };
  refused([](auto& o) { o.de_fold = 1e308; }, "de_fold");
  refused([&](auto& o) { o.de_fold = nan; }, "de_fold");
  refused([](auto& o) { o.de_log_sd = 1e300; }, "de_log_sd");
  refused([&](auto& o) { o.de_log_sd = inf; }, "de_log_sd");
  refused([](auto& o) { o.gene_shape = 1e300; }, "gene_shape");
  refused([&](auto& o) { o.gene_shape = nan; }, "gene_shape");
  refused([](auto& o) { o.library_log_mean = -1e300; }, "library_log_mean");
  refused([&](auto& o) { o.library_log_sd = nan; }, "library_log_sd");
  refused([&](auto& o) { o.dispersion = inf; }, "dispersion");
  refused([&](auto& o) { o.de_fraction = nan; }, "de_fraction");
  refused([](auto& o) { o.cluster_proportions = {1e308, 1e308, 1e308, 1e308, 1e308}; }, "cluster_proportions");
  // the extremes of the ranges still give finite profiles
  auto edge = bad([](auto& o) {
    o.cells = 50;
    o.de_fraction = 1.0;
    o.de_fold = 1e6;
    o.de_log_sd = 5.0;
    o.gene_shape = 1e6;
  });
  for (const auto& p : scvae::simulate_counts(edge).profiles)
    for (double v : p) REQUIRE(std::isfinite(v));
  // Unequal proportions give the exact rounded sizes.
  auto o = bad([](auto& opt) {
    opt.cells = 101;
    opt.clusters = 3;
    opt.cluster_proportions = {1.0, 2.0, 7.0};
  });
  const auto d = scvae::simulate_counts(o);
  std::vector<int> size(3, 0);
  for (int l : d.labels) ++size[l];
  CHECK(size == std::vector<int>{10, 20, 71});
}
