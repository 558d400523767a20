#pragma once
// Inverted dropout. The mask (0 or 1/(1-p)) is drawn in forward from the caller's seeded Rng and
// kept by the caller for backward; evaluation is the identity.
#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../core/view.hpp"

namespace scvae {

struct Dropout {
  double p = 0.0;

  template <class B, class T>
  void forward(MatrixView<T> y /*[F x N]*/, MatrixView<T> mask /*[F x N] out*/, MatrixView<const T> x /*[F x N]*/,
               Rng& rng) const {
    B::template dropout_mask<T>(mask, T(p), rng);
    B::template multiply<T>(y, x, MatrixView<const T>(mask));
  }
  template <class B, class T>
  void backward(MatrixView<T> dx /*[F x N]*/, MatrixView<const T> dy /*[F x N]*/, MatrixView<const T> mask) const {
    B::template multiply<T>(dx, dy, mask);
  }
};

}  // namespace scvae
