#pragma once
// Principal component analysis of a small-dimensional point cloud (e.g. the [D x N] latent means,
// D <= a few hundred) through the eigendecomposition of the D x D covariance. Used for 2-D plots
// of the latent space. Deterministic sign: each component's largest-|loading| entry is positive.
#include <algorithm>
#include <cmath>
#include <string>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include "detail/data_map.hpp"

namespace scvae {

struct PcaResult {
  Eigen::MatrixXd projected;                 // [C x N] coordinates of the centred points
  Eigen::MatrixXd components;                // [D x C] unit loadings, by decreasing variance
  Eigen::VectorXd explained_variance;        // [C] variance along each component (N - 1 denominator)
  Eigen::VectorXd explained_variance_ratio;  // [C] fraction of the total variance
  Eigen::VectorXd mean;                      // [D] the centre that was subtracted

  // [C x N] view of `projected`, e.g. for scatter_plot (report/svg.hpp, which has no Eigen).
  MatrixView<const double> projected_view() const {
    return {projected.data(), static_cast<Index>(projected.rows()), static_cast<Index>(projected.cols())};
  }
};

inline PcaResult pca(MatrixView<const double> data,  // [D x N]
                     Index n_components) {
  const auto x = detail::map_data(data, "pca");
  const Index dim = x.rows(), n = x.cols();
  SCVAE_CHECK(n >= 2, "pca: needs at least 2 points, got " + std::to_string(n));
  SCVAE_CHECK(n_components >= 1 && n_components <= dim,
              "pca: n_components = " + std::to_string(n_components) + " must be in [1, " + std::to_string(dim) + "]");
  SCVAE_CHECK(dim <= 4096, "pca: dimension " + std::to_string(dim) + " too large for a dense covariance");
  PcaResult r;
  r.mean = x.rowwise().mean();
  const Eigen::MatrixXd centred = x.colwise() - r.mean;
  Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(dim, dim);
  cov.selfadjointView<Eigen::Lower>().rankUpdate(centred, 1.0 / static_cast<double>(n - 1));
  cov = cov.selfadjointView<Eigen::Lower>();
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  SCVAE_CHECK(eig.info() == Eigen::Success, "pca: eigendecomposition failed");
  const double total = std::max(cov.trace(), 0.0);
  r.components.resize(dim, n_components);
  r.explained_variance.resize(n_components);
  r.explained_variance_ratio.resize(n_components);
  for (Index c = 0; c < n_components; ++c) {
    const Index src = dim - 1 - c;  // eigenvalues come in increasing order
    Eigen::VectorXd v = eig.eigenvectors().col(src);
    Index arg = 0;
    v.cwiseAbs().maxCoeff(&arg);
    if (v(arg) < 0.0) v = -v;
    r.components.col(c) = v;
    r.explained_variance(c) = std::max(eig.eigenvalues()(src), 0.0);  // clamp rounding below zero
    r.explained_variance_ratio(c) = total > 0.0 ? r.explained_variance(c) / total : 0.0;
  }
  r.projected.noalias() = r.components.transpose() * centred;
  return r;
}

inline PcaResult pca(const Eigen::MatrixXd& data, Index n_components) {  // [D x N]
  return pca(detail::view_of(data), n_components);
}

}  // namespace scvae
