#pragma once
// Minibatch training for any model with the VAE/GMVAE interface (forward_backward, evaluate,
// arena, init_mean_bias): seeded shuffling, KL warm-up, Adam, per-epoch train and validation
// metrics, checkpoints (last and best), early stopping, divergence detection, progress callbacks.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "../core/random.hpp"
#include "../data/csr_matrix.hpp"
#include "../io/checkpoint.hpp"
#include "../models/step_stats.hpp"
#include "../optim/adam.hpp"

namespace scvae {

struct SplitMetrics {
  double elbo = NAN, log_likelihood = NAN, kl = NAN;  // means per cell
  Index cells = 0;
};

struct EpochMetrics {
  int epoch = 0;  // 1-based
  double kl_weight = 1;
  SplitMetrics train, validation;
  bool has_validation = false;
  double seconds = 0;  // wall time of the epoch's training pass
  double grad_norm = 0;
};

struct BatchProgress {
  int epoch = 0, epochs = 0;
  Index batch = 0, batches = 0;
  double running_elbo = 0;  // mean per cell so far this epoch
  double seconds = 0;       // since the epoch started
};

struct TrainOptions {
  int epochs = 200;
  Index batch_size = 100;
  int kl_warmup_epochs = 0;  // KL weight = min(epoch / w, 1) for the 0-based epoch (scVAE); 0 = off
  std::uint64_t seed = 0;
  AdamOptions adam{};
  bool init_mean_bias = true;     // start the log-mean head at log(gene mean)
  std::string checkpoint_dir;     // if set: last.ckpt every epoch, best.ckpt at best validation ELBO
  int early_stopping_patience = 0;  // stop after this many epochs without a better validation ELBO; 0 = off
  // Mixture models only (Gmvae): after this many epochs, re-initialise the mixture from k-means
  // on the latent means of the training cells (Gmvae::init_mixture) and reset Adam's
  // moments. 0 = off.
  int mixture_init_epochs = 0;
  std::function<void(const EpochMetrics&)> on_epoch;
  std::function<void(const BatchProgress&)> on_batch;
  std::function<bool()> should_stop;  // polled between batches (e.g. Ctrl-C)

  void validate() const {
    SCVAE_CHECK(epochs >= 0, "TrainOptions.epochs must be non-negative");
    SCVAE_CHECK(batch_size > 0, "TrainOptions.batch_size must be positive");
    SCVAE_CHECK(kl_warmup_epochs >= 0, "TrainOptions.kl_warmup_epochs must be non-negative");
    SCVAE_CHECK(early_stopping_patience >= 0, "TrainOptions.early_stopping_patience must be non-negative");
    SCVAE_CHECK(mixture_init_epochs >= 0, "TrainOptions.mixture_init_epochs must be non-negative");
    adam.validate();
  }
  double kl_weight(int epoch0) const {
    return kl_warmup_epochs > 0 ? std::min(1.0, double(epoch0) / double(kl_warmup_epochs)) : 1.0;
  }
};

struct TrainResult {
  std::vector<EpochMetrics> history;
  int best_epoch = 0;
  double best_validation_elbo = -std::numeric_limits<double>::infinity();
  bool stopped_early = false;
  bool interrupted = false;
};

inline std::vector<Index> all_rows(const CsrMatrix& m) {
  std::vector<Index> r(static_cast<std::size_t>(m.n_rows));
  for (Index i = 0; i < m.n_rows; ++i) r[i] = i;
  return r;
}

// Where a fit's minibatches come from: the host matrix, gathered into a CscBatch. The CUDA
// trainer (train/cuda_trainer.cuh) supplies the matrix's device copy instead; the training loop
// below is the same for both.
struct HostBatches {
  using Batch = CscBatch;
  static constexpr const char* kName = "Trainer";   // in error messages
  const CsrMatrix& data;
  Index rows() const { return data.n_rows; }
  Index cols() const { return data.n_cols; }
  void gather(Batch& b, const Index* rows, Index n, InputTransform tf) const { gather_batch(data, rows, n, tf, b); }
  void end_epoch() const {}
};

// The training loop shared by Trainer and CudaTrainer, over a batch Source (HostBatches or
// cuda::DeviceBatches): rows(), cols(), gather(batch, rows, n, transform), end_epoch().
template <class Model, class Source>
class TrainerCore {
 public:
  using B = typename Model::Backend;
  using T = typename Model::Scalar;

