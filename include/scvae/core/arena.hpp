#pragma once
// All trainable parameters live in ONE allocation, carved into named slots; gradients (and the
// optimiser's moments) use the same layout. Save/load, zeroing, clipping and the Adam step are
// then one loop each. Non-trainable state (BatchNorm running statistics) lives in a second
// region of the same arena, saved with the parameters but never touched by the optimiser.
#include <string>
#include <vector>

#include "error.hpp"
#include "view.hpp"

namespace scvae {

struct Slot {
  Index offset = 0;
  Index rows = 0;
  Index cols = 0;
  Index size() const { return rows * cols; }
};
using SlotId = int;

// The layout: built once by the model (layers register their parameters), then allocated.
struct ArenaLayout {
  std::vector<std::string> param_names, state_names;
  std::vector<Slot> params, state;
  Index param_size = 0, state_size = 0;

  SlotId add_param(const std::string& name, Index rows, Index cols) {
    params.push_back({param_size, rows, cols});
    param_names.push_back(name);
    param_size += rows * cols;
    return static_cast<SlotId>(params.size() - 1);
  }
  SlotId add_state(const std::string& name, Index rows, Index cols) {
    state.push_back({state_size, rows, cols});
    state_names.push_back(name);
    state_size += rows * cols;
    return static_cast<SlotId>(state.size() - 1);
  }
};

// Parameter values, their gradients and state for backend B, scalar T.
template <class B, class T>
class Arena {
 public:
  Arena() = default;
  explicit Arena(ArenaLayout layout) : layout_(std::move(layout)) {
    params_ = B::template allocate<T>(layout_.param_size);
    grads_ = B::template allocate<T>(layout_.param_size);
    state_ = B::template allocate<T>(layout_.state_size);
    B::fill(all_params(), T(0));
    B::fill(all_grads(), T(0));
    B::fill(all_state(), T(0));
  }
  const ArenaLayout& layout() const { return layout_; }

  MatrixView<T> param(SlotId s) { return carve(params_, layout_.params[s]); }
  MatrixView<const T> param(SlotId s) const { return carve_c(params_, layout_.params[s]); }
  MatrixView<T> grad(SlotId s) { return carve(grads_, layout_.params[s]); }
  MatrixView<T> state(SlotId s) { return carve(state_, layout_.state[s]); }
  MatrixView<const T> state(SlotId s) const { return carve_c(state_, layout_.state[s]); }
  VectorView<T> param_vec(SlotId s) { auto v = param(s); return {v.data, v.size()}; }
  VectorView<const T> param_vec(SlotId s) const { auto v = param(s); return {v.data, v.size()}; }
  VectorView<T> grad_vec(SlotId s) { auto v = grad(s); return {v.data, v.size()}; }

  VectorView<T> all_params() { return {B::data(params_), layout_.param_size}; }
  VectorView<const T> all_params() const { return {B::data(params_), layout_.param_size}; }
  VectorView<T> all_grads() { return {B::data(grads_), layout_.param_size}; }
  VectorView<const T> all_grads() const { return {B::data(grads_), layout_.param_size}; }
  VectorView<T> all_state() { return {B::data(state_), layout_.state_size}; }
  VectorView<const T> all_state() const { return {B::data(state_), layout_.state_size}; }
  void zero_grads() { B::fill(all_grads(), T(0)); }

 private:
  using Buf = typename B::template Buffer<T>;
  static MatrixView<T> carve(Buf& b, const Slot& s) { return {B::data(b) + s.offset, s.rows, s.cols}; }
  static MatrixView<const T> carve_c(const Buf& b, const Slot& s) { return {B::data(b) + s.offset, s.rows, s.cols}; }
  ArenaLayout layout_;
  Buf params_, grads_, state_;
};

}  // namespace scvae
