#pragma once
// The VAE of scVAE / scvi-tools: q(z|x) = N(mu(x), diag e^lv(x)) from an MLP on the
// transformed counts (sparse first layer), prior N(0, I), decoder p(x|z) from count_decoder.hpp.
// All buffers are allocated at construction for `max_batch` cells; a training step allocates
// nothing. Templated on the backend B and the scalar T (float to train, double to check).
#include <cmath>
#include <string>
#include <vector>

#include "../core/workspace.hpp"
#include "../data/csr_matrix.hpp"
#include "../inference/gaussian.hpp"
#include "count_decoder.hpp"
#include "model_config.hpp"
#include "step_stats.hpp"

namespace scvae {

struct VaeConfig : ModelConfig {
  void validate() const { ModelConfig::validate("VaeConfig"); }
  void write(detail::KeyValues& kv) const {
    write_network(kv);
    write_rest(kv);
  }
  static VaeConfig read(const detail::KeyValues& kv) {
    VaeConfig c;
    c.read_common(kv);
    c.validate();
    return c;
  }
};

template <class B, class T>
class Vae {
 public:
  using Backend = B;
  using Scalar = T;
  using Config = VaeConfig;
  static constexpr const char* kind = "vae";

  Vae(const VaeConfig& cfg, Index max_batch, std::uint64_t seed = 0) : cfg_(cfg), max_batch_(max_batch) {
    cfg_.validate();
    SCVAE_CHECK(max_batch > 0, "Vae: max_batch must be positive");
    ArenaLayout layout;
    encoder_ = Mlp::create(layout, "encoder", cfg_.genes, cfg_.encoder_options());
    latent_head_ = Dense::create(layout, "encoder.latent", encoder_.out(), 2 * cfg_.latent);
    decoder_ = CountDecoder::create(layout, "decoder", cfg_.latent, cfg_.decoder_options(), cfg_.genes, cfg_.likelihood,
                                    cfg_.mean);
    arena_ = Arena<B, T>(std::move(layout));
    Rng rng(seed);
    encoder_.init(arena_, rng);
    latent_head_.init(arena_, rng);
    decoder_.init(arena_, rng);

    enc_ = encoder_.make_cache(ws_, max_batch);
    dec_ = decoder_.make_cache(ws_, max_batch);
    head_ = ws_.matrix(2 * cfg_.latent, max_batch);
    d_head_ = ws_.matrix(2 * cfg_.latent, max_batch);
    eps_ = ws_.matrix(cfg_.latent, max_batch);
    z_ = ws_.matrix(cfg_.latent, max_batch);
    dz_ = ws_.matrix(cfg_.latent, max_batch);
    kl_ = ws_.vector(max_batch);
    logw_ = ws_.vector(max_batch);
    host_.resize(static_cast<std::size_t>(2 * max_batch));
  }

  Vae(const Vae&) = delete;  // views point into this model's own buffers
  Vae& operator=(const Vae&) = delete;
  Vae(Vae&&) = default;
  Vae& operator=(Vae&&) = default;

  const VaeConfig& config() const { return cfg_; }
  Index max_batch() const { return max_batch_; }
  Arena<B, T>& arena() { return arena_; }
  const Arena<B, T>& arena() const { return arena_; }
  const CountDecoder& decoder() const { return decoder_; }
  std::size_t workspace_bytes() const { return ws_.bytes(); }
  void write_config(detail::KeyValues& kv) const { cfg_.write(kv); }
  void init_mean_bias(const std::vector<double>& gene_mean) { decoder_.init_mean_bias(arena_, gene_mean); }

  // One training step's forward and backward on a batch of N cells: input [G x N] (transformed
  // counts), counts [G x N] (raw). Writes into arena().grad (every element: no zero_grads needed,
  // and nothing accumulates across calls) the gradient of
  //   loss = -(1/N) sum_j ( log p(x_j | z_j) - kl_weight * KL_j ),
  // with z_j = mu + sigma * eps_j. eps [Z x N] is drawn from rng unless given (eps.data != null).
  StepStats forward_backward(CscView<float> input, CscView<float> counts, T kl_weight, Rng& rng,
                             MatrixView<const T> eps = {}) {
    const Index n = check_batch(input, counts);
    SCVAE_CHECK(kl_weight >= T(0) && kl_weight < T(INFINITY), "Vae.forward_backward: kl_weight must be finite and >= 0");
    // The two widest weight gradients are written by their products; the rest accumulate from zero.
    arena_.zero_grads_except({encoder_.dense[0].w, decoder_.out.w, decoder_.out.b});
    encode_sample(input, n, Mode::train, rng, eps);
    const auto lib = library_of(counts, false);
    decoder_.forward(arena_, dec_, MatrixView<const T>(z_.col_block(0, n)), Mode::train, rng, lib);
    B::template fill<T>(dec_.weight.segment(0, n), T(-1) / T(n));
    decoder_.log_likelihood(arena_, dec_, 0, counts, true);
    decoder_.backward(arena_, dec_, MatrixView<const T>(z_.col_block(0, n)), dz_.col_block(0, n), Mode::train, lib,
                      /*accumulate_heads=*/false);
    B::template gaussian_latent_backward<T>(d_head_.col_block(0, n), MatrixView<const T>(dz_.col_block(0, n)),
                                            MatrixView<const T>(head_.col_block(0, n)),
                                            MatrixView<const T>(eps_.col_block(0, n)), kl_weight / T(n), cfg_.clamp);
    latent_head_.backward(arena_, enc_.d_output(n), MatrixView<const T>(d_head_.col_block(0, n)),
                          MatrixView<const T>(enc_.output(n)));
    encoder_.backward(arena_, enc_, input, Mode::train, /*accumulate_first=*/false);
    return stats(n, kl_weight);
  }

