#pragma once
// The Gaussian-mixture VAE of scVAE, with the ELBO summed EXACTLY over the K components:
//   ELBO = sum_k q(k|x) [ E_{q(z|x,k)} log p(x|z) - KL(q(z|x,k) || p(z|k)) ] - KL(q(y|x) || p(y))
//   q(y|x)   = softmax of its own MLP on the transformed counts
//   q(z|x,k) = Gaussian from one MLP on [x, onehot(k)], weights shared over k
//   p(z|k)   = N(m_k, softplus(s_k)) with learned m, s;  p(y) uniform or softmax of learned logits
// The z-encoder's first layer is computed once for x (sparse) and broadcast over k; everything
// after it, and the shared decoder, runs on all K*N columns at once (single GEMMs).
// The KL warm-up weight beta multiplies both KL terms.
#include <cmath>
#include <string>
#include <vector>

#include "../core/workspace.hpp"
#include "../data/csr_matrix.hpp"
#include "../inference/gaussian.hpp"
#include "../metrics/kmeans.hpp"
#include "count_decoder.hpp"
#include "model_config.hpp"
#include "step_stats.hpp"

namespace scvae {

struct GmvaeConfig : ModelConfig {
  Index components = 10;
  bool learn_prior_weights = false;  // p(y): uniform (scVAE default) or learned logits

  GmvaeConfig() {
    hidden = {250, 250};  // scVAE's full 10x-MBC model: GMVAE, ZINB, hidden [250, 250]
    likelihood = {Likelihood::zinb, Dispersion::gene_cell};
  }
  void validate() const {
    ModelConfig::validate("GmvaeConfig");
    SCVAE_CHECK(components > 0, "GmvaeConfig.components must be positive");
  }
  void write(detail::KeyValues& kv) const {
    write_network(kv);
    kv.set("components", components);
    kv.set("learn_prior_weights", learn_prior_weights);
    write_rest(kv);
  }
  static GmvaeConfig read(const detail::KeyValues& kv) {
    GmvaeConfig c;
    c.read_common(kv);
    c.components = kv.integer("components");
    c.learn_prior_weights = kv.flag("learn_prior_weights");
    c.validate();
    return c;
  }
};

template <class B, class T>
class Gmvae {
 public:
  using Backend = B;
  using Scalar = T;
  using Config = GmvaeConfig;
  static constexpr const char* kind = "gmvae";

  Gmvae(const GmvaeConfig& cfg, Index max_batch, std::uint64_t seed = 0) : cfg_(cfg), max_batch_(max_batch) {
    cfg_.validate();
    SCVAE_CHECK(max_batch > 0, "Gmvae: max_batch must be positive");
    const Index K = cfg_.components, Z = cfg_.latent, KN = K * max_batch;
    ArenaLayout layout;
    enc_y_ = Mlp::create(layout, "encoder_y", cfg_.genes, cfg_.encoder_options());
    logits_head_ = Dense::create(layout, "encoder_y.logits", enc_y_.out(), K);
    enc_z_ = Mlp::create(layout, "encoder_z", cfg_.genes, cfg_.encoder_options());
    component_weight_ = layout.add_param("encoder_z.component_weight", enc_z_.dense[0].out, K);
    latent_head_ = Dense::create(layout, "encoder_z.latent", enc_z_.out(), 2 * Z);
    prior_mean_ = layout.add_param("prior.mean", Z, K);
    prior_raw_var_ = layout.add_param("prior.raw_variance", Z, K);
    if (cfg_.learn_prior_weights) prior_logits_ = layout.add_param("prior.logits", K, 1);
    decoder_ = CountDecoder::create(layout, "decoder", Z, cfg_.decoder_options(), cfg_.genes, cfg_.likelihood, cfg_.mean);
    arena_ = Arena<B, T>(std::move(layout));

    Rng rng(seed);
    enc_y_.init(arena_, rng);
    logits_head_.init(arena_, rng);
    enc_z_.init(arena_, rng);
    init_uniform(component_weight_, std::sqrt(6.0 / double(cfg_.genes + K + enc_z_.dense[0].out)), rng);
    latent_head_.init(arena_, rng);
    // Component means spread as N(0, 1) draws so components start apart; variances softplus(s) = 1.
    {
      std::vector<T> m(static_cast<std::size_t>(Z * K)), s(m.size(), T(std::log(std::exp(1.0) - 1.0)));
      for (auto& v : m) v = T(rng.normal());
      B::template upload<T>(arena_.param_vec(prior_mean_), m.data());
      B::template upload<T>(arena_.param_vec(prior_raw_var_), s.data());
    }
    if (prior_logits_ >= 0) B::template fill<T>(arena_.param_vec(prior_logits_), T(0));
    decoder_.init(arena_, rng);

    cy_ = enc_y_.make_cache(ws_, max_batch);
    cz_ = enc_z_.make_cache(ws_, KN);
    dec_ = decoder_.make_cache(ws_, KN);
    logits_ = ws_.matrix(K, max_batch);
    q_ = ws_.matrix(K, max_batch);
    log_q_ = ws_.matrix(K, max_batch);
    d_logits_ = ws_.matrix(K, max_batch);
    p_ = ws_.matrix(enc_z_.dense[0].out, max_batch);
    head_ = ws_.matrix(2 * Z, KN);
    d_head_ = ws_.matrix(2 * Z, KN);
    eps_ = ws_.matrix(Z, KN);
    z_ = ws_.matrix(Z, KN);
    dz_ = ws_.matrix(Z, KN);
    klz_ = ws_.vector(KN);
    kl_scale_ = ws_.vector(KN);
    ll_ = ws_.vector(max_batch);
    kl_ = ws_.vector(max_batch);
    log_prior_ = ws_.matrix(K, 1);
    prior_w_ = ws_.matrix(K, 1);
  }
  Gmvae(const Gmvae&) = delete;
  Gmvae& operator=(const Gmvae&) = delete;
  Gmvae(Gmvae&&) = default;
  Gmvae& operator=(Gmvae&&) = default;

