#include "model_runner.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <type_traits>

#include <scvae/core/system.hpp>
#include <scvae/gmvae.hpp>

namespace scvae_cli {

using scvae::Index;
using Vae = scvae::Vae<scvae::CpuBackend, float>;
using Gmvae = scvae::Gmvae<scvae::CpuBackend, float>;

void ModelSpec::validate() const {
  if (kind != "vae" && kind != "gmvae") throw UsageError("--model: expected vae or gmvae, got '" + kind + "'");
  try {
    scvae::parse_likelihood(likelihood);
  } catch (const std::exception&) {
    throw UsageError("--likelihood: expected poisson, nb, zip or zinb, got '" + likelihood + "'");
  }
  if (dispersion != "gene" && dispersion != "gene-cell")
    throw UsageError("--dispersion: expected gene or gene-cell, got '" + dispersion + "'");
  if (mean != "free" && mean != "library") throw UsageError("--mean: expected free or library, got '" + mean + "'");
  if (!(dropout >= 0 && dropout < 1)) throw UsageError("--dropout: must be in [0, 1)");
  if (hidden.empty()) throw UsageError("--hidden: needs at least one layer size");
  if (latent <= 0) throw UsageError("--latent: must be positive");
  if (kind == "gmvae" && components <= 0) throw UsageError("--components: must be positive");
}

std::string ModelSpec::describe() const {
  std::string h;
  for (std::size_t i = 0; i < hidden.size(); ++i) h += (i ? "," : "") + std::to_string(hidden[i]);
  std::string s = kind + " " + likelihood;
  if (likelihood == "nb" || likelihood == "zinb") s += " (" + dispersion + " dispersion)";
  if (mean == "library") s += ", mean = library x softmax";
  if (dropout > 0) s += ", dropout " + format_number(dropout, 6) + (dropout_encoder_only ? " (encoders only)" : "");
  if (batch_norm_scale) s += ", BatchNorm with scale";
  s += ", hidden " + h + ", latent " + std::to_string(latent);
  if (kind == "gmvae") s += ", " + std::to_string(components) + " components";
  return s;
}

void FitSettings::validate() const {
  if (epochs < 0) throw UsageError("--epochs: must be >= 0");
  if (batch_size <= 0) throw UsageError("--batch-size: must be positive");
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) throw UsageError("--learning-rate: must be positive");
  if (!(weight_decay >= 0)) throw UsageError("--weight-decay: must be >= 0");
  if (!(clip >= 0)) throw UsageError("--clip: must be >= 0 (0 = no clipping)");
  if (!(adam_eps > 0) || !std::isfinite(adam_eps)) throw UsageError("--adam-eps: must be positive");
  if (kl_warmup < 0) throw UsageError("--kl-warmup: must be >= 0");
  if (mixture_init < 0) throw UsageError("--mixture-init: must be >= 0");
  if (early_stopping < 0) throw UsageError("--early-stopping: must be >= 0 (0 = off)");
}

scvae::TrainOptions make_train_options(const FitSettings& fit, bool mixture, const EpochCallback& on_epoch,
                                       Progress* progress) {
  scvae::TrainOptions opt;
  opt.epochs = fit.epochs;
  opt.batch_size = fit.batch_size;
  opt.kl_warmup_epochs = fit.kl_warmup;
  if (mixture) opt.mixture_init_epochs = fit.mixture_init;
  opt.early_stopping_patience = fit.early_stopping;
  opt.seed = fit.seed;
  opt.adam.learning_rate = fit.learning_rate;
  opt.adam.weight_decay = fit.weight_decay;
  opt.adam.clip_value = fit.clip;
  opt.adam.eps = fit.adam_eps;
  opt.checkpoint_dir = fit.checkpoint_dir;
  opt.should_stop = [] { return interrupted(); };
  auto best = std::make_shared<double>(-INFINITY);
  opt.on_epoch = [best, on_epoch, progress](const scvae::EpochMetrics& m) {
    const double score = m.has_validation ? m.validation.elbo : m.train.elbo;
    const bool is_best = score > *best;
    if (is_best) *best = score;
    if (progress) progress->epoch(m.epoch, m.train.elbo, m.has_validation ? m.validation.elbo : NAN, m.seconds, is_best);
    if (on_epoch) on_epoch(m, is_best);
  };
  if (progress)
    opt.on_batch = [progress](const scvae::BatchProgress& p) {
      progress->batch(p.epoch, static_cast<long>(p.batch), static_cast<long>(p.batches), p.running_elbo);
    };
  return opt;
}

void check_device(const ModelSpec& spec, const FitSettings& fit) {
#ifdef SCVAE_CLI_HAS_CUDA
  if (fit.device == "cuda") require_cuda_device();
#endif
  (void)spec;
  (void)fit;
}