  // Evaluation (running BatchNorm statistics, no dropout): ELBO terms with one draw of z.
  // Per-cell values go to cell_log_px / cell_kl when non-null (host arrays of N).
  StepStats evaluate(CscView<float> input, CscView<float> counts, Rng& rng, double* cell_log_px = nullptr,
                     double* cell_kl = nullptr) {
    const Index n = check_batch(input, counts);
    encode_sample(input, n, Mode::eval, rng, {});
    decoder_.forward(arena_, dec_, MatrixView<const T>(z_.col_block(0, n)), Mode::eval, rng, library_of(counts, false));
    decoder_.log_likelihood(arena_, dec_, 0, counts, false);
    StepStats s = stats(n, T(1));
    if (cell_log_px) copy_to_host(dec_.log_px.segment(0, n), cell_log_px);
    if (cell_kl) copy_to_host(kl_.segment(0, n), cell_kl);
    return s;
  }

  // Importance-weighted estimate of log p(x) per cell with R samples from q(z|x):
  //   log (1/R) sum_r p(x|z_r) p(z_r) / q(z_r|x).
  // out: host array of N.
  void importance_log_likelihood(CscView<float> input, CscView<float> counts, int samples, Rng& rng, double* out) {
    SCVAE_CHECK(samples > 0, "importance_log_likelihood: samples must be positive");
    const Index n = check_batch(input, counts, true);
    if (n == 0) return;
    encoder_.forward(arena_, enc_, input, Mode::eval, rng);
    latent_head_.forward(arena_, head_.col_block(0, n), MatrixView<const T>(enc_.output(n)));
    const auto lib = library_of(counts, false);
    std::vector<double> lw(static_cast<std::size_t>(samples * n));
    for (int r = 0; r < samples; ++r) {
      B::template random_normal<T>(eps_.col_block(0, n), rng);
      B::template gaussian_latent_forward<T>(z_.col_block(0, n), VectorView<T>{}, MatrixView<const T>(head_.col_block(0, n)),
                                             MatrixView<const T>(eps_.col_block(0, n)), cfg_.clamp);
      B::template gaussian_log_weight<T>(logw_.segment(0, n), MatrixView<const T>(z_.col_block(0, n)),
                                         MatrixView<const T>(head_.col_block(0, n)),
                                         MatrixView<const T>(eps_.col_block(0, n)), cfg_.clamp);
      decoder_.forward(arena_, dec_, MatrixView<const T>(z_.col_block(0, n)), Mode::eval, rng, lib);
      decoder_.log_likelihood(arena_, dec_, 0, counts, false);
      copy_to_host(dec_.log_px.segment(0, n), host_.data());
      copy_to_host(logw_.segment(0, n), host_.data() + n);
      for (Index j = 0; j < n; ++j) lw[r * n + j] = host_[j] + host_[n + j];
    }
    for (Index j = 0; j < n; ++j) {
      double m = -INFINITY;
      for (int r = 0; r < samples; ++r) m = std::max(m, lw[r * n + j]);
      double s = 0;
      for (int r = 0; r < samples; ++r) s += std::exp(lw[r * n + j] - m);
      out[j] = m + std::log(s / samples);
    }
  }