  const GmvaeConfig& config() const { return cfg_; }
  Index max_batch() const { return max_batch_; }
  Arena<B, T>& arena() { return arena_; }
  const Arena<B, T>& arena() const { return arena_; }
  std::size_t workspace_bytes() const { return ws_.bytes(); }
  void write_config(detail::KeyValues& kv) const { cfg_.write(kv); }
  void init_mean_bias(const std::vector<double>& gene_mean) { decoder_.init_mean_bias(arena_, gene_mean); }

  // Forward and backward of loss = -(1/N) sum_j ELBO_j(kl_weight), written into arena().grad
  // (every element: no zero_grads needed, and nothing accumulates across calls).
  // eps [Z x K*N] (component-major columns) is drawn unless given.
  StepStats forward_backward(CscView<float> input, CscView<float> counts, T kl_weight, Rng& rng,
                             MatrixView<const T> eps = {}) {
    const Index n = check_batch(input, counts), K = cfg_.components, KN = K * n;
    SCVAE_CHECK(kl_weight >= T(0) && kl_weight < T(INFINITY), "Gmvae.forward_backward: kl_weight must be finite and >= 0");
    // The widest weight gradients (both sparse input layers, the heads) are written by their
    // products; the rest accumulate from zero.
    arena_.zero_grads_except({enc_y_.dense[0].w, enc_z_.dense[0].w, decoder_.out.w, decoder_.out.b});
    const T scale = T(-1) / T(n);
    const auto lib = library_of(counts, false, K);
    forward(input, n, Mode::train, rng, eps, lib);
    // likelihood per component block, weighted by -q_k / N
    B::template mixture_weights<T>(dec_.weight.segment(0, KN), MatrixView<const T>(q_.col_block(0, n)), scale);
    for (Index k = 0; k < K; ++k) decoder_.log_likelihood(arena_, dec_, k * n, counts, true);
    VectorView<T> dprior = prior_logits_ >= 0 ? arena_.grad_vec(prior_logits_) : VectorView<T>{};
    B::template mixture_combine<T>(ll_.segment(0, n), kl_.segment(0, n), d_logits_.col_block(0, n), dprior,
                                   MatrixView<const T>(q_.col_block(0, n)), MatrixView<const T>(log_q_.col_block(0, n)),
                                   VectorView<const T>(dec_.log_px.segment(0, KN)),
                                   VectorView<const T>(klz_.segment(0, KN)), log_prior_vec(), kl_weight, scale);
    // decoder -> z -> q(z|x,k)
    decoder_.backward(arena_, dec_, MatrixView<const T>(z_.col_block(0, KN)), dz_.col_block(0, KN), Mode::train, lib,
                      /*accumulate_heads=*/false);
    B::template mixture_weights<T>(kl_scale_.segment(0, KN), MatrixView<const T>(q_.col_block(0, n)), -scale * kl_weight);
    B::template mixture_latent_backward<T>(d_head_.col_block(0, KN), arena_.grad(prior_mean_), arena_.grad(prior_raw_var_),
                                           MatrixView<const T>(dz_.col_block(0, KN)), MatrixView<const T>(head_.col_block(0, KN)),
                                           MatrixView<const T>(eps_.col_block(0, KN)), arena_.param(prior_mean_),
                                           arena_.param(prior_raw_var_), VectorView<const T>(kl_scale_.segment(0, KN)), n,
                                           cfg_.clamp);
    latent_head_.backward(arena_, cz_.d_output(KN), MatrixView<const T>(d_head_.col_block(0, KN)),
                          MatrixView<const T>(cz_.output(KN)));
    enc_z_.backward_to_first_pre(arena_, cz_, KN, Mode::train);
    auto dp = p_.col_block(0, n);  // reuse p_ for its gradient: p itself is no longer needed
    B::template reduce_components<T>(dp, arena_.grad(component_weight_), MatrixView<const T>(cz_.blocks[0].d_pre.col_block(0, KN)));
    enc_z_.dense[0].backward(arena_, MatrixView<const T>(dp), input, /*accumulate=*/false);
    // q(y|x)
    logits_head_.backward(arena_, cy_.d_output(n), MatrixView<const T>(d_logits_.col_block(0, n)),
                          MatrixView<const T>(cy_.output(n)));
    enc_y_.backward(arena_, cy_, input, Mode::train, /*accumulate_first=*/false);
    return stats(n, kl_weight);
  }

