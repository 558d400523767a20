#pragma once
// Trainer for models on the CUDA backend, with the data resident on the device: the training
// matrix is uploaded once (cuda::DeviceCsr) and every minibatch is gathered on the device
// (cuda::DeviceBatch), so no batch crosses PCIe. Same options, same seeded shuffling and noise
// streams, same metrics, checkpoints, early stopping and divergence checks as Trainer
// (train/trainer.hpp), whose loop this mirrors; only the batch source differs.
// (Once Trainer takes a batch-source policy, this class reduces to Trainer<Model, DeviceBatcher>;
// see docs/cuda.md.)
#include <chrono>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "../backend/cuda.cuh"
#include "../backend/cuda/device_data.cuh"
#include "trainer.hpp"

namespace scvae {

template <class Model>
class CudaTrainer {
 public:
  using B = typename Model::Backend;
  using T = typename Model::Scalar;
  static_assert(std::is_same<B, CudaBackend>::value, "CudaTrainer trains models on the CUDA backend");

  CudaTrainer(Model& model, TrainOptions opt)
      : model_(model), opt_(std::move(opt)), adam_((opt_.validate(), model.arena().layout().param_size), opt_.adam) {}

  Adam<B, T>& optimizer() { return adam_; }
  const TrainOptions& options() const { return opt_; }
  int epochs_done() const { return epochs_done_; }

  // data: the host matrix (for gene means and checks); device: the same matrix on the device.
  TrainResult fit(const CsrMatrix& data, const cuda::DeviceCsr& device, const std::vector<Index>& train_rows,
                  const std::vector<Index>& validation_rows = {}) {
    SCVAE_CHECK(!train_rows.empty(), "CudaTrainer: no training cells");
    SCVAE_CHECK(opt_.batch_size <= model_.max_batch(), "CudaTrainer: batch_size exceeds the model's max_batch");
    SCVAE_CHECK(device.rows() == data.n_rows && device.cols() == data.n_cols && device.nnz() == data.nnz(),
                "CudaTrainer: the device matrix is not the host matrix");
    SCVAE_CHECK(opt_.mixture_init_epochs == 0, "CudaTrainer: mixture_init_epochs is not supported on the GPU yet");
    check_rows(data, train_rows, "training");
    check_rows(data, validation_rows, "validation");
    const Index bs = std::min<Index>(opt_.batch_size, static_cast<Index>(train_rows.size()));
    batch_.reserve(bs, max_batch_nnz(data, bs));
    if (opt_.init_mean_bias && epochs_done_ == 0) model_.init_mean_bias(gene_means(data, train_rows));

    TrainResult res;
    Rng shuffle_rng(opt_.seed ^ 0x5348554646ULL), noise_rng(opt_.seed ^ 0x4e4f495345ULL);  // as Trainer
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
        batch_.gather(device, order.data() + start, n, model_.config().input_transform);
        model_.arena().zero_grads();
        const StepStats s = model_.forward_backward(batch_.input_view(), batch_.counts_view(), T(m.kl_weight), noise_rng);
        const double grad_norm = adam_.gradient_norm(model_.arena());  // non-finite iff a gradient is
        if (!std::isfinite(s.loss) || !std::isfinite(grad_norm)) diverged(m.epoch, b, s);
        m.grad_norm = adam_.step(model_.arena(), grad_norm);
        acc += s;
        if (opt_.on_batch) {
          BatchProgress p;
          p.epoch = m.epoch;
          p.epochs = epoch0 - e + opt_.epochs;
          p.batch = b + 1;
          p.batches = n_batches;
          p.running_elbo = acc.elbo / double(acc.n);
          p.seconds = seconds_since(t0);
          opt_.on_batch(p);
        }
      }
      B::synchronize();
      m.seconds = seconds_since(t0);
      m.train = mean_of(acc);
      if (!B::template all_finite<T>(VectorView<const T>(model_.arena().all_params())))
        diverged(m.epoch, n_batches - 1, acc);
      if (!validation_rows.empty()) {
        m.validation = evaluate(device, validation_rows, opt_.seed + 7919 * static_cast<std::uint64_t>(m.epoch));
        m.has_validation = true;
      }
      ++epochs_done_;
      res.history.push_back(m);
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

  // Mean ELBO, log-likelihood and KL per cell over `rows` (evaluation mode, seeded noise).
  SplitMetrics evaluate(const cuda::DeviceCsr& device, const std::vector<Index>& rows, std::uint64_t seed) {
    for (Index r : rows) SCVAE_CHECK(r >= 0 && r < device.rows(), "CudaTrainer: evaluation row index out of range");
    const Index bs = model_.max_batch();
    cuda::DeviceBatch batch;
    Rng rng(seed);
    StepStats acc;
    for (std::size_t start = 0; start < rows.size(); start += static_cast<std::size_t>(bs)) {
      const Index n = std::min<Index>(bs, static_cast<Index>(rows.size() - start));
      batch.gather(device, rows.data() + start, n, model_.config().input_transform);
      acc += model_.evaluate(batch.input_view(), batch.counts_view(), rng);
    }
    return mean_of(acc);
  }

 private:
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
  void check_rows(const CsrMatrix& data, const std::vector<Index>& rows, const char* what) const {
    SCVAE_CHECK(data.n_cols == model_.config().genes,
                std::string("CudaTrainer: data has ") + std::to_string(data.n_cols) + " genes, the model " +
                    std::to_string(model_.config().genes));
    for (Index r : rows)
      SCVAE_CHECK(r >= 0 && r < data.n_rows, std::string("CudaTrainer: ") + what + " row index out of range");
  }
  static std::vector<double> gene_means(const CsrMatrix& data, const std::vector<Index>& rows) {
    std::vector<double> mean(static_cast<std::size_t>(data.n_cols), 0.0);
    for (Index r : rows)
      for (auto k = data.indptr[r]; k < data.indptr[r + 1]; ++k) mean[data.indices[k]] += data.values[k];
    for (auto& v : mean) v /= double(rows.size());
    return mean;
  }
  [[noreturn]] void diverged(int epoch, Index batch, const StepStats& s) const {
    std::ostringstream o;
    o << "scvae: training diverged at epoch " << epoch << ", batch " << batch + 1 << " (loss " << s.loss
      << ", ELBO sum " << s.elbo << ", non-finite loss or gradient); the parameters are those of the last good step";
    if (!opt_.checkpoint_dir.empty()) o << " and " << opt_.checkpoint_dir << "/last.ckpt holds the last good epoch";
    o << ". Try a lower learning rate, gradient clipping (clip_value) or a longer KL warm-up.";
    throw DivergenceError(o.str());
  }

  Model& model_;
  TrainOptions opt_;
  Adam<B, T> adam_;
  cuda::DeviceBatch batch_;
  int epochs_done_ = 0;
};

}  // namespace scvae
