#pragma once
// Adam over the whole parameter arena, with L2 weight decay (torch.optim.Adam) or decoupled
// weight decay (AdamW), and optional gradient clipping: element-wise to [-c, c] (scVAE's
// default, c = 1) or by the global norm. Moments share the arena's layout, so one loop updates
// every parameter; clipping happens inside that loop (no pass of its own, gradients untouched).
#include <cmath>
#include <string>

#include "../core/arena.hpp"

namespace scvae {

struct AdamOptions {
  double learning_rate = 1e-4;  // scVAE default
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;
  double clip_value = 0.0;  // element-wise clipping to [-clip_value, clip_value]; 0 = off
  double clip_norm = 0.0;   // global-norm clipping; 0 = off
  void validate() const {
    SCVAE_CHECK(learning_rate > 0 && std::isfinite(learning_rate), "Adam: learning rate must be positive");
    SCVAE_CHECK(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "Adam: betas must be in [0, 1)");
    SCVAE_CHECK(eps > 0 && std::isfinite(eps), "Adam: eps must be positive and finite");
    SCVAE_CHECK(weight_decay >= 0 && std::isfinite(weight_decay), "Adam: weight decay must be non-negative and finite");
    SCVAE_CHECK(clip_value >= 0 && clip_norm >= 0, "Adam: clipping thresholds must be non-negative");
  }
};

template <class B, class T>
class Adam {
 public:
  Adam() = default;
  Adam(Index n_params, const AdamOptions& opt) : opt_(opt), n_(n_params) {
    opt_.validate();
    m_ = B::template allocate<T>(n_);
    v_ = B::template allocate<T>(n_);
    reset();
  }
  void reset() {
    B::template fill<T>(moment1(), T(0));
    B::template fill<T>(moment2(), T(0));
    step_ = 0;
  }
  const AdamOptions& options() const { return opt_; }
  AdamOptions& options() { return opt_; }
  long steps() const { return step_; }
  void set_steps(long s) { step_ = s; }
  VectorView<T> moment1() { return {B::data(m_), n_}; }
  VectorView<T> moment2() { return {B::data(v_), n_}; }

  // Global gradient norm, accumulated in double: it is finite exactly when every gradient is
  // (a float's square cannot overflow a double), so it doubles as the divergence check.
  double gradient_norm(const Arena<B, T>& a) const {
    return std::sqrt(B::template sum_squares<T>(VectorView<const T>(a.all_grads())));
  }
  // Updates the arena's parameters, clipping as configured inside the update sweep (the arena's
  // gradients are left as computed). Returns the global gradient norm before clipping.
  double step(Arena<B, T>& a) { return step(a, gradient_norm(a)); }
  // The same with the norm already computed by gradient_norm() (one pass over the gradients less).
  double step(Arena<B, T>& a, double norm) {
    const T grad_scale = opt_.clip_norm > 0 && norm > opt_.clip_norm ? T(opt_.clip_norm / norm) : T(1);
    ++step_;
    B::template adam_step<T>(a.all_params(), VectorView<const T>(a.all_grads()), moment1(), moment2(),
                             T(opt_.learning_rate), T(opt_.beta1), T(opt_.beta2), T(opt_.eps), T(opt_.weight_decay),
                             opt_.decoupled_weight_decay, step_, grad_scale, T(opt_.clip_value));
    return norm;
  }

 private:
  AdamOptions opt_;
  Index n_ = 0;
  typename B::template Buffer<T> m_, v_;
  long step_ = 0;
};

}  // namespace scvae
