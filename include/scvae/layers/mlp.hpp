#pragma once
// A stack of hidden blocks, each Dense -> BatchNorm (optional) -> activation -> dropout
// (optional), as scVAE and scvi-tools build their encoders and decoders.
// The first block's Dense may take sparse counts, dense activations, or a pre-activation the
// caller computed itself (the GMVAE's [x, onehot(k)] input): see forward_from_pre().
#include <string>
#include <vector>

#include "../core/workspace.hpp"
#include "activation.hpp"
#include "batch_norm.hpp"
#include "dense.hpp"
#include "dropout.hpp"

namespace scvae {

struct MlpOptions {
  std::vector<Index> hidden;      // sizes of the hidden layers, e.g. {250, 250}
  bool batch_norm = true;
  bool batch_norm_scale = false;  // scVAE: center only
  Activation activation = Activation::relu;
  double dropout = 0.0;
};

enum class Mode { train, eval };

// Per-block buffers for one forward/backward; sized for the largest batch.
template <class T>
struct MlpBlockCache {
  MatrixView<T> pre;      // [H x Nmax] Dense output
  MatrixView<T> norm;     // [H x Nmax] BatchNorm output (== pre without BN)
  BatchNormCache<T> bn;   // xhat [H x Nmax], mean, inv_std [H]
  MatrixView<T> mask;     // [H x Nmax] dropout mask
  MatrixView<T> act;      // [H x Nmax] block output
  MatrixView<T> d_act;    // [H x Nmax] gradient w.r.t. act (also used for norm)
  MatrixView<T> d_pre;    // [H x Nmax] gradient w.r.t. pre
};
template <class T>
struct MlpCache {
  std::vector<MlpBlockCache<T>> blocks;
  MatrixView<T> output(Index n) const { return blocks.back().act.col_block(0, n); }
  MatrixView<T> d_output(Index n) const { return blocks.back().d_act.col_block(0, n); }
};

struct Mlp {
  MlpOptions opt;
  Index in = 0;
  std::vector<Dense> dense;
  std::vector<BatchNorm> bn;

  static Mlp create(ArenaLayout& layout, const std::string& name, Index in, const MlpOptions& opt) {
    SCVAE_CHECK(!opt.hidden.empty(), name + ": at least one hidden layer is required");
    SCVAE_CHECK(opt.dropout >= 0.0 && opt.dropout < 1.0, name + ": dropout must be in [0, 1)");
    Mlp m;
    m.opt = opt;
    m.in = in;
    Index prev = in;
    for (std::size_t l = 0; l < opt.hidden.size(); ++l) {
      SCVAE_CHECK(opt.hidden[l] > 0, name + ": hidden sizes must be positive");
      const std::string ln = name + "." + std::to_string(l);
      m.dense.push_back(Dense::create(layout, ln + ".dense", prev, opt.hidden[l]));
      if (opt.batch_norm) m.bn.push_back(BatchNorm::create(layout, ln + ".bn", opt.hidden[l], opt.batch_norm_scale));
      prev = opt.hidden[l];
    }
    return m;
  }
  Index out() const { return opt.hidden.back(); }

  template <class B, class T>
  void init(Arena<B, T>& a, Rng& rng) const {
    for (auto& d : dense) d.init(a, rng);
    for (auto& b : bn) b.init(a);
  }
  template <class B, class T>
  MlpCache<T> make_cache(Workspace<B, T>& ws, Index max_n) const {
    MlpCache<T> c;
    for (std::size_t l = 0; l < dense.size(); ++l) {
      const Index H = dense[l].out;
      MlpBlockCache<T> b;
      b.pre = ws.matrix(H, max_n);
      b.norm = opt.batch_norm ? ws.matrix(H, max_n) : b.pre;
      if (opt.batch_norm) b.bn = {ws.matrix(H, max_n), ws.vector(H), ws.vector(H)};
      if (opt.dropout > 0) b.mask = ws.matrix(H, max_n);
      b.act = ws.matrix(H, max_n);
      b.d_act = ws.matrix(H, max_n);
      b.d_pre = ws.matrix(H, max_n);
      c.blocks.push_back(b);
    }
    return c;
  }

