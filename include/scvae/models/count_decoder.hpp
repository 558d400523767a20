#pragma once
// The shared decoder p(x | z): an MLP on z, then ONE dense layer producing every per-gene,
// per-cell head of the likelihood stacked as [P*G x N] (one GEMM), then the fused likelihood
// pass. Per-gene dispersion (scvi-tools) is a parameter vector [G]. Used by the VAE and, on
// K*N columns at once, by the GMVAE. With MeanLink::library (model_config.hpp) the mean head's
// rows become log l + log_softmax over genes right after the GEMM (the likelihood pass then sees
// log mu as with the free mean), and the backward pass maps their gradient back through it.
#include <string>
#include <vector>

#include "../distributions/likelihood.hpp"
#include "../layers/mlp.hpp"
#include "model_config.hpp"

namespace scvae {

template <class T>
struct DecoderCache {
  MlpCache<T> mlp;
  MatrixView<T> hidden1;   // [H+1 x Nmax] the MLP output with a last row of ones (bias folded)
  MatrixView<T> heads;     // [P*G x Nmax] head pre-activations
  MatrixView<T> d_heads;   // [P*G x Nmax]
  VectorView<T> log_px;    // [Nmax] per-cell log p(x | z)
  VectorView<T> weight;    // [Nmax] per-cell gradient weight of log p(x | z)
  VectorView<T> log_library;  // [Nmax] log library size per column (MeanLink::library only)
};

struct CountDecoder {
  LikelihoodSpec likelihood;
  MeanLink mean = MeanLink::free;
  Index genes = 0, latent = 0;
  Mlp mlp;
  Dense out;
  SlotId gene_log_theta = -1;

  static CountDecoder create(ArenaLayout& layout, const std::string& name, Index latent, const MlpOptions& opt,
                             Index genes, LikelihoodSpec lik, MeanLink mean = MeanLink::free) {
    CountDecoder d;
    d.likelihood = lik;
    d.mean = mean;
    d.genes = genes;
    d.latent = latent;
    d.mlp = Mlp::create(layout, name, latent, opt);
    d.out = Dense::create(layout, name + ".heads", d.mlp.out(), n_heads(lik) * genes);
    if (has_gene_dispersion(lik)) d.gene_log_theta = layout.add_param(name + ".gene_log_theta", genes, 1);
    return d;
  }
  Index n_head_rows() const { return out.out; }

  template <class B, class T>
  void init(Arena<B, T>& a, Rng& rng) const {
    mlp.init(a, rng);
    out.init(a, rng);
    if (gene_log_theta >= 0) B::template fill<T>(a.param_vec(gene_log_theta), T(0));
  }
  // Starts the log-mean head at log(mean count per gene), so training does not spend its first
  // epochs learning each gene's scale. gene_mean: [G] on the host.
  template <class B, class T>
  void init_mean_bias(Arena<B, T>& a, const std::vector<double>& gene_mean) const {
    SCVAE_CHECK(static_cast<Index>(gene_mean.size()) == genes, "init_mean_bias: one mean per gene expected");
    for (Index g = 0; g < genes; ++g)
      SCVAE_CHECK(gene_mean[g] >= 0 && std::isfinite(gene_mean[g]),
                  "init_mean_bias: gene " + std::to_string(g) + " has a negative or non-finite mean");
    std::vector<T> bias(static_cast<std::size_t>(out.out), T(0));
    for (Index g = 0; g < genes; ++g) bias[g] = static_cast<T>(std::log(std::max(gene_mean[g], 1e-4)));
    B::template upload<T>(a.param_vec(out.b), bias.data());
  }

  template <class B, class T>
  DecoderCache<T> make_cache(Workspace<B, T>& ws, Index max_n) const {
    DecoderCache<T> c;
    c.mlp = mlp.make_cache(ws, max_n);
    c.hidden1 = ws.matrix(mlp.out() + 1, max_n);
    B::fill(VectorView<T>{c.hidden1.data, c.hidden1.rows * c.hidden1.cols}, T(1));  // rows < H are overwritten
    c.heads = ws.matrix(out.out, max_n);
    c.d_heads = ws.matrix(out.out, max_n);
    c.log_px = ws.vector(max_n);
    c.weight = ws.vector(max_n);
    c.log_library = ws.vector(max_n);
    return c;
  }
  template <class B, class T>
  VectorView<const T> theta_vec(const Arena<B, T>& a) const {
    return gene_log_theta >= 0 ? a.param_vec(gene_log_theta) : VectorView<const T>{};
  }