  TrainerCore(Model& model, TrainOptions opt)
      : model_(model), opt_(std::move(opt)), adam_((opt_.validate(), model.arena().layout().param_size), opt_.adam) {}

  Adam<B, T>& optimizer() { return adam_; }
  const TrainOptions& options() const { return opt_; }
  int epochs_done() const { return epochs_done_; }

 protected:
  // Trains on train_rows, validating on validation_rows (may be empty). data: the host matrix
  // (gene means, mixture re-initialisation); src: where the batches come from.
  TrainResult fit_from(const CsrMatrix& data, const Source& src, const std::vector<Index>& train_rows,
                       const std::vector<Index>& validation_rows) {
    SCVAE_CHECK(!train_rows.empty(), std::string(Source::kName) + ": no training cells");
    data.validate(std::string(Source::kName) + ": data");  // O(nnz), once: gathers trust it
    if constexpr (!kHasMixture)  // before training, not after E epochs
      SCVAE_CHECK(opt_.mixture_init_epochs == 0,
                  "scvae: TrainOptions.mixture_init_epochs is set but this model has no mixture");
    if (!opt_.checkpoint_dir.empty()) {  // a folder that cannot be made fails now, not after an epoch
      std::error_code ec;
      std::filesystem::create_directories(opt_.checkpoint_dir, ec);
      SCVAE_CHECK(!ec && std::filesystem::is_directory(opt_.checkpoint_dir),
                  "TrainOptions.checkpoint_dir: cannot create '" + opt_.checkpoint_dir + "'" +
                      (ec ? ": " + ec.message() : std::string()));
    }
    SCVAE_CHECK(opt_.batch_size <= model_.max_batch(),
                std::string(Source::kName) + ": batch_size exceeds the model's max_batch");
    check_rows(src, train_rows, "training");
    check_rows(src, validation_rows, "validation");
    const Index bs = std::min<Index>(opt_.batch_size, static_cast<Index>(train_rows.size()));
    batch_.reserve(bs, max_batch_nnz(data, bs));
    if (opt_.init_mean_bias && epochs_done_ == 0) model_.init_mean_bias(gene_means(data, train_rows));

    TrainResult res;
    Rng shuffle_rng(opt_.seed ^ 0x5348554646ULL), noise_rng(opt_.seed ^ 0x4e4f495345ULL);
    std::vector<Index> order(train_rows);
    int since_best = 0;
    const Index n_batches = (static_cast<Index>(order.size()) + bs - 1) / bs;
    for (int e = 0; e < opt_.epochs; ++e) {
      const int epoch0 = epochs_done_;
      EpochMetrics m;
      m.epoch = epoch0 + 1;
      m.kl_weight = opt_.kl_weight(epoch0);
      shuffle(order.begin(), order.end(), shuffle_rng);
      StepStats acc;
      const auto t0 = std::chrono::steady_clock::now();
      for (Index b = 0; b < n_batches; ++b) {
        if (opt_.should_stop && opt_.should_stop()) {
          res.interrupted = true;
          return res;
        }
        const Index start = b * bs, n = std::min<Index>(bs, static_cast<Index>(order.size()) - start);
        src.gather(batch_, order.data() + start, n, model_.config().input_transform);
        // (forward_backward writes every gradient: no zero_grads pass.)
        const StepStats s = model_.forward_backward(batch_.input_view(), batch_.counts_view(), T(m.kl_weight), noise_rng);
        const double grad_norm = adam_.gradient_norm(model_.arena());  // non-finite iff a gradient is
        if (!std::isfinite(s.loss) || !std::isfinite(grad_norm)) diverged(m.epoch, b, s);
        m.grad_norm = adam_.step(model_.arena(), grad_norm);
        acc += s;
        if (opt_.on_batch) {
          BatchProgress p;
          p.epoch = m.epoch;
          p.epochs = epoch0 - e + opt_.epochs;  // the last epoch of this fit()
          p.batch = b + 1;
          p.batches = n_batches;
          p.running_elbo = acc.elbo / double(acc.n);
          p.seconds = seconds_since(t0);
          opt_.on_batch(p);
        }
      }
      src.end_epoch();
      m.seconds = seconds_since(t0);
      m.train = mean_of(acc);
      if (!B::template all_finite<T>(VectorView<const T>(model_.arena().all_params())))
        diverged(m.epoch, n_batches - 1, acc, true);
      if (!validation_rows.empty()) {
        m.validation = evaluate_from(src, validation_rows, opt_.seed + 7919 * static_cast<std::uint64_t>(m.epoch));
        m.has_validation = true;
      }
      ++epochs_done_;
      res.history.push_back(m);
      if (opt_.mixture_init_epochs > 0 && epochs_done_ == opt_.mixture_init_epochs) reinit_mixture(src, train_rows);
      const double score = m.has_validation ? m.validation.elbo : m.train.elbo;
      const bool best = score > res.best_validation_elbo;
      if (best) {
        res.best_validation_elbo = score;
        res.best_epoch = m.epoch;
        since_best = 0;
      } else {
        ++since_best;
      }
      if (!opt_.checkpoint_dir.empty()) {
        const std::string meta = "epoch=" + std::to_string(m.epoch) + "\nelbo=" + std::to_string(score) + "\n";
        save_checkpoint(opt_.checkpoint_dir + "/last.ckpt", model_, &adam_, meta);
        if (best) save_checkpoint(opt_.checkpoint_dir + "/best.ckpt", model_, &adam_, meta);
      }
      if (opt_.on_epoch) opt_.on_epoch(m);
      if (opt_.early_stopping_patience > 0 && since_best >= opt_.early_stopping_patience) {
        res.stopped_early = true;
        break;
      }
    }
    return res;
  }

