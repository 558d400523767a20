// Clustering metrics, k-means, silhouette and PCA against hand computations and scikit-learn.
// Reference constants marked "sklearn 1.x" were computed once with scikit-learn (pip install
// scikit-learn) using the call quoted beside them; they are not needed to run the tests.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <Eigen/Core>

#include "scvae/metrics/metrics.hpp"

using scvae::Index;

namespace {

// Three tight 2-D blobs around (0,0), (10,0), (0,10): [2 x 3m], column j in blob j % 3.
Eigen::MatrixXd blobs(Index m, std::vector<int>& truth, double spread = 0.3, std::uint64_t seed = 5) {
  std::mt19937_64 rng(seed);
  auto u = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53 - 0.5; };
  const double cx[3] = {0, 10, 0}, cy[3] = {0, 0, 10};
  Eigen::MatrixXd x(2, 3 * m);
  truth.resize(3 * m);
  for (Index j = 0; j < 3 * m; ++j) {
    const int b = static_cast<int>(j % 3);
    x(0, j) = cx[b] + spread * u();
    x(1, j) = cy[b] + spread * u();
    truth[j] = b;
  }
  return x;
}

}  // namespace

TEST_CASE("ARI of a hand-computed 2 x 3 contingency table", "[metrics]") {
  // a = {0,0,0,1,1,1}, b = {0,0,1,1,2,2}: table rows (2,1,0) and (0,1,2).
  // sum C(n_ij,2) = 1 + 1 = 2; row sums 3,3 -> sum C = 6; column sums 2,2,2 -> sum C = 3; C(6,2) = 15.
  // expected = 6 * 3 / 15 = 1.2; max = (6 + 3) / 2 = 4.5; ARI = (2 - 1.2) / (4.5 - 1.2) = 0.8 / 3.3.
  const std::vector<int> a{0, 0, 0, 1, 1, 1}, b{0, 0, 1, 1, 2, 2};
  CHECK(scvae::adjusted_rand_index(a, b) == Approx(0.8 / 3.3).epsilon(1e-14));
  CHECK(scvae::adjusted_rand_index(a, b) == Approx(0.24242424242424243));  // sklearn adjusted_rand_score(a, b)
  // NMI: MI = sum n_ij/n log(n n_ij / (a_i b_j)) = 2 * (2/6 log(6*2/(3*2)) + 1/6 log(6/(3*2))) = 2/3 ln 2;
  // H(a) = ln 2, H(b) = ln 3; NMI = (2/3 ln 2) / ((ln 2 + ln 3) / 2).
  const double nmi = (2.0 / 3.0 * std::log(2.0)) / (0.5 * (std::log(2.0) + std::log(3.0)));
  CHECK(scvae::normalized_mutual_information(a, b) == Approx(nmi).epsilon(1e-14));
  CHECK(scvae::normalized_mutual_information(a, b) == Approx(0.5158037429793889));    // sklearn
  CHECK(scvae::adjusted_mutual_information(a, b) == Approx(0.2987924581708901));      // sklearn
}

