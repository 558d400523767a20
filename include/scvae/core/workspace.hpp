#pragma once
// Activation buffers, allocated once for the largest batch and carved into views. The training
// step only ever takes the first N columns of these views, so it never allocates.
#include <vector>

#include "view.hpp"

namespace scvae {

template <class B, class T>
class Workspace {
 public:
  MatrixView<T> matrix(Index rows, Index cols) {
    bufs_.push_back(B::template allocate<T>(rows * cols));
    B::fill(VectorView<T>{B::data(bufs_.back()), rows * cols}, T(0));
    return {B::data(bufs_.back()), rows, cols};
  }
  VectorView<T> vector(Index n) {
    auto m = matrix(n, 1);
    return {m.data, n};
  }
  std::size_t bytes() const {
    std::size_t s = 0;
    for (const auto& b : bufs_) s += b.size() * sizeof(T);
    return s;
  }

 private:
  // Inner buffers keep their storage when the outer vector grows, so views stay valid.
  std::vector<typename B::template Buffer<T>> bufs_;
};

// The first n columns of a [rows x max_cols] buffer.
template <class T>
MatrixView<T> first_cols(MatrixView<T> m, Index n) { return m.col_block(0, n); }
template <class T>
VectorView<T> first(VectorView<T> v, Index n) { return v.segment(0, n); }

}  // namespace scvae