  // Mean ELBO, log-likelihood and KL per cell over `rows`, in evaluation mode, one draw of z per
  // cell from a generator seeded with `seed` (so repeated evaluations agree).
  SplitMetrics evaluate_from(const Source& src, const std::vector<Index>& rows, std::uint64_t seed) {
    check_rows(src, rows, "evaluation");
    const Index bs = model_.max_batch();
    typename Source::Batch batch;
    Rng rng(seed);
    StepStats acc;
    for (std::size_t start = 0; start < rows.size(); start += static_cast<std::size_t>(bs)) {
      const Index n = std::min<Index>(bs, static_cast<Index>(rows.size() - start));
      src.gather(batch, rows.data() + start, n, model_.config().input_transform);
      acc += model_.evaluate(batch.input_view(), batch.counts_view(), rng);
    }
    return mean_of(acc);
  }

 private:
  using GatherInput = CscView<float> (*)(const Index*, Index);
  template <class M>
  static auto has_mixture_init(int)
      -> decltype(std::declval<M&>().init_mixture(std::declval<const std::vector<Index>&>(), 0, GatherInput{}),
                  std::true_type{});
  template <class M>
  static std::false_type has_mixture_init(...);

  static constexpr bool kHasMixture = decltype(has_mixture_init<Model>(0))::value;