FitResult make_fit_result(const scvae::TrainResult& r, double seconds, Progress* progress) {
  if (progress) progress->finish();
  FitResult out;
  out.history = r.history;
  out.best_epoch = r.best_epoch;
  out.interrupted = r.interrupted;
  out.stopped_early = r.stopped_early;
  out.seconds = seconds;
  return out;
}

namespace {

template <class Config>
Config make_config(const ModelSpec& s, Index genes) {
  Config c;
  c.genes = genes;
  c.hidden.assign(s.hidden.begin(), s.hidden.end());
  c.latent = s.latent;
  c.likelihood = {scvae::parse_likelihood(s.likelihood), scvae::parse_dispersion(s.dispersion)};
  c.mean = s.mean == "library" ? scvae::MeanLink::library : scvae::MeanLink::free;
  c.dropout = s.dropout;
  c.decoder_dropout = !s.dropout_encoder_only;
  c.batch_norm_scale = s.batch_norm_scale;
  if constexpr (std::is_same_v<Config, scvae::GmvaeConfig>) c.components = s.components;
  return c;
}

}  // namespace

void check_fits_in_memory(const ModelSpec& s, const FitSettings& fit, const scvae::CsrMatrix& counts) {
  // Parameters (with gradients and Adam's two moments: 4 copies) and one batch's activations,
  // roughly; an allocation past the machine's memory would otherwise end in std::bad_alloc, or,
  // with overcommit, in the kernel killing the program midway. On --device cuda they live in the
  // GPU's memory, with the whole count matrix (uploaded once), so the GPU's memory is the limit.
  const Index genes = counts.n_cols;
  const double G = double(genes), Z = double(s.latent), B = double(fit.batch_size);
  const double P = scvae::n_heads({scvae::parse_likelihood(s.likelihood), scvae::parse_dispersion(s.dispersion)});
  const bool mixture = s.kind == "gmvae";
  const double K = mixture ? double(s.components) : 1.0;
  double enc = 0, dec = 0, width_sum = 0, prev = G;
  for (long h : s.hidden) {
    enc += prev * double(h);
    width_sum += double(h);
    prev = double(h);
  }
  enc += prev * 2 * Z * (mixture ? 1 + K : 1);  // GMVAE: per-component inputs of q(z|x,k)
  dec = Z * double(s.hidden.back()) + prev * G * P;
  for (std::size_t i = s.hidden.size(); i-- > 1;) dec += double(s.hidden[i]) * double(s.hidden[i - 1]);
  const double params = enc * (mixture ? 2 : 1) + dec;  // GMVAE: the q(y|x) encoder as well
  const double activations = B * K * (3 * G * P + 4 * width_sum + 4 * Z);
  double need = 4.0 * (4 * params + activations);
  double have = scvae::physical_memory_bytes();
  const char* where = "this machine has";
#ifdef SCVAE_CLI_HAS_CUDA
  if (fit.device == "cuda") {
    need += double(counts.bytes());
    have = cuda_device_memory_bytes();
    where = "the GPU has";
  }
#endif
  if (have > 0 && need > have) {
    char msg[400];
    std::snprintf(msg, sizeof msg,
                  "the model (%s) on %ld genes with --batch-size %ld needs about %.1f GB (parameters, gradients, "
                  "optimiser state, one batch's activations%s); %s %.1f GB: lower --hidden, --latent, "
                  "--components or --batch-size",
                  s.describe().c_str(), long(genes), fit.batch_size, need / 1e9,
                  fit.device == "cuda" ? ", the count matrix" : "", where, have / 1e9);
    throw UsageError(msg);
  }
}

scvae::VaeConfig vae_config(const ModelSpec& s, Index genes) { return make_config<scvae::VaeConfig>(s, genes); }
scvae::GmvaeConfig gmvae_config(const ModelSpec& s, Index genes) { return make_config<scvae::GmvaeConfig>(s, genes); }