  // log_library [n] for columns [0, n) into c.log_library, from the raw counts, or from the encoder
  // input x (transformed = true, with the model's input transform); returns it. Empty view for
  // MeanLink::free (nothing computed).
  template <class B, class T>
  VectorView<const T> library_of(const DecoderCache<T>& c, CscView<float> x, bool log1p_input) const {
    if (mean != MeanLink::library) return {};
    B::template column_log_library<T>(x, log1p_input, c.log_library.segment(0, x.cols));
    return VectorView<const T>(c.log_library.segment(0, x.cols));
  }
  // heads[:, :n] from z [Z x n]. The heads layer folds its bias into the GEMM (Dense::forward_folded):
  // the MLP output (H x n, small) is copied above the ones row of c.hidden1. log_library [n]: the
  // columns' log library sizes (library_of), required with MeanLink::library, ignored otherwise.
  template <class B, class T>
  void forward(Arena<B, T>& a, const DecoderCache<T>& c, MatrixView<const T> z, Mode mode, Rng& rng,
               VectorView<const T> log_library = {}) const {
    const Index n = z.cols;
    mlp.forward(a, c.mlp, z, mode, rng);
    const MatrixView<T> h1 = c.hidden1.col_block(0, n);
    B::template copy<T>(MatrixView<const T>(c.mlp.output(n)), h1.row_block(0, mlp.out()));
    out.forward_folded(a, c.heads.col_block(0, n), MatrixView<const T>(h1));
    if (mean == MeanLink::library) {
      SCVAE_CHECK(log_library.size == n, "CountDecoder: MeanLink::library needs one log library size per column");
      B::template log_softmax_shift<T>(c.heads.col_block(0, n).row_block(0, genes), log_library);
    }
  }
  // log_px[col0 : col0+n] for the head columns [col0, col0+n) against counts [G x n]; with
  // grad, d_heads of those columns gets weight[j] * d log p / d heads and the per-gene
  // dispersion gradient accumulates.
  template <class B, class T>
  void log_likelihood(Arena<B, T>& a, const DecoderCache<T>& c, Index col0, CscView<float> counts, bool grad) const {
    const Index n = counts.cols;
    VectorView<T> dtheta = (grad && gene_log_theta >= 0) ? a.grad_vec(gene_log_theta) : VectorView<T>{};
    MatrixView<T> dh = grad ? c.d_heads.col_block(col0, n) : MatrixView<T>{};
    B::template likelihood_forward_backward<T>(likelihood, MatrixView<const T>(c.heads.col_block(col0, n)),
                                               theta_vec(a), counts, VectorView<const T>(c.weight.segment(col0, n)),
                                               c.log_px.segment(col0, n), dh, dtheta);
  }
  // From d_heads[:, :n] to dz [Z x n]; parameter gradients accumulate, except the heads layer's
  // [W | b] with accumulate_heads = false (written: Vae / Gmvae::forward_backward skip zeroing
  // those 14M floats of the NB model). log_library: forward's.
  template <class B, class T>
  void backward(Arena<B, T>& a, const DecoderCache<T>& c, MatrixView<const T> z, MatrixView<T> dz, Mode mode,
                VectorView<const T> log_library = {}, bool accumulate_heads = true) const {
    const Index n = z.cols;
    if (mean == MeanLink::library) {
      SCVAE_CHECK(log_library.size == n, "CountDecoder: MeanLink::library needs one log library size per column");
      B::template log_softmax_shift_backward<T>(c.d_heads.col_block(0, n).row_block(0, genes),
                                                MatrixView<const T>(c.heads.col_block(0, n).row_block(0, genes)),
                                                log_library);
    }
    out.backward_folded(a, c.mlp.d_output(n), MatrixView<const T>(c.d_heads.col_block(0, n)),
                        MatrixView<const T>(c.hidden1.col_block(0, n)), accumulate_heads);
    mlp.backward(a, c.mlp, z, dz, mode);
  }
};

// Mean and variance of p(x | heads[:, :n]) copied to host arrays [G x n] (either may be null).
template <class B, class T>
void likelihood_moments_to_host(const CountDecoder& d, const Arena<B, T>& a, const DecoderCache<T>& c, Index n,
                                double* mean, double* variance) {
  const Index G = d.genes;
  auto mbuf = B::template allocate<T>(mean ? G * n : 0), vbuf = B::template allocate<T>(variance ? G * n : 0);
  MatrixView<T> mv = mean ? MatrixView<T>(B::data(mbuf), G, n) : MatrixView<T>{};
  MatrixView<T> vv = variance ? MatrixView<T>(B::data(vbuf), G, n) : MatrixView<T>{};
  B::template likelihood_mean_variance<T>(d.likelihood, MatrixView<const T>(c.heads.col_block(0, n)), d.theta_vec(a), mv,
                                          vv);
  std::vector<T> host(static_cast<std::size_t>(G * n));
  if (mean) {
    B::template download<T>(host.data(), VectorView<const T>{B::data(mbuf), G * n});
    for (Index i = 0; i < G * n; ++i) mean[i] = double(host[i]);
  }
  if (variance) {
    B::template download<T>(host.data(), VectorView<const T>{B::data(vbuf), G * n});
    for (Index i = 0; i < G * n; ++i) variance[i] = double(host[i]);
  }
}

// Posterior-predictive draws x ~ p(x | heads[:, :n]) into a host array [G x n]. The heads are
// copied to the host and sampled there (distributions/likelihood.hpp: sample), seeded from rng.
template <class B, class T>
void likelihood_sample_to_host(const CountDecoder& d, const Arena<B, T>& a, const DecoderCache<T>& c, Index n, Rng& rng,
                               double* out) {
  const Index rows = d.n_head_rows(), G = d.genes;
  std::vector<T> heads(static_cast<std::size_t>(rows * n)), theta(static_cast<std::size_t>(G)), x(static_cast<std::size_t>(G * n));
  for (Index j = 0; j < n; ++j)
    B::template download<T>(heads.data() + j * rows, VectorView<const T>{c.heads.data + j * c.heads.ld, rows});
  const auto tv = d.theta_vec(a);
  if (tv.size) B::template download<T>(theta.data(), tv);
  std::mt19937_64 gen(rng.next_u64());
  scvae::sample<T>(d.likelihood, MatrixView<const T>(heads.data(), rows, n),
                   tv.size ? VectorView<const T>(theta.data(), G) : VectorView<const T>{}, gen, MatrixView<T>(x.data(), G, n));
  for (Index i = 0; i < G * n; ++i) out[i] = double(x[i]);
}

}  // namespace scvae