TEST_CASE("scikit-learn's documented examples", "[metrics]") {
  const std::vector<int> a{0, 0, 1, 1}, b{0, 0, 1, 2};
  // adjusted_rand_score([0,0,1,1],[0,0,1,2]) = 0.5714285714285715 (sklearn docs) = 4/7 by hand:
  // sum C(n_ij,2) = 1, rows 1+1 = 2, columns 1, C(4,2) = 6: (1 - 2/6) / (1.5 - 2/6) = 4/7.
  CHECK(scvae::adjusted_rand_index(a, b) == Approx(4.0 / 7.0).epsilon(1e-14));
  // normalized_mutual_info_score = 0.8: MI = H(a) = ln 2, H(b) = 1.5 ln 2, 1 / 1.25 = 0.8.
  CHECK(scvae::normalized_mutual_information(a, b) == Approx(0.8).epsilon(1e-14));
  CHECK(scvae::adjusted_mutual_information(a, b) == Approx(0.5714285714285715));  // sklearn
  // A less regular case with non-contiguous labels (sklearn 1.x on the same vectors).
  const std::vector<int> c{7, 7, 3, 3, 3, 9, 9, 9, 9, 1}, d{0, 1, 1, 1, 2, 2, 0, 2, 2, 2};
  CHECK(scvae::adjusted_rand_index(c, d) == Approx(0.1));
  CHECK(scvae::normalized_mutual_information(c, d) == Approx(0.41146029889696506));
  CHECK(scvae::adjusted_mutual_information(c, d) == Approx(0.09922056491302919));
  // AMI can be negative: sklearn adjusted_mutual_info_score([0,0,0,1,1,1,2,2],[0,1,0,1,0,1,0,1]).
  CHECK(scvae::adjusted_mutual_information({0, 0, 0, 1, 1, 1, 2, 2}, {0, 1, 0, 1, 0, 1, 0, 1}) ==
        Approx(-0.2027281204174666));
}

TEST_CASE("perfect, permuted and degenerate labelings", "[metrics]") {
  const std::vector<int> a{0, 0, 1, 1, 2, 2, 2};
  const std::vector<int> renamed{5, 5, -3, -3, 40, 40, 40};  // same partition, other names
  CHECK(scvae::adjusted_rand_index(a, renamed) == Approx(1.0));
  CHECK(scvae::normalized_mutual_information(a, renamed) == Approx(1.0));
  CHECK(scvae::adjusted_mutual_information(a, renamed) == Approx(1.0));
  // Symmetric in its arguments.
  const std::vector<int> b{0, 1, 1, 1, 2, 0, 2};
  CHECK(scvae::adjusted_rand_index(a, b) == Approx(scvae::adjusted_rand_index(b, a)));
  CHECK(scvae::normalized_mutual_information(a, b) == Approx(scvae::normalized_mutual_information(b, a)));
  CHECK(scvae::adjusted_mutual_information(a, b) == Approx(scvae::adjusted_mutual_information(b, a)));
  // Conventions shared with sklearn: one cluster in both -> 1; one vs all singletons -> NMI 0.
  CHECK(scvae::adjusted_rand_index({1, 1, 1}, {4, 4, 4}) == 1.0);
  CHECK(scvae::normalized_mutual_information({1, 1, 1}, {4, 4, 4}) == 1.0);
  CHECK(scvae::normalized_mutual_information({0, 1, 2, 3}, {0, 0, 0, 0}) == 0.0);  // sklearn: 0.0
  CHECK_THROWS_AS(scvae::adjusted_rand_index({0, 1}, {0}), scvae::InputError);
  CHECK_THROWS_AS(scvae::normalized_mutual_information({}, {}), scvae::InputError);
}

TEST_CASE("independent labelings score near zero", "[metrics]") {
  // a cycles 0..4, b is 0..3 in blocks: every (a, b) pair equally frequent -> MI = 0 exactly.
  std::vector<int> a, b;
  for (int i = 0; i < 400; ++i) {
    a.push_back(i % 5);
    b.push_back(i / 100);
  }
  CHECK(scvae::normalized_mutual_information(a, b) == Approx(0.0).margin(1e-12));
  CHECK(scvae::adjusted_rand_index(a, b) < 0.0);  // below chance by a hair for a balanced table
  CHECK(scvae::adjusted_rand_index(a, b) > -0.01);
  CHECK(scvae::adjusted_mutual_information(a, b) < 0.0);
  CHECK(scvae::adjusted_mutual_information(a, b) > -0.02);
  // Random labelings: ARI and AMI are adjusted for chance, NMI is not.
  std::mt19937_64 rng(1);
  std::vector<int> r1(3000), r2(3000);
  for (auto& v : r1) v = static_cast<int>(rng() % 6);
  for (auto& v : r2) v = static_cast<int>(rng() % 6);
  CHECK(std::abs(scvae::adjusted_rand_index(r1, r2)) < 0.01);
  CHECK(std::abs(scvae::adjusted_mutual_information(r1, r2)) < 0.01);
}

