#pragma once
// Shared helpers of the metrics: an Eigen map of a [D x N] view, input checks, portable draws.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include <Eigen/Core>

#include "../../core/error.hpp"
#include "../../core/view.hpp"

namespace scvae {
namespace detail {

using ConstDataMap = Eigen::Map<const Eigen::MatrixXd, 0, Eigen::OuterStride<>>;

// [D x N] view as an Eigen map; checks shape, stride and finiteness (NaN would silently poison
// every distance).
inline ConstDataMap map_data(MatrixView<const double> data, const std::string& who) {
  SCVAE_CHECK(data.rows > 0 && data.cols > 0,
              who + ": data is empty (" + std::to_string(data.rows) + " x " + std::to_string(data.cols) + ")");
  SCVAE_CHECK(data.data != nullptr, who + ": data pointer is null");
  SCVAE_CHECK(data.ld >= data.rows, who + ": leading dimension smaller than rows");
  ConstDataMap x(data.data, data.rows, data.cols, Eigen::OuterStride<>(data.ld));
  for (Index j = 0; j < x.cols(); ++j)
    for (Index i = 0; i < x.rows(); ++i)
      if (!std::isfinite(x(i, j)))
        throw InputError(who + ": data has a non-finite value at row " + std::to_string(i) + ", column " +
                         std::to_string(j));
  return x;
}

inline MatrixView<const double> view_of(const Eigen::MatrixXd& m) {
  return {m.data(), static_cast<Index>(m.rows()), static_cast<Index>(m.cols())};
}

// Uniform draws from the raw 64-bit output of mt19937_64, whose sequence the standard fixes;
// std::uniform_*_distribution differ between standard libraries.
inline double metrics_uniform01(std::mt19937_64& rng) {  // [0, 1)
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}
inline std::uint64_t metrics_uniform_below(std::mt19937_64& rng, std::uint64_t n) {  // [0, n)
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t r;
  do r = rng(); while (r >= limit);
  return r % n;
}

}  // namespace detail
}  // namespace scvae