namespace {

template <class Model>
FitResult fit_impl(const ModelSpec& spec, const FitSettings& fit, const Dataset& data, const EpochCallback& on_epoch,
                   Progress* progress) {
  const auto cfg = make_config<typename Model::Config>(spec, data.counts.n_cols);
  Model model(cfg, fit.batch_size, fit.seed);
  scvae::Trainer<Model> trainer(model, make_train_options(fit, std::is_same_v<Model, Gmvae>, on_epoch, progress));
  const double t0 = now_seconds();
  const auto r = trainer.fit(data.counts, data.split.train, data.split.validation);
  return make_fit_result(r, now_seconds() - t0, progress);
}

// Latent means (and GMVAE responsibilities) of `rows`, batch by batch.
template <class Model>
void encode_rows(Model& model, const scvae::CsrMatrix& counts, const std::vector<Index>& rows, std::vector<double>& latent,
                 std::vector<double>& resp) {
  const Index Z = model.config().latent, bs = model.max_batch();
  latent.assign(static_cast<std::size_t>(Z) * rows.size(), 0.0);
  constexpr bool mixture = std::is_same_v<Model, Gmvae>;
  Index K = 0;
  if constexpr (mixture) K = model.config().components;
  resp.assign(static_cast<std::size_t>(K) * rows.size(), 0.0);
  scvae::CscBatch batch;
  for (std::size_t start = 0; start < rows.size(); start += static_cast<std::size_t>(bs)) {
    const Index n = std::min<Index>(bs, static_cast<Index>(rows.size() - start));
    scvae::gather_batch(counts, rows.data() + start, n, model.config().input_transform, batch);
    if constexpr (mixture) model.encode(batch.input_view(), resp.data() + K * start, latent.data() + Z * start);
    else model.encode(batch.input_view(), latent.data() + Z * start);
  }
}

std::vector<int> argmax_columns(const std::vector<double>& p, Index k, std::vector<double>& max_value) {
  const std::size_t n = k > 0 ? p.size() / static_cast<std::size_t>(k) : 0;
  std::vector<int> out(n);
  max_value.resize(n);
  for (std::size_t j = 0; j < n; ++j) {
    const double* c = p.data() + j * k;
    const auto it = std::max_element(c, c + k);
    out[j] = static_cast<int>(it - c);
    max_value[j] = *it;
  }
  return out;
}

// Clusters of `rows`: GMVAE argmax q(k|x); VAE k-means on the latent means with K = number of
// label categories (none without labels).
template <class Model>
std::vector<int> cluster_rows(Model& model, const Dataset& data, const std::vector<double>& latent,
                              const std::vector<double>& resp, std::vector<double>& max_resp, std::string& method,
                              long& k_out) {
  max_resp.clear();
  if constexpr (std::is_same_v<Model, Gmvae>) {
    method = "gmvae_argmax";
    k_out = model.config().components;
    return argmax_columns(resp, model.config().components, max_resp);
  } else {
    const Index Z = model.config().latent, n = static_cast<Index>(latent.size() / Z);
    const Index k = static_cast<Index>(data.label_names.size());
    if (!data.has_labels() || k < 1 || n < k) {
      method.clear();
      return {};
    }
    method = "kmeans_latent";
    k_out = k;
    return scvae::kmeans(scvae::MatrixView<const double>{latent.data(), Z, n}, k, /*seed=*/0, /*n_init=*/10).labels;
  }
}

template <class Model>
Analysis analyse(Model& model, const Dataset& data, const std::vector<Index>& metric_rows,
                 const std::vector<Index>& cell_rows, int samples, std::uint64_t seed) {
  Analysis a;
  a.kind = Model::kind;
  const auto& X = data.counts;
  const Index G = X.n_cols, bs = model.max_batch();
  a.n_cells = static_cast<long>(metric_rows.size());
  a.importance_samples = samples;
  a.observed_mean.assign(G, 0.0);
  a.observed_variance.assign(G, 0.0);
  a.reconstructed_mean.assign(G, 0.0);
  a.reconstructed_variance.assign(G, 0.0);
  std::vector<double> rec_sq(G, 0.0), mean(static_cast<std::size_t>(G * bs)), var(mean.size()),
      lml(static_cast<std::size_t>(bs));
  scvae::CscBatch batch;
  scvae::Rng rng(seed), is_rng(seed ^ 0x49575345ULL);
  scvae::StepStats acc;
  double lml_sum = 0;
  for (std::size_t start = 0; start < metric_rows.size(); start += static_cast<std::size_t>(bs)) {
    const Index n = std::min<Index>(bs, static_cast<Index>(metric_rows.size() - start));
    scvae::gather_batch(X, metric_rows.data() + start, n, model.config().input_transform, batch);
    acc += model.evaluate(batch.input_view(), batch.counts_view(), rng);
    if (samples > 0) {
      model.importance_log_likelihood(batch.input_view(), batch.counts_view(), samples, is_rng, lml.data());
      for (Index j = 0; j < n; ++j) lml_sum += lml[j];
    }
    model.reconstruct(batch.input_view(), mean.data(), var.data());
    for (Index j = 0; j < n; ++j)
      for (Index g = 0; g < G; ++g) {
        const double m = mean[g + j * G];
        a.reconstructed_mean[g] += m;
        rec_sq[g] += m * m;
        a.reconstructed_variance[g] += var[g + j * G];
      }
    for (Index j = 0; j < n; ++j)
      for (auto k = batch.ptr[j]; k < batch.ptr[j + 1]; ++k) {
        const double x = batch.counts[k];
        a.observed_mean[batch.idx[k]] += x;
        a.observed_variance[batch.idx[k]] += x * x;
      }
  }
  const double n = std::max<double>(1.0, static_cast<double>(metric_rows.size()));
  for (Index g = 0; g < G; ++g) {
    a.observed_mean[g] /= n;
    a.observed_variance[g] = std::max(0.0, a.observed_variance[g] / n - a.observed_mean[g] * a.observed_mean[g]);
    a.reconstructed_mean[g] /= n;
    // Law of total variance over cells: E[Var(x|z)] + Var(E[x|z]).
    a.reconstructed_variance[g] = a.reconstructed_variance[g] / n +
                                  std::max(0.0, rec_sq[g] / n - a.reconstructed_mean[g] * a.reconstructed_mean[g]);
  }
  a.elbo = acc.n ? acc.elbo / double(acc.n) : NAN;
  a.log_likelihood = acc.n ? acc.log_likelihood / double(acc.n) : NAN;
  a.kl = acc.n ? acc.kl / double(acc.n) : NAN;
  a.marginal_log_likelihood = samples > 0 && !metric_rows.empty() ? lml_sum / n : NAN;

  // Clustering agreement on the metric rows.
  std::vector<double> latent, resp, max_resp;
  if (data.has_labels() && !metric_rows.empty()) {
    encode_rows(model, X, metric_rows, latent, resp);
    std::string method;
    long k = 0;
    const auto cl = cluster_rows(model, data, latent, resp, max_resp, method, k);
    std::vector<int> truth, pred;
    for (std::size_t i = 0; i < cl.size(); ++i)
      if (data.labels[metric_rows[i]] >= 0) {
        truth.push_back(data.labels[metric_rows[i]]);
        pred.push_back(cl[i]);
      }
    if (!truth.empty()) {
      a.ari = scvae::adjusted_rand_index(truth, pred);
      a.nmi = scvae::normalized_mutual_information(truth, pred);
    }
  }
  // Latent means and clusters of the cell rows.
  a.latent_dim = model.config().latent;
  encode_rows(model, X, cell_rows, a.latent, resp);
  if (!cell_rows.empty())
    a.clusters = cluster_rows(model, data, a.latent, resp, a.max_responsibility, a.cluster_method, a.n_clusters);
  return a;
}

}  // namespace