TEST_CASE("k-means recovers well-separated blobs and is seeded", "[metrics][kmeans]") {
  std::vector<int> truth;
  const Eigen::MatrixXd x = blobs(100, truth);
  const auto r = scvae::kmeans(x, 3, 42);
  REQUIRE(r.labels.size() == 300);
  CHECK(scvae::adjusted_rand_index(truth, r.labels) == 1.0);
  CHECK(r.centroids.rows() == 2);
  CHECK(r.centroids.cols() == 3);
  // Each centroid lies within the blob spread of a true centre.
  for (Index c = 0; c < 3; ++c) {
    const double d0 = r.centroids.col(c).norm(), d1 = (r.centroids.col(c) - Eigen::Vector2d(10, 0)).norm(),
                 d2 = (r.centroids.col(c) - Eigen::Vector2d(0, 10)).norm();
    CHECK(std::min({d0, d1, d2}) < 0.1);
  }
  // Inertia equals the sum of squared distances to the reported centroids.
  double inertia = 0.0;
  for (Index j = 0; j < x.cols(); ++j) inertia += (x.col(j) - r.centroids.col(r.labels[j])).squaredNorm();
  CHECK(r.inertia == Approx(inertia).epsilon(1e-12));

  const auto again = scvae::kmeans(x, 3, 42);
  CHECK(again.labels == r.labels);
  CHECK(again.centroids == r.centroids);
  CHECK(again.inertia == r.inertia);
  // A view with a padded leading dimension gives the same result as the matrix.
  Eigen::MatrixXd padded = Eigen::MatrixXd::Constant(5, x.cols(), 99.0);
  padded.topRows(2) = x;
  const auto viewed = scvae::kmeans(scvae::MatrixView<const double>(padded.data(), 2, x.cols(), 5), 3, 42);
  CHECK(viewed.labels == r.labels);
}

TEST_CASE("k-means exact small case and input checks", "[metrics][kmeans]") {
  // Four points on a line, k = 2: optimum {0, 1} | {10, 12}, centroids 0.5 and 11,
  // inertia 0.25 * 2 + 1 * 2 = 2.5.
  Eigen::MatrixXd x(1, 4);
  x << 0, 10, 1, 12;
  const auto r = scvae::kmeans(x, 2, 7);
  CHECK(r.labels[0] == r.labels[2]);
  CHECK(r.labels[1] == r.labels[3]);
  CHECK(r.labels[0] != r.labels[1]);
  CHECK(r.inertia == Approx(2.5));
  // k = N: every point its own cluster, inertia 0.
  CHECK(scvae::kmeans(x, 4, 1).inertia == 0.0);

  Eigen::MatrixXd dup(2, 5);
  dup << 1, 1, 1, 2, 2,
         0, 0, 0, 3, 3;  // two distinct points
  CHECK(scvae::kmeans(dup, 2, 0).inertia == 0.0);
  CHECK_THROWS_WITH(scvae::kmeans(dup, 3, 0), Catch::Contains("distinct points (2)"));
  CHECK_THROWS_AS(scvae::kmeans(x, 5, 0), scvae::InputError);
  CHECK_THROWS_AS(scvae::kmeans(x, 0, 0), scvae::InputError);
  x(0, 1) = std::nan("");
  CHECK_THROWS_WITH(scvae::kmeans(x, 2, 0), Catch::Contains("non-finite"));
  // Finite values whose squared distances overflow: no run could win (was an empty result).
  x << 0, 1e160, -1e160, 5e159;
  CHECK_THROWS_WITH(scvae::kmeans(x, 2, 0), Catch::Contains("overflow"));
}