  // Evaluation mode, one draw of z per component: ELBO terms (sums). Per-cell values to host
  // arrays when non-null.
  StepStats evaluate(CscView<float> input, CscView<float> counts, Rng& rng, double* cell_log_px = nullptr,
                     double* cell_kl = nullptr) {
    const Index n = check_batch(input, counts), K = cfg_.components;
    forward(input, n, Mode::eval, rng, {}, library_of(counts, false, K));
    for (Index k = 0; k < K; ++k) decoder_.log_likelihood(arena_, dec_, k * n, counts, false);
    B::template mixture_combine<T>(ll_.segment(0, n), kl_.segment(0, n), MatrixView<T>{}, VectorView<T>{},
                                   MatrixView<const T>(q_.col_block(0, n)), MatrixView<const T>(log_q_.col_block(0, n)),
                                   VectorView<const T>(dec_.log_px.segment(0, K * n)),
                                   VectorView<const T>(klz_.segment(0, K * n)), log_prior_vec(), T(1), T(-1) / T(n));
    if (cell_log_px) to_host(ll_.segment(0, n), cell_log_px);
    if (cell_kl) to_host(kl_.segment(0, n), cell_kl);
    return stats(n, T(1));
  }

  // Per cell (evaluation mode): responsibilities q(k|x) [K x N], latent sum_k q(k|x) E[z|x,k]
  // [Z x N], per-component means [Z x K*N] (component-major); host arrays, any may be null.
  void encode(CscView<float> input, double* responsibilities, double* latent, double* component_means = nullptr) {
    const Index n = input.cols, K = cfg_.components, Z = cfg_.latent;
    SCVAE_CHECK(n >= 0 && n <= max_batch_ && input.rows == cfg_.genes, "Gmvae.encode: batch shape does not match the model");
    if (n == 0) return;  // no cells, no outputs (and no zero-width kernel launches)
    Rng unused(0);
    encode_only(input, n, Mode::eval, unused);
    std::vector<double> q(static_cast<std::size_t>(K * n)), h(static_cast<std::size_t>(2 * Z * K * n));
    to_host(VectorView<T>{q_.data, K * n}, q.data());
    to_host(VectorView<T>{head_.data, 2 * Z * K * n}, h.data());
    if (responsibilities) std::copy(q.begin(), q.end(), responsibilities);
    if (latent)
      for (Index j = 0; j < n; ++j)
        for (Index i = 0; i < Z; ++i) {
          double s = 0;
          for (Index k = 0; k < K; ++k) s += q[k + j * K] * h[i + (k * n + j) * 2 * Z];
          latent[i + j * Z] = s;
        }
    if (component_means)
      for (Index c = 0; c < K * n; ++c)
        for (Index i = 0; i < Z; ++i) component_means[i + c * Z] = h[i + c * 2 * Z];
  }
  // Mean and variance of p(x | z = sum_k q(k|x) E[z|x,k]) per gene and cell, [G x N] on the host.
  void reconstruct(CscView<float> input, double* mean, double* variance) {
    const Index n = input.cols, Z = cfg_.latent;
    std::vector<double> lat(static_cast<std::size_t>(Z * n));
    encode(input, nullptr, lat.data());
    if (n == 0) return;
    std::vector<T> zt(lat.begin(), lat.end());
    B::template upload<T>(VectorView<T>{z_.data, Z * n}, zt.data());
    Rng unused(0);
    decoder_.forward(arena_, dec_, MatrixView<const T>(z_.col_block(0, n)), Mode::eval, unused, library_of(input, true, 1));
    likelihood_moments_to_host<B, T>(decoder_, arena_, dec_, n, mean, variance);
  }