FitResult fit_model(const ModelSpec& spec, const FitSettings& fit, const Dataset& data, const EpochCallback& on_epoch,
                    Progress* progress) {
  spec.validate();
  fit.validate();
#ifdef SCVAE_CLI_HAS_CUDA
  if (fit.device == "cuda") return fit_model_cuda(spec, fit, data, on_epoch, progress);
#endif
  if (fit.device != "cpu") throw UsageError("--device " + fit.device + ": this build has no such backend");
  if (spec.kind == "vae") return fit_impl<Vae>(spec, fit, data, on_epoch, progress);
  return fit_impl<Gmvae>(spec, fit, data, on_epoch, progress);
}

Analysis analyse_checkpoint(const std::string& checkpoint, const Dataset& data, const std::vector<Index>& metric_rows,
                            const std::vector<Index>& cell_rows, int importance_samples, std::uint64_t seed,
                            long max_batch) {
  const scvae::Checkpoint c = scvae::read_checkpoint(checkpoint);
  const auto check_genes = [&](Index genes) {
    if (genes != data.counts.n_cols)
      throw scvae::InputError("scvae: checkpoint '" + checkpoint + "' was trained on " + std::to_string(genes) +
                              " genes, the data has " + std::to_string(data.counts.n_cols) + " (" + data.description +
                              "); use the same input and --top-genes as for training");
  };
  // The file is read once: the gene check and the model both come from `c`.
  const auto analyse_as = [&](auto* model_type) {
    using Model = std::remove_pointer_t<decltype(model_type)>;
    check_genes(c.model_config<typename Model::Config>().genes);
    auto m = scvae::load_model<Model>(c, max_batch);
    return analyse(m, data, metric_rows, cell_rows, importance_samples, seed);
  };
  if (c.kind == "vae") return analyse_as(static_cast<Vae*>(nullptr));
  if (c.kind == "gmvae") return analyse_as(static_cast<Gmvae*>(nullptr));
  throw scvae::CheckpointError("scvae: checkpoint '" + checkpoint + "' holds an unknown model kind '" + c.kind + "'");
}

}  // namespace scvae_cli

namespace scvae_cli {
void check_threads(int n) {
  // libgomp crashes (or fails to create threads) far beyond any machine's cores: bound it.
  if (n < 0 || n > kMaxThreads)
    throw UsageError("--threads: must be between 0 (all cores) and " + std::to_string(kMaxThreads));
}
void set_threads(int n) {
  if (n > 0) scvae::CpuBackend::set_threads(n);
}
}  // namespace scvae_cli