TEST_CASE("k-means keeps k clusters populated on awkward data", "[metrics][kmeans]") {
  // Heavy duplication: 200 copies of one point plus 6 distinct outliers; k = 7 must give 7
  // non-empty clusters and zero inertia (each distinct point its own centre).
  Eigen::MatrixXd x = Eigen::MatrixXd::Zero(3, 206);
  for (Index j = 0; j < 6; ++j) x(j % 3, 200 + j) = 1.0 + static_cast<double>(j);
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    const auto r = scvae::kmeans(x, 7, seed, 1);
    std::vector<int> size(7, 0);
    for (int l : r.labels) ++size[l];
    for (int s : size) CHECK(s > 0);
    CHECK(r.inertia == Approx(0.0).margin(1e-12));
  }
}

TEST_CASE("silhouette against hand computation and sklearn", "[metrics][silhouette]") {
  // 1-D points 0, 1 | 3, 7. Point 0: a = 1, b = (3 + 7)/2 = 5 -> 0.8. Point 1: a = 1, b = 4 -> 0.75.
  // Point 3: a = 4, b = (3 + 2)/2 = 2.5 -> -1.5/4 = -0.375. Point 7: a = 4, b = 6.5 -> 2.5/6.5.
  Eigen::MatrixXd x(1, 4);
  x << 0, 1, 3, 7;
  const double hand = (0.8 + 0.75 - 0.375 + 2.5 / 6.5) / 4.0;
  CHECK(scvae::silhouette_score(x, {0, 0, 1, 1}) == Approx(hand).epsilon(1e-12));
  CHECK(scvae::silhouette_score(x, {0, 0, 1, 1}) == Approx(0.38990384615384616));  // sklearn
  Eigen::MatrixXd y(2, 6);
  y << 0, 1, 0, 5, 6, 5,
       0, 0, 1, 5, 5, 7;
  CHECK(scvae::silhouette_score(y, {0, 0, 0, 1, 1, 1}) == Approx(0.8048918895105276));  // sklearn
  // Singleton cluster contributes 0: points 0, 1 | 10 -> s = (0.9 + 0.888.. + 0) / 3.
  Eigen::MatrixXd z(1, 3);
  z << 0, 1, 10;
  CHECK(scvae::silhouette_score(z, {0, 0, 1}) == Approx((1.0 - 1.0 / 10.0 + 1.0 - 1.0 / 9.0) / 3.0));
  CHECK_THROWS_AS(scvae::silhouette_score(x, {0, 0, 0, 0}), scvae::InputError);
  CHECK_THROWS_AS(scvae::silhouette_score(x, {0, 1, 2, 3}), scvae::InputError);
  CHECK_THROWS_AS(scvae::silhouette_score(x, {0, 1}), scvae::InputError);
}

TEST_CASE("silhouette of blobs: blocked, sampled and labels", "[metrics][silhouette]") {
  std::vector<int> truth;
  const Eigen::MatrixXd x = blobs(700, truth, 1.0);  // 2100 points: several row blocks
  // Brute-force reference.
  const Index n = x.cols();
  double ref = 0.0;
  for (Index i = 0; i < n; ++i) {
    double sum[3] = {0, 0, 0};
    for (Index j = 0; j < n; ++j) sum[truth[j]] += (x.col(i) - x.col(j)).norm();
    const int own = truth[i];
    const double a = sum[own] / 699.0;
    double b = 1e300;
    for (int c = 0; c < 3; ++c)
      if (c != own) b = std::min(b, sum[c] / 700.0);
    ref += (b - a) / std::max(a, b);
  }
  ref /= static_cast<double>(n);
  const double s = scvae::silhouette_score(x, truth);
  CHECK(s == Approx(ref).epsilon(1e-9));
  CHECK(s > 0.9);
  const double sampled = scvae::silhouette_score_sampled(x, truth, 500, 3);
  CHECK(sampled == Approx(s).margin(0.02));
  CHECK(sampled == scvae::silhouette_score_sampled(x, truth, 500, 3));
  CHECK(scvae::silhouette_score_sampled(x, truth, 5000, 3) == s);
  // A wrong labelling scores far lower.
  std::vector<int> wrong(truth.size());
  for (std::size_t i = 0; i < wrong.size(); ++i) wrong[i] = static_cast<int>(i % 2);
  CHECK(scvae::silhouette_score(x, wrong) < 0.1);
}

