#pragma once
// Everything that touches the models, behind plain functions: the one translation unit that
// instantiates Vae and Gmvae (they are heavy templates; the other files compile quickly).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <scvae/models/gmvae.hpp>
#include <scvae/models/vae.hpp>
#include <scvae/train/trainer.hpp>

#include "common.hpp"
#include "dataset.hpp"

namespace scvae_cli {

struct ModelSpec {
  std::string kind = "gmvae";            // vae | gmvae
  std::string likelihood = "zinb";       // poisson | nb | zip | zinb
  std::string dispersion = "gene-cell";  // gene | gene-cell
  std::string mean = "free";             // free | library (scVI: library x softmax over genes)
  double dropout = 0;                    // dropout rate after each hidden layer, in [0, 1)
  bool dropout_encoder_only = false;     // no dropout in the decoder (scvi-tools' SCVI)
  bool batch_norm_scale = false;         // BatchNorm with a learned scale (scvi-tools); scVAE centres only
  std::vector<long> hidden{250, 250};
  long latent = 25;
  long components = 10;                  // GMVAE only

  void validate() const;  // throws UsageError naming the flag
  std::string describe() const;  // "gmvae zinb hidden 250,250 latent 25 K 10"
};

struct FitSettings {
  int epochs = 200;
  long batch_size = 100;
  double learning_rate = 1e-4;
  double weight_decay = 0;
  double clip = 1;          // element-wise gradient clipping; 0 = off
  double adam_eps = 1e-8;   // Adam's epsilon (torch's and scVAE's default; scvi-tools uses 0.01)
  int kl_warmup = 0;        // epochs
  int mixture_init = 0;     // GMVAE: re-initialise the mixture from k-means after this many epochs; 0 = off
  int early_stopping = 0;   // stop after this many epochs without a better validation ELBO; 0 = off
  std::uint64_t seed = 0;
  std::string checkpoint_dir;  // "" = no checkpoints (grid search)
  std::string device = "cpu";  // cpu | cuda (builds with the CUDA backend: model_runner_cuda.cu)

  void validate() const;
};

struct FitResult {
  std::vector<scvae::EpochMetrics> history;
  int best_epoch = 0;
  bool interrupted = false;
  bool stopped_early = false;  // --early-stopping ended the run before --epochs
  double seconds = 0;
};

// Called after every epoch (after the checkpoints are written); best = new best validation ELBO.
using EpochCallback = std::function<void(const scvae::EpochMetrics&, bool best)>;

// Trains a fresh model on data.split.train, validating on data.split.validation, on fit.device.
// Throws scvae::DivergenceError (last.ckpt keeps the last good epoch) and polls interrupted().
// Checkpoints are the same on either device, so evaluation always runs on the CPU.
// Callers run check_fits_in_memory first, before writing anything (train, grid-search).
FitResult fit_model(const ModelSpec& spec, const FitSettings& fit, const Dataset& data, const EpochCallback& on_epoch,
                    Progress* progress);

// The model configurations a ModelSpec describes, for `genes` genes.
scvae::VaeConfig vae_config(const ModelSpec& spec, scvae::Index genes);
scvae::GmvaeConfig gmvae_config(const ModelSpec& spec, scvae::Index genes);

// The Trainer / CudaTrainer options of a fit: optimiser, schedule, checkpoints, interruption,
// and the progress / epoch callbacks. mixture: the model is a GMVAE.
scvae::TrainOptions make_train_options(const FitSettings& fit, bool mixture, const EpochCallback& on_epoch,
                                       Progress* progress);
// Converts a trainer's result.
FitResult make_fit_result(const scvae::TrainResult& r, double seconds, Progress* progress);

// UsageError when training this model on counts would need more memory than the machine has, or
// on --device cuda the GPU (a rough estimate, naming the options to lower), before anything is
// allocated.
void check_fits_in_memory(const ModelSpec& spec, const FitSettings& fit, const scvae::CsrMatrix& counts);

// Refuses a fit the device cannot run (no usable GPU), before any output exists.
void check_device(const ModelSpec& spec, const FitSettings& fit);

#ifdef SCVAE_CLI_HAS_CUDA
void require_cuda_device();  // UsageError naming why no GPU can be used
double cuda_device_memory_bytes();  // the current GPU's memory in bytes; 0 where it cannot be asked
// fit_model on the GPU (model_runner_cuda.cu): CudaBackend models, the data uploaded once.
FitResult fit_model_cuda(const ModelSpec& spec, const FitSettings& fit, const Dataset& data,
                         const EpochCallback& on_epoch, Progress* progress);
#endif

struct Analysis {
  std::string kind;
  // Metrics over metric_rows (per cell means).
  double elbo = 0, log_likelihood = 0, kl = 0, marginal_log_likelihood = 0;
  long n_cells = 0;
  int importance_samples = 0;
  double ari = NAN, nmi = NAN;
  std::string cluster_method;  // "gmvae_argmax", "kmeans_latent" or "" (no clusters)
  long n_clusters = 0;
  // Per cell of cell_rows.
  long latent_dim = 0;
  std::vector<double> latent;             // [latent_dim x cells] latent means
  std::vector<int> clusters;              // [cells] or empty
  std::vector<double> max_responsibility; // [cells] GMVAE only
  // Per gene, over metric_rows: observed and model mean / variance of the counts.
  std::vector<double> observed_mean, observed_variance, reconstructed_mean, reconstructed_variance;
};

// Reads the model kind from the checkpoint, loads it and analyses it. The metrics are computed on
// metric_rows (the test set), latents / clusters on cell_rows (e.g. all cells).
Analysis analyse_checkpoint(const std::string& checkpoint, const Dataset& data, const std::vector<scvae::Index>& metric_rows,
                            const std::vector<scvae::Index>& cell_rows, int importance_samples, std::uint64_t seed,
                            long max_batch);

// Sets the CPU thread count (0 = leave OpenMP's default: all cores).
constexpr int kMaxThreads = 1024;
void check_threads(int n);  // UsageError unless 0 <= n <= kMaxThreads
void set_threads(int n);

}  // namespace scvae_cli