  // Posterior-predictive counts [G x N] on the host: k ~ q(y|x), z ~ q(z|x,k), x ~ p(x|z).
  void sample(CscView<float> input, Rng& rng, double* out) {
    const Index n = input.cols, K = cfg_.components, Z = cfg_.latent;
    SCVAE_CHECK(n >= 0 && n <= max_batch_ && input.rows == cfg_.genes, "Gmvae.sample: batch shape does not match the model");
    if (n == 0) return;
    encode_only(input, n, Mode::eval, rng);
    std::vector<double> q(static_cast<std::size_t>(K * n)), h(static_cast<std::size_t>(2 * Z * K * n));
    to_host(VectorView<T>{q_.data, K * n}, q.data());
    to_host(VectorView<T>{head_.data, 2 * Z * K * n}, h.data());
    std::vector<T> zt(static_cast<std::size_t>(Z * n));
    for (Index j = 0; j < n; ++j) {
      const Index k = draw_component(q.data() + j * K, rng);
      const double* hk = &h[(k * n + j) * 2 * Z];
      for (Index i = 0; i < Z; ++i)
        zt[i + j * Z] = T(hk[i] + std::exp(0.5 * gaussian::clamp_lv(hk[Z + i], cfg_.clamp.lv_min, cfg_.clamp.lv_max)) * rng.normal());
    }
    B::template upload<T>(VectorView<T>{z_.data, Z * n}, zt.data());
    decoder_.forward(arena_, dec_, MatrixView<const T>(z_.col_block(0, n)), Mode::eval, rng, library_of(input, true, 1));
    likelihood_sample_to_host<B, T>(decoder_, arena_, dec_, n, rng, out);
  }