TEST_CASE("PCA against sklearn and its sign convention", "[metrics][pca]") {
  // sklearn PCA(2).fit(X) with X (N x D) = [[2,0,1],[0,1,3],[4,1,0],[1,3,2],[3,2,5]].
  Eigen::MatrixXd x(3, 5);  // [D x N]
  x << 2, 0, 4, 1, 3,
       0, 1, 1, 3, 2,
       1, 3, 0, 2, 5;
  const auto p = scvae::pca(x, 2);
  REQUIRE(p.projected.rows() == 2);
  REQUIRE(p.projected.cols() == 5);
  CHECK(p.explained_variance(0) == Approx(4.339724735885171));
  CHECK(p.explained_variance(1) == Approx(2.1602752641148317));
  CHECK(p.explained_variance_ratio(0) == Approx(0.5786299647846892));
  CHECK(p.explained_variance_ratio(1) == Approx(0.28803670188197744));
  const double comp[2][3] = {{-0.3948118529048453, 0.29053805272388017, 0.871614158171641},
                             {0.9187619935575494, 0.12485047024106759, 0.374551410723203}};
  const double proj[5][2] = {{-1.4526902636194015, -0.6242523512053384}, {1.3706998112574513, -1.5878230466329637},
                             {-2.823390074876853, 0.9635706954276251}, {0.6853499056287251, -0.7939115233164822},
                             {2.2200306216100776, 2.042416225727158}};
  for (int c = 0; c < 2; ++c) {
    for (int d = 0; d < 3; ++d) CHECK(p.components(d, c) == Approx(comp[c][d]).margin(1e-12));
    for (int j = 0; j < 5; ++j) CHECK(p.projected(c, j) == Approx(proj[j][c]).margin(1e-12));
  }
  // Sign convention holds under negation of the data (the loadings' signs are not arbitrary).
  const auto q = scvae::pca(Eigen::MatrixXd(-x), 2);
  CHECK(q.components.isApprox(p.components, 1e-12));
  CHECK(q.projected.isApprox(-p.projected, 1e-12));
  CHECK_THROWS_AS(scvae::pca(x, 4), scvae::InputError);
  CHECK_THROWS_AS(scvae::pca(Eigen::MatrixXd(x.leftCols(1)), 1), scvae::InputError);
}

TEST_CASE("PCA of an elongated cloud finds the long axis", "[metrics][pca]") {
  std::mt19937_64 rng(3);
  auto u = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53 - 0.5; };
  Eigen::MatrixXd x(3, 1000);
  for (Index j = 0; j < 1000; ++j) {
    const double t = 10.0 * u();
    x.col(j) << 3.0 + t, -1.0 + t + 0.1 * u(), 0.2 * u();
  }
  const auto p = scvae::pca(x, 3);
  const Eigen::Vector3d axis = Eigen::Vector3d(1, 1, 0).normalized();
  CHECK(std::abs(p.components.col(0).dot(axis)) > 0.999);
  CHECK(p.explained_variance_ratio(0) > 0.99);
  CHECK(p.explained_variance_ratio.sum() == Approx(1.0));
  CHECK(p.explained_variance(0) >= p.explained_variance(1));
  CHECK(p.explained_variance(1) >= p.explained_variance(2));
  // Projections are centred and their variance is the explained variance.
  CHECK(p.projected.row(0).mean() == Approx(0.0).margin(1e-9));
  CHECK(p.projected.row(0).squaredNorm() / 999.0 == Approx(p.explained_variance(0)));
}
