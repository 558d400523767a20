#pragma once
// All trainable parameters live in ONE allocation, carved into named slots; gradients (and the
// optimiser's moments) use the same layout. Save/load, zeroing, clipping and the Adam step are
// then one loop each. Non-trainable state (BatchNorm running statistics) lives in a second
// region of the same arena, saved with the parameters but never touched by the optimiser.
#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <utility>
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
  // Zeros every gradient except those of the slots in `written`, whose caller writes them in full
  // (a training step's widest layers: their zeroing pass was 84 MB per step for the NB model).
  // (No allocation: it runs once per training step.)
  void zero_grads_except(std::initializer_list<SlotId> written) {
    std::array<std::pair<Index, Index>, 8> skip{};  // [begin, end) offsets, sorted below
    SCVAE_CHECK(written.size() <= skip.size(), "Arena::zero_grads_except: at most 8 slots");
    std::size_t n = 0;
    for (SlotId id : written) {
      const Slot& sl = layout_.params.at(static_cast<std::size_t>(id));
      skip[n++] = {sl.offset, sl.offset + sl.size()};
    }
    std::sort(skip.begin(), skip.begin() + static_cast<std::ptrdiff_t>(n));
    Index at = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& r = skip[i];
      if (r.first > at) B::fill(VectorView<T>{B::data(grads_) + at, r.first - at}, T(0));
      at = std::max(at, r.second);
    }
    if (layout_.param_size > at) B::fill(VectorView<T>{B::data(grads_) + at, layout_.param_size - at}, T(0));
  }

 private:
  using Buf = typename B::template Buffer<T>;
  static MatrixView<T> carve(Buf& b, const Slot& s) { return {B::data(b) + s.offset, s.rows, s.cols}; }
  static MatrixView<const T> carve_c(const Buf& b, const Slot& s) { return {B::data(b) + s.offset, s.rows, s.cols}; }
  ArenaLayout layout_;
  Buf params_, grads_, state_;
};

}  // namespace scvae