  // Importance-weighted log p(x) per cell with the mixture proposal q(z|x) = sum_k q(k|x) q(z|x,k):
  //   log (1/R) sum_r p(x|z_r) p(z_r) / q(z_r|x),  p(z) = sum_k pi_k N(z; m_k, v_k).
  void importance_log_likelihood(CscView<float> input, CscView<float> counts, int samples, Rng& rng, double* out) {
    SCVAE_CHECK(samples > 0, "importance_log_likelihood: samples must be positive");
    const Index n = check_batch(input, counts, true), K = cfg_.components, Z = cfg_.latent;
    if (n == 0) return;
    encode_only(input, n, Mode::eval, rng);
    std::vector<double> q(static_cast<std::size_t>(K * n)), h(static_cast<std::size_t>(2 * Z * K * n));
    std::vector<double> pm(static_cast<std::size_t>(Z * K)), pr(pm.size()), lp(static_cast<std::size_t>(K));
    to_host(VectorView<T>{q_.data, K * n}, q.data());
    to_host(VectorView<T>{head_.data, 2 * Z * K * n}, h.data());
    to_host(VectorView<T>{arena_.param(prior_mean_).data, Z * K}, pm.data());
    to_host(VectorView<T>{arena_.param(prior_raw_var_).data, Z * K}, pr.data());
    compute_log_prior();
    to_host(VectorView<T>{log_prior_.data, K}, lp.data());
    std::vector<double> lw(static_cast<std::size_t>(samples * n)), zr(static_cast<std::size_t>(Z * n)), lpx(n);
    std::vector<T> zt(static_cast<std::size_t>(Z * n));
    const auto lib = library_of(counts, false, 1);
    auto log_normal = [](double z, double m, double lv) {
      return -0.5 * (std::log(2 * M_PI) + lv + (z - m) * (z - m) * std::exp(-lv));
    };
    for (int r = 0; r < samples; ++r) {
      std::vector<double> lwz(static_cast<std::size_t>(n));
      for (Index j = 0; j < n; ++j) {
        // k ~ q(y|x), z ~ q(z|x,k)
        const Index kk = draw_component(q.data() + j * K, rng);
        const double* hk = &h[(kk * n + j) * 2 * Z];
        for (Index i = 0; i < Z; ++i) {
          const double lv = gaussian::clamp_lv(hk[Z + i], cfg_.clamp.lv_min, cfg_.clamp.lv_max);
          zr[i + j * Z] = hk[i] + std::exp(0.5 * lv) * rng.normal();
        }
        // log p(z) - log q(z|x), both mixtures, by log-sum-exp over k
        double lpz = -INFINITY, lqz = -INFINITY;
        for (Index k = 0; k < K; ++k) {
          double a = lp[k], b = std::log(std::max(q[k + j * K], 1e-300));
          const double* hc = &h[(k * n + j) * 2 * Z];
          for (Index i = 0; i < Z; ++i) {
            const double z = zr[i + j * Z];
            a += log_normal(z, pm[i + k * Z], std::log(gaussian::softplus_scalar(pr[i + k * Z])));
            b += log_normal(z, hc[i], gaussian::clamp_lv(hc[Z + i], cfg_.clamp.lv_min, cfg_.clamp.lv_max));
          }
          lpz = log_add(lpz, a);
          lqz = log_add(lqz, b);
        }
        lwz[j] = lpz - lqz;
      }
      for (Index i = 0; i < Z * n; ++i) zt[i] = T(zr[i]);
      B::template upload<T>(VectorView<T>{z_.data, Z * n}, zt.data());
      decoder_.forward(arena_, dec_, MatrixView<const T>(z_.col_block(0, n)), Mode::eval, rng, lib);
      decoder_.log_likelihood(arena_, dec_, 0, counts, false);
      to_host(dec_.log_px.segment(0, n), lpx.data());
      for (Index j = 0; j < n; ++j) lw[r * n + j] = lpx[j] + lwz[j];
    }
    for (Index j = 0; j < n; ++j) {
      double m = -INFINITY;
      for (int r = 0; r < samples; ++r) m = std::max(m, lw[r * n + j]);
      double s = 0;
      for (int r = 0; r < samples; ++r) s += std::exp(lw[r * n + j] - m);
      out[j] = m + std::log(s / samples);
    }
  }

