#pragma once
// Fully connected layer: y [out x N] = W [out x in] * x [in x N] + b [out].
// forward / backward side by side; the input x is the cache (no hidden state).
#include <cmath>
#include <string>
#include <vector>

#include "../core/arena.hpp"
#include "../core/random.hpp"

namespace scvae {

struct Dense {
  Index in = 0, out = 0;
  SlotId w = -1, b = -1;

  static Dense create(ArenaLayout& layout, const std::string& name, Index in, Index out) {
    Dense d;
    d.in = in;
    d.out = out;
    d.w = layout.add_param(name + ".weight", out, in);
    d.b = layout.add_param(name + ".bias", out, 1);
    return d;
  }

  // Glorot-uniform weights, zero bias (scVAE / TensorFlow default).
  template <class B, class T>
  void init(Arena<B, T>& a, Rng& rng) const {
    const double limit = std::sqrt(6.0 / double(in + out));
    std::vector<T> host(static_cast<std::size_t>(in * out));
    for (auto& v : host) v = static_cast<T>((2.0 * rng.uniform() - 1.0) * limit);
    B::template upload<T>(a.param_vec(w), host.data());
    B::template fill<T>(a.param_vec(b), T(0));
  }

  template <class B, class T>
  void forward(const Arena<B, T>& a, MatrixView<T> y /*[out x N]*/, MatrixView<const T> x /*[in x N]*/) const {
    B::template gemm<T>(false, false, T(1), a.param(w), x, T(0), y);
    B::template add_bias<T>(y, a.param_vec(b));
  }
  // Sparse input (the counts): only the weight columns of non-zero genes are read.
  template <class B, class T>
  void forward(const Arena<B, T>& a, MatrixView<T> y /*[out x N]*/, CscView<float> x /*[in x N]*/) const {
    B::template spmm<T>(T(1), a.param(w), x, T(0), y);
    B::template add_bias<T>(y, a.param_vec(b));
  }

  // dW += dy x^T, db += sum_n dy, dx = W^T dy (skipped when dx.data is null).
  template <class B, class T>
  void backward(Arena<B, T>& a, MatrixView<T> dx /*[in x N]*/, MatrixView<const T> dy /*[out x N]*/,
                MatrixView<const T> x /*[in x N]*/) const {
    B::template gemm<T>(false, true, T(1), dy, x, T(1), a.grad(w));
    B::template bias_grad<T>(dy, a.grad_vec(b));
    if (dx.data) B::template gemm<T>(true, false, T(1), MatrixView<const T>(a.param(w)), dy, T(0), dx);
  }
  // accumulate = false: dW = dy x^T (written, not added: no zeroing pass needed over the widest
  // layer's gradient; the bias still accumulates: it is small and zeroed with the rest).
  template <class B, class T>
  void backward(Arena<B, T>& a, MatrixView<const T> dy /*[out x N]*/, CscView<float> x /*[in x N]*/,
                bool accumulate = true) const {
    B::template spmm_grad<T>(T(1), dy, x, a.grad(w), accumulate);
    B::template bias_grad<T>(dy, a.grad_vec(b));
  }

  // The same layer with the bias folded into the GEMMs: x1 [in+1 x N] is the input with a last
  // row of ones, and [W | b] is one [out x (in+1)] matrix because create() registers b right after
  // W (the arena packs slots without padding). y = [W | b] x1 and d[W | b] += dy x1^T then need
  // no separate bias pass over [out x N]; worth it for the 27,998-wide output layer, where
  // add_bias and bias_grad each stream the whole output (docs/performance.md).
  template <class B, class T>
  void forward_folded(const Arena<B, T>& a, MatrixView<T> y /*[out x N]*/, MatrixView<const T> x1 /*[in+1 x N]*/) const {
    SCVAE_CHECK(x1.rows == in + 1, "Dense::forward_folded: input needs in + 1 rows (last row of ones)");
    B::template gemm<T>(false, false, T(1), folded(a.param(w), a.param(b)), x1, T(0), y);
  }
  // d[W | b] += dy x1^T (accumulate = false: =, old values never read), dx = W^T dy [in x N]
  // (skipped when dx.data is null).
  template <class B, class T>
  void backward_folded(Arena<B, T>& a, MatrixView<T> dx /*[in x N]*/, MatrixView<const T> dy /*[out x N]*/,
                       MatrixView<const T> x1 /*[in+1 x N]*/, bool accumulate = true) const {
    SCVAE_CHECK(x1.rows == in + 1, "Dense::backward_folded: input needs in + 1 rows (last row of ones)");
    B::template gemm<T>(false, true, T(1), dy, x1, accumulate ? T(1) : T(0), folded(a.grad(w), a.grad(b)));
    if (dx.data) B::template gemm<T>(true, false, T(1), MatrixView<const T>(a.param(w)), dy, T(0), dx);
  }

 private:
  // [W | b] as one [out x (in+1)] view; W [out x in] and b [out x 1] must be adjacent.
  template <class T>
  static MatrixView<T> folded(MatrixView<T> wv, MatrixView<T> bv) {
    SCVAE_CHECK(bv.data == wv.data + wv.rows * wv.cols && wv.ld == wv.rows, "Dense: bias not stored after the weights");
    return {wv.data, wv.rows, wv.cols + 1, wv.rows};
  }
};

}  // namespace scvae
