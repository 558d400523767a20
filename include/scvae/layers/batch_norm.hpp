#pragma once
// Batch normalisation over the batch (columns), per feature (rows). Training uses batch
// statistics and updates running ones; evaluation uses the running ones. Default is scVAE's
// "center, no scale" (beta only); `scale` adds gamma as PyTorch/scvi-tools do.
// The cache (xhat, mean, inv_std) is explicit and owned by the caller.
#include <string>
#include <vector>

#include "../core/arena.hpp"

namespace scvae {

template <class T>
struct BatchNormCache {
  MatrixView<T> xhat;      // [F x N] normalised input
  VectorView<T> mean;      // [F] batch mean
  VectorView<T> inv_std;   // [F] 1 / sqrt(batch var + eps)
};

struct BatchNorm {
  Index features = 0;
  bool scale = false;
  double eps = 1e-3, momentum = 0.01;  // scvi-tools' BatchNorm1d settings
  SlotId gamma = -1, beta = -1, running_mean = -1, running_var = -1;

  static BatchNorm create(ArenaLayout& layout, const std::string& name, Index features, bool scale, double eps = 1e-3,
                          double momentum = 0.01) {
    BatchNorm bn;
    bn.features = features;
    bn.scale = scale;
    bn.eps = eps;
    bn.momentum = momentum;
    if (scale) bn.gamma = layout.add_param(name + ".gamma", features, 1);
    bn.beta = layout.add_param(name + ".beta", features, 1);
    bn.running_mean = layout.add_state(name + ".running_mean", features, 1);
    bn.running_var = layout.add_state(name + ".running_var", features, 1);
    return bn;
  }
  template <class B, class T>
  void init(Arena<B, T>& a) const {
    if (scale) B::template fill<T>(a.param_vec(gamma), T(1));
    B::template fill<T>(a.param_vec(beta), T(0));
    auto rm = a.state(running_mean), rv = a.state(running_var);
    B::template fill<T>(VectorView<T>{rm.data, features}, T(0));
    B::template fill<T>(VectorView<T>{rv.data, features}, T(1));
  }
  template <class B, class T>
  VectorView<const T> gamma_vec(const Arena<B, T>& a) const {
    return scale ? a.param_vec(gamma) : VectorView<const T>{};
  }

  template <class B, class T>
  void forward_train(Arena<B, T>& a, MatrixView<T> y /*[F x N]*/, const BatchNormCache<T>& c,
                     MatrixView<const T> x /*[F x N]*/, bool update_running = true) const {
    auto rm = a.state(running_mean), rv = a.state(running_var);
    VectorView<T> rmv = update_running ? VectorView<T>{rm.data, features} : VectorView<T>{};
    VectorView<T> rvv = update_running ? VectorView<T>{rv.data, features} : VectorView<T>{};
    B::template batch_norm_forward_train<T>(y, c.xhat, c.mean, c.inv_std, x, gamma_vec(a), a.param_vec(beta), rmv, rvv, T(eps),
                                T(momentum));
  }
  template <class B, class T>
  void forward_eval(const Arena<B, T>& a, MatrixView<T> y /*[F x N]*/, MatrixView<const T> x /*[F x N]*/) const {
    auto rm = a.state(running_mean), rv = a.state(running_var);
    B::template batch_norm_forward_eval<T>(y, x, gamma_vec(a), a.param_vec(beta), VectorView<const T>{rm.data, features},
                               VectorView<const T>{rv.data, features}, T(eps));
  }
  // Training-mode backward: dx overwritten, dgamma / dbeta accumulated.
  template <class B, class T>
  void backward(Arena<B, T>& a, MatrixView<T> dx /*[F x N]*/, MatrixView<const T> dy /*[F x N]*/,
                const BatchNormCache<T>& c) const {
    VectorView<T> dg = scale ? a.grad_vec(gamma) : VectorView<T>{};
    B::template batch_norm_backward<T>(dx, dg, a.grad_vec(beta), dy, MatrixView<const T>(c.xhat), VectorView<const T>(c.inv_std),
                           gamma_vec(a));
  }
};

}  // namespace scvae