  // Re-initialises the mixture from the data, as VaDE initialises its GMM from a pre-trained
  // encoder: the component input weights W_k are zeroed (so q(z|x,k) is the same for every k),
  // the latent means of `rows` are clustered by k-means (k-means++, `seed`), p(z|k) is set to
  // each cluster's centroid and per-dimension variance, and q(y|x) is reset to uniform. Training
  // then assigns cells to the nearest component instead of staying in a merge/split local
  // optimum. Returns the k-means assignment of `rows`. Reset the optimiser's moments after this.
  // Host batches: for models on a backend that reads host memory (the CPU).
  KMeansResult init_mixture_from_data(const CsrMatrix& data, const std::vector<Index>& rows, std::uint64_t seed) {
    CscBatch batch;
    return init_mixture(rows, seed, [&](const Index* r, Index n) {
      gather_batch(data, r, n, cfg_.input_transform, batch);
      return batch.input_view();
    });
  }
  // The same from any batch source: gather(rows, n) gathers those n <= max_batch() rows with this
  // model's input transform and returns the encoder input, in this backend's memory (a
  // cuda::DeviceBatch's input_view() on the GPU); the view must stay valid until the next call.
  template <class Gather>
  KMeansResult init_mixture(const std::vector<Index>& rows, std::uint64_t seed, Gather&& gather) {
    const Index K = cfg_.components, Z = cfg_.latent;
    SCVAE_CHECK(static_cast<Index>(rows.size()) >= K, "Gmvae.init_mixture_from_data: fewer cells than components");
    B::template fill<T>(arena_.param(component_weight_), T(0));
    Eigen::MatrixXd latent(Z, static_cast<Index>(rows.size()));
    std::vector<double> comp(static_cast<std::size_t>(Z * K * max_batch_));
    for (std::size_t s = 0; s < rows.size(); s += static_cast<std::size_t>(max_batch_)) {
      const Index n = std::min<Index>(max_batch_, static_cast<Index>(rows.size() - s));
      const CscView<float> input = gather(rows.data() + s, n);
      encode(input, nullptr, nullptr, comp.data());
      // with W_k = 0 every component gives the same mean: take component 0's
      for (Index j = 0; j < n; ++j)
        for (Index i = 0; i < Z; ++i) latent(i, static_cast<Index>(s) + j) = comp[i + j * Z];
    }
    KMeansResult km = kmeans(latent, K, seed);
    std::vector<T> m(static_cast<std::size_t>(Z * K)), raw(m.size());
    std::vector<double> ss(m.size(), 0.0), cnt(static_cast<std::size_t>(K), 0.0);
    for (Index c = 0; c < latent.cols(); ++c) {
      const int k = km.labels[c];
      cnt[k] += 1;
      for (Index i = 0; i < Z; ++i) {
        const double d = latent(i, c) - km.centroids(i, k);
        ss[i + k * Z] += d * d;
      }
    }
    for (Index k = 0; k < K; ++k)
      for (Index i = 0; i < Z; ++i) {
        m[i + k * Z] = T(km.centroids(i, k));
        const double v = std::max(cnt[k] > 1 ? ss[i + k * Z] / cnt[k] : 1.0, 1e-2);
        raw[i + k * Z] = T(v > 30 ? v : std::log(std::expm1(v)));  // softplus^{-1}(v)
      }
    B::template upload<T>(arena_.param_vec(prior_mean_), m.data());
    B::template upload<T>(arena_.param_vec(prior_raw_var_), raw.data());
    B::template fill<T>(arena_.param(logits_head_.w), T(0));
    B::template fill<T>(arena_.param(logits_head_.b), T(0));
    if (prior_logits_ >= 0) B::template fill<T>(arena_.param_vec(prior_logits_), T(0));
    return km;
  }