  // Latent means and log-variances (evaluation mode): mean [Z x N], logvar [Z x N] on the host.
  void encode(CscView<float> input, double* mean, double* logvar = nullptr) {
    const Index n = input.cols;
    SCVAE_CHECK(n >= 0 && n <= max_batch_ && input.rows == cfg_.genes, "Vae.encode: batch shape does not match the model");
    if (n == 0) return;  // no cells, no outputs (and no zero-width kernel launches)
    Rng unused(0);
    encoder_.forward(arena_, enc_, input, Mode::eval, unused);
    latent_head_.forward(arena_, head_.col_block(0, n), MatrixView<const T>(enc_.output(n)));
    std::vector<T> h(static_cast<std::size_t>(2 * cfg_.latent * n));
    B::template download<T>(h.data(), VectorView<const T>{head_.data, 2 * cfg_.latent * n});
    const Index Z = cfg_.latent;
    for (Index j = 0; j < n; ++j)
      for (Index i = 0; i < Z; ++i) {
        mean[i + j * Z] = h[i + j * 2 * Z];
        if (logvar) logvar[i + j * Z] = gaussian::clamp_lv(double(h[Z + i + j * 2 * Z]), cfg_.clamp.lv_min, cfg_.clamp.lv_max);
      }
  }
  // Mean and variance of p(x | z = E[z|x]) per gene and cell, [G x N] on the host (either may be null).
  void reconstruct(CscView<float> input, double* mean, double* variance) {
    const Index n = input.cols;
    std::vector<double> mu(static_cast<std::size_t>(cfg_.latent * n));
    encode(input, mu.data());
    if (n == 0) return;
    std::vector<T> zt(mu.begin(), mu.end());
    B::template upload<T>(VectorView<T>{z_.data, cfg_.latent * n}, zt.data());
    Rng unused(0);
    decoder_.forward(arena_, dec_, MatrixView<const T>(z_.col_block(0, n)), Mode::eval, unused, library_of(input, true));
    likelihood_moments_to_host<B, T>(decoder_, arena_, dec_, n, mean, variance);
  }

  // Posterior-predictive counts [G x N] on the host: z ~ q(z|x), then x ~ p(x|z).
  void sample(CscView<float> input, Rng& rng, double* out) {
    const Index n = input.cols;
    SCVAE_CHECK(n >= 0 && n <= max_batch_ && input.rows == cfg_.genes, "Vae.sample: batch shape does not match the model");
    if (n == 0) return;
    encode_sample(input, n, Mode::eval, rng, {});
    decoder_.forward(arena_, dec_, MatrixView<const T>(z_.col_block(0, n)), Mode::eval, rng, library_of(input, true));
    likelihood_sample_to_host<B, T>(decoder_, arena_, dec_, n, rng, out);
  }

 private:
  // Per-cell outputs of no cells are empty (allow_empty); batch sums are divided by the size.
  Index check_batch(CscView<float> input, CscView<float> counts, bool allow_empty = false) const {
    SCVAE_CHECK(input.cols == counts.cols, "Vae: input and counts have different batch sizes");
    SCVAE_CHECK((input.cols > 0 || (allow_empty && input.cols == 0)) && input.cols <= max_batch_,
                "Vae: batch size must be in [1, max_batch]");
    SCVAE_CHECK(input.rows == cfg_.genes && counts.rows == cfg_.genes, "Vae: batch gene count does not match the model");
    return input.cols;
  }
  void encode_sample(CscView<float> input, Index n, Mode mode, Rng& rng, MatrixView<const T> eps) {
    encoder_.forward(arena_, enc_, input, mode, rng);
    latent_head_.forward(arena_, head_.col_block(0, n), MatrixView<const T>(enc_.output(n)));
    if (eps.data) {
      SCVAE_CHECK(eps.rows == cfg_.latent && eps.cols == n, "Vae: noise must be [latent x batch]");
      B::template copy<T>(eps, eps_.col_block(0, n));
    } else {
      B::template random_normal<T>(eps_.col_block(0, n), rng);
    }
    B::template gaussian_latent_forward<T>(z_.col_block(0, n), kl_.segment(0, n), MatrixView<const T>(head_.col_block(0, n)),
                                           MatrixView<const T>(eps_.col_block(0, n)), cfg_.clamp);
  }
  // The decoder's log library sizes of a batch (empty for MeanLink::free): from the raw counts, or
  // from the encoder input (transformed) where only that is at hand (reconstruct, sample).
  VectorView<const T> library_of(CscView<float> x, bool transformed) {
    return decoder_.library_of<B, T>(dec_, x, transformed && cfg_.input_transform == InputTransform::log1p);
  }
  StepStats stats(Index n, T kl_weight) {
    StepStats s;
    s.n = n;
    s.log_likelihood = double(B::template sum<T>(VectorView<const T>(dec_.log_px.segment(0, n))));
    s.kl = double(B::template sum<T>(VectorView<const T>(kl_.segment(0, n))));
    s.elbo = s.log_likelihood - s.kl;
    s.loss = -(s.log_likelihood - double(kl_weight) * s.kl) / double(n);
    return s;
  }
  void copy_to_host(VectorView<T> v, double* out) {
    std::vector<T> tmp(static_cast<std::size_t>(v.size));
    B::template download<T>(tmp.data(), VectorView<const T>(v));
    for (Index i = 0; i < v.size; ++i) out[i] = double(tmp[i]);
  }

  VaeConfig cfg_;
  Index max_batch_;
  Mlp encoder_;
  Dense latent_head_;
  CountDecoder decoder_;
  Arena<B, T> arena_;
  Workspace<B, T> ws_;
  MlpCache<T> enc_;
  DecoderCache<T> dec_;
  MatrixView<T> head_, d_head_, eps_, z_, dz_;
  VectorView<T> kl_, logw_;
  std::vector<double> host_;
};

}  // namespace scvae