  // Input variants of the first Dense.
  template <class B, class T>
  void forward(Arena<B, T>& a, const MlpCache<T>& c, CscView<float> x, Mode mode, Rng& rng) const {
    dense[0].forward(a, c.blocks[0].pre.col_block(0, x.cols), x);
    forward_from_pre(a, c, x.cols, mode, rng);
  }
  template <class B, class T>
  void forward(Arena<B, T>& a, const MlpCache<T>& c, MatrixView<const T> x /*[in x N]*/, Mode mode, Rng& rng) const {
    dense[0].forward(a, c.blocks[0].pre.col_block(0, x.cols), x);
    forward_from_pre(a, c, x.cols, mode, rng);
  }
  // Runs everything after the first Dense; c.blocks[0].pre[:, :n] must hold its output.
  template <class B, class T>
  void forward_from_pre(Arena<B, T>& a, const MlpCache<T>& c, Index n, Mode mode, Rng& rng) const {
    for (std::size_t l = 0; l < dense.size(); ++l) {
      const auto& b = c.blocks[l];
      auto pre = b.pre.col_block(0, n), norm = b.norm.col_block(0, n), act = b.act.col_block(0, n);
      if (l > 0) dense[l].forward(a, pre, MatrixView<const T>(c.blocks[l - 1].act.col_block(0, n)));
      if (opt.batch_norm) {
        if (mode == Mode::train) {
          BatchNormCache<T> bc{b.bn.xhat.col_block(0, n), b.bn.mean, b.bn.inv_std};
          bn[l].forward_train(a, norm, bc, MatrixView<const T>(pre));
        } else {
          bn[l].forward_eval(a, norm, MatrixView<const T>(pre));
        }
      }
      activation_forward<B, T>(opt.activation, act, MatrixView<const T>(norm));
      if (opt.dropout > 0 && mode == Mode::train)
        Dropout{opt.dropout}.forward<B, T>(act, b.mask.col_block(0, n), MatrixView<const T>(act), rng);
    }
  }

  // Backward from c.d_output(n) (filled by the caller) down to c.blocks[0].d_pre; parameter
  // gradients accumulate. The first Dense's own backward is left to the input-specific overloads.
  template <class B, class T>
  void backward_to_first_pre(Arena<B, T>& a, const MlpCache<T>& c, Index n, Mode mode) const {
    for (std::size_t l = dense.size(); l-- > 0;) {
      const auto& b = c.blocks[l];
      auto d_act = b.d_act.col_block(0, n), d_pre = b.d_pre.col_block(0, n);
      if (opt.dropout > 0 && mode == Mode::train)
        Dropout{opt.dropout}.backward<B, T>(d_act, MatrixView<const T>(d_act), MatrixView<const T>(b.mask.col_block(0, n)));
      // activation backward needs its input (norm): gradient w.r.t. norm goes to d_act in place
      activation_backward<B, T>(opt.activation, d_act, MatrixView<const T>(d_act),
                                MatrixView<const T>(b.norm.col_block(0, n)));
      if (opt.batch_norm) {
        BatchNormCache<T> bc{b.bn.xhat.col_block(0, n), b.bn.mean, b.bn.inv_std};
        bn[l].backward(a, d_pre, MatrixView<const T>(d_act), bc);
      } else {
        B::template copy<T>(MatrixView<const T>(d_act), d_pre);
      }
      if (l > 0) {
        dense[l].backward(a, c.blocks[l - 1].d_act.col_block(0, n), MatrixView<const T>(d_pre),
                          MatrixView<const T>(c.blocks[l - 1].act.col_block(0, n)));
      }
    }
  }
  // accumulate_first = false: the first layer's weight gradient is written, not added
  // (Dense::backward on sparse input).
  template <class B, class T>
  void backward(Arena<B, T>& a, const MlpCache<T>& c, CscView<float> x, Mode mode, bool accumulate_first = true) const {
    backward_to_first_pre(a, c, x.cols, mode);
    dense[0].backward(a, MatrixView<const T>(c.blocks[0].d_pre.col_block(0, x.cols)), x, accumulate_first);
  }
  // dx [in x N] receives the input gradient (skipped when dx.data is null).
  template <class B, class T>
  void backward(Arena<B, T>& a, const MlpCache<T>& c, MatrixView<const T> x, MatrixView<T> dx, Mode mode) const {
    backward_to_first_pre(a, c, x.cols, mode);
    dense[0].backward(a, dx, MatrixView<const T>(c.blocks[0].d_pre.col_block(0, x.cols)), x);
  }
};

}  // namespace scvae