 private:
  Index draw_component(const double* q, Rng& rng) const {
    double u = rng.uniform(), acc = 0;
    for (Index k = 0; k < cfg_.components; ++k) {
      acc += q[k];
      if (u < acc) return k;
    }
    return cfg_.components - 1;
  }
  static double log_add(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    const double m = std::max(a, b);
    return m + std::log1p(std::exp(-std::fabs(a - b)));
  }
  void init_uniform(SlotId s, double limit, Rng& rng) {
    auto v = arena_.param_vec(s);
    std::vector<T> host(static_cast<std::size_t>(v.size));
    for (auto& x : host) x = T((2 * rng.uniform() - 1) * limit);
    B::template upload<T>(v, host.data());
  }
  // Per-cell outputs of no cells are empty (allow_empty); batch sums are divided by the size.
  Index check_batch(CscView<float> input, CscView<float> counts, bool allow_empty = false) const {
    SCVAE_CHECK(input.cols == counts.cols, "Gmvae: input and counts have different batch sizes");
    SCVAE_CHECK((input.cols > 0 || (allow_empty && input.cols == 0)) && input.cols <= max_batch_,
                "Gmvae: batch size must be in [1, max_batch]");
    SCVAE_CHECK(input.rows == cfg_.genes && counts.rows == cfg_.genes, "Gmvae: batch gene count does not match the model");
    return input.cols;
  }
  void compute_log_prior() {
    if (prior_logits_ >= 0) {
      B::template softmax_columns<T>(prior_w_, log_prior_, MatrixView<const T>(arena_.param(prior_logits_)));
    } else {
      B::template fill<T>(log_prior_, T(-std::log(double(cfg_.components))));
    }
  }
  VectorView<const T> log_prior_vec() const { return {log_prior_.data, cfg_.components}; }
  // q(y|x), and the per-component Gaussian heads [2Z x K*N].
  void encode_only(CscView<float> input, Index n, Mode mode, Rng& rng) {
    const Index K = cfg_.components;
    enc_y_.forward(arena_, cy_, input, mode, rng);
    logits_head_.forward(arena_, logits_.col_block(0, n), MatrixView<const T>(cy_.output(n)));
    B::template softmax_columns<T>(q_.col_block(0, n), log_q_.col_block(0, n), MatrixView<const T>(logits_.col_block(0, n)));
    enc_z_.dense[0].forward(arena_, p_.col_block(0, n), input);
    B::template broadcast_components<T>(cz_.blocks[0].pre.col_block(0, K * n), MatrixView<const T>(p_.col_block(0, n)),
                                        arena_.param(component_weight_));
    enc_z_.forward_from_pre(arena_, cz_, K * n, mode, rng);
    latent_head_.forward(arena_, head_.col_block(0, K * n), MatrixView<const T>(cz_.output(K * n)));
  }
  // The decoder's log library sizes for `copies` x n component-major columns (empty for
  // MeanLink::free): each cell's, from the raw counts or the encoder input (transformed),
  // repeated per component.
  VectorView<const T> library_of(CscView<float> x, bool transformed, Index copies) {
    const auto l = decoder_.library_of<B, T>(dec_, x, transformed && cfg_.input_transform == InputTransform::log1p);
    if (l.size == 0) return l;
    const Index n = x.cols;
    for (Index k = 1; k < copies; ++k)
      B::template copy<T>(MatrixView<const T>(l.data, n, 1), MatrixView<T>(dec_.log_library.data + k * n, n, 1));
    return VectorView<const T>(dec_.log_library.segment(0, copies * n));
  }
  void forward(CscView<float> input, Index n, Mode mode, Rng& rng, MatrixView<const T> eps, VectorView<const T> lib) {
    const Index KN = cfg_.components * n;
    encode_only(input, n, mode, rng);
    compute_log_prior();
    if (eps.data) {
      SCVAE_CHECK(eps.rows == cfg_.latent && eps.cols == KN, "Gmvae: noise must be [latent x components*batch]");
      B::template copy<T>(eps, eps_.col_block(0, KN));
    } else {
      B::template random_normal<T>(eps_.col_block(0, KN), rng);
    }
    B::template mixture_latent_forward<T>(z_.col_block(0, KN), klz_.segment(0, KN), MatrixView<const T>(head_.col_block(0, KN)),
                                          MatrixView<const T>(eps_.col_block(0, KN)), arena_.param(prior_mean_),
                                          arena_.param(prior_raw_var_), n, cfg_.clamp);
    decoder_.forward(arena_, dec_, MatrixView<const T>(z_.col_block(0, KN)), mode, rng, lib);
  }
  StepStats stats(Index n, T kl_weight) {
    StepStats s;
    s.n = n;
    s.log_likelihood = double(B::template sum<T>(VectorView<const T>(ll_.segment(0, n))));
    s.kl = double(B::template sum<T>(VectorView<const T>(kl_.segment(0, n))));
    s.elbo = s.log_likelihood - s.kl;
    s.loss = -(s.log_likelihood - double(kl_weight) * s.kl) / double(n);
    return s;
  }
  void to_host(VectorView<T> v, double* out) const {
    std::vector<T> tmp(static_cast<std::size_t>(v.size));
    B::template download<T>(tmp.data(), VectorView<const T>(v));
    for (Index i = 0; i < v.size; ++i) out[i] = double(tmp[i]);
  }

  GmvaeConfig cfg_;
  Index max_batch_;
  Mlp enc_y_, enc_z_;
  Dense logits_head_, latent_head_;
  SlotId component_weight_ = -1, prior_mean_ = -1, prior_raw_var_ = -1, prior_logits_ = -1;
  CountDecoder decoder_;
  Arena<B, T> arena_;
  Workspace<B, T> ws_;
  MlpCache<T> cy_, cz_;
  DecoderCache<T> dec_;
  MatrixView<T> logits_, q_, log_q_, d_logits_, p_, head_, d_head_, eps_, z_, dz_, log_prior_, prior_w_;
  VectorView<T> klz_, kl_scale_, ll_, kl_;
};

}  // namespace scvae