  // Between epochs: the training batch's buffers are free, so the gathers reuse them (on the
  // device for CudaTrainer: nothing but the latent means crosses PCIe). Models without a mixture
  // never get here: fit_from refuses mixture_init_epochs for them before training.
  void reinit_mixture(const Source& src, const std::vector<Index>& rows) {
    if constexpr (kHasMixture) {
      const InputTransform tf = model_.config().input_transform;
      model_.init_mixture(rows, opt_.seed ^ 0x4b4d45414e53ULL, [&](const Index* r, Index n) {
        src.gather(batch_, r, n, tf);
        return batch_.input_view();
      });
      adam_.reset();
    }
  }
  static SplitMetrics mean_of(const StepStats& s) {
    SplitMetrics m;
    m.cells = s.n;
    if (s.n > 0) {
      m.elbo = s.elbo / double(s.n);
      m.log_likelihood = s.log_likelihood / double(s.n);
      m.kl = s.kl / double(s.n);
    }
    return m;
  }
  static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  void check_rows(const Source& src, const std::vector<Index>& rows, const char* what) const {
    SCVAE_CHECK(src.cols() == model_.config().genes,
                std::string(Source::kName) + ": data has " + std::to_string(src.cols()) + " genes, the model " +
                    std::to_string(model_.config().genes));
    for (Index r : rows)
      SCVAE_CHECK(r >= 0 && r < src.rows(), std::string(Source::kName) + ": " + what + " row index out of range");
  }
  static std::vector<double> gene_means(const CsrMatrix& data, const std::vector<Index>& rows) {
    std::vector<double> mean(static_cast<std::size_t>(data.n_cols), 0.0);
    for (Index r : rows)
      for (auto k = data.indptr[r]; k < data.indptr[r + 1]; ++k) mean[data.indices[k]] += data.values[k];
    for (auto& v : mean) v /= double(rows.size());
    return mean;
  }
  // params_bad: the end-of-epoch check found non-finite parameters (the steps' checks passed), so
  // the model in memory is not the last good state; the checkpoint is.
  [[noreturn]] void diverged(int epoch, Index batch, const StepStats& s, bool params_bad = false) const {
    std::ostringstream o;
    o << "scvae: training diverged at epoch " << epoch << ", batch " << batch + 1 << " (loss " << s.loss
      << ", ELBO sum " << s.elbo << (params_bad ? "): the parameters became non-finite; the model in memory is not usable"
                                              : ", non-finite loss or gradient); the parameters are those of the last good step");
    if (!opt_.checkpoint_dir.empty() && epochs_done_ > 0)
      o << " and " << opt_.checkpoint_dir << "/last.ckpt holds the last good epoch";
    o << ". Try a lower learning rate, stronger gradient clipping or a longer KL warm-up.";
    throw DivergenceError(o.str());
  }

  Model& model_;
  TrainOptions opt_;
  Adam<B, T> adam_;
  typename Source::Batch batch_;
  int epochs_done_ = 0;
};

// Trains a model on the host matrix (any backend whose views accept host batches: the CPU).
template <class Model>
class Trainer : public TrainerCore<Model, HostBatches> {
 public:
  using TrainerCore<Model, HostBatches>::TrainerCore;

  // Trains on data's train_rows, validating on validation_rows (may be empty).
  TrainResult fit(const CsrMatrix& data, const std::vector<Index>& train_rows,
                  const std::vector<Index>& validation_rows = {}) {
    return this->fit_from(data, HostBatches{data}, train_rows, validation_rows);
  }
  // Mean ELBO, log-likelihood and KL per cell over `rows`, in evaluation mode, one draw of z per
  // cell from a generator seeded with `seed` (so repeated evaluations agree).
  SplitMetrics evaluate(const CsrMatrix& data, const std::vector<Index>& rows, std::uint64_t seed) {
    data.validate("Trainer.evaluate: data");
    SCVAE_CHECK(!rows.empty(), "Trainer.evaluate: no rows to evaluate");  // (metrics of nothing are NaN)
    return this->evaluate_from(HostBatches{data}, rows, seed);
  }
};

}  // namespace scvae
