#include "options.hpp"

#include <CLI/CLI.hpp>

#include "commands.hpp"

namespace scvae_cli {

CLI::Validator non_negative_integer() {
  return CLI::Validator(
      [](std::string& v) { return !v.empty() && v[0] == '-' ? std::string("must be a non-negative integer") : std::string(); },
      "UINT");
}

void add_reader_flags(CLI::App* app, DataSpec& d) {
  app->add_option("--matrix", d.matrix,
                  "Which matrix of the file: .h5ad: X, layers/NAME or raw/X (default layers/counts when present, else "
                  "X); .loom: a layer name such as spliced (default the main matrix)");
  app->add_option("--genome", d.genome, "10x v2 .h5 or .tar[.gz] with several genomes: the one to read");
  app->add_option("--gene-names", d.gene_names, "10x and .loom gene names: id, symbol or auto (default: ids when unique)")
      ->check(CLI::IsMember({"auto", "id", "symbol"}));
  app->add_option("--feature-type", d.feature_type,
                  "10x v3 (folder, archive, .h5): keep only features of this type, e.g. \"Gene Expression\" (default: all)");
  app->add_option("--orientation", d.orientation,
                  ".mtx and dense tables: genes-by-cells (default, as 10x and R) or cells-by-genes")
      ->check(CLI::IsMember({"genes-by-cells", "cells-by-genes"}));
}

void add_training_flags(CLI::App* app, TrainingFlags& f, bool grid_search) {
  app->add_option("--input", f.data.input,
                  "Count matrix: a 10x MTX folder or a .tar[.gz]/.tgz of one, .mtx[.gz], 10x .h5, .h5ad, .loom or a dense "
                  ".tsv/.csv[.gz] (format from the path). Without it: the built-in simulated data set (2,000 cells x "
                  "500 genes, 5 cell types).");
  add_reader_flags(app, f.data);
  app->add_option("--labels", f.data.labels,
                  "Cell labels FILE[:COLUMN] (TSV/CSV with a header; cell name in the first field; COLUMN is a header "
                  "name or 0-based index, default 1; or an .h5ad obs / .loom col_attrs column, e.g. data.h5ad:cell_type). "
                  "Enables ARI/NMI.");
  app->add_option("--model", f.model.kind, "Model: vae or gmvae")
      ->check(CLI::IsMember({"vae", "gmvae"}))
      ->capture_default_str();
  if (!grid_search) {
    app->add_option("--likelihood", f.model.likelihood, "Count likelihood: poisson, nb, zip or zinb")
        ->check(CLI::IsMember({"poisson", "nb", "zip", "zinb"}))
        ->capture_default_str();
    f.hidden = app->add_option("--hidden", f.hidden_text,
                               "Encoder hidden sizes, comma-separated; the decoder mirrors them (default 250,250; 64 "
                               "on the built-in data)");
    f.latent = app->add_option("--latent", f.model.latent, "Latent size (default 25; 8 on the built-in data)");
  }
  app->add_option("--dispersion", f.model.dispersion, "NB/ZINB dispersion: gene-cell (scVAE) or gene (scVI)")
      ->check(CLI::IsMember({"gene", "gene-cell"}))
      ->capture_default_str();
  app->add_option("--mean", f.model.mean,
                  "Decoder mean: free (scVAE: exp of its own head) or library (scVI: the cell's total count x softmax "
                  "over genes; with poisson, scVAE's constrained Poisson)")
      ->check(CLI::IsMember({"free", "library"}))
      ->capture_default_str();
  app->add_option("--dropout", f.model.dropout,
                  "Dropout rate after each hidden layer of the encoder and decoder, as scVAE's option (0 = off)")
      ->capture_default_str();
  app->add_flag("--dropout-encoder-only", f.model.dropout_encoder_only,
                "--dropout in the encoders only, not the decoder (scvi-tools' SCVI)");
  app->add_flag("--batch-norm-scale", f.model.batch_norm_scale,
                "BatchNorm layers learn a scale too (scvi-tools' BatchNorm1d); scVAE's only centre");
  f.components = app->add_option("--components", f.model.components,
                                 "GMVAE mixture components K (default 10; 5 on the built-in data)");
  f.epochs = app->add_option("--epochs", f.fit.epochs,
                             grid_search ? "Epochs per grid point" : "Epochs (default 200; 30 on the built-in data)");
  app->add_option("--batch-size", f.fit.batch_size, "Minibatch size")->capture_default_str();
  f.learning_rate = app->add_option("--learning-rate", f.fit.learning_rate,
                                    "Adam learning rate (default 1e-4 as scVAE; 1e-2 on the built-in data)");
  app->add_option("--weight-decay", f.fit.weight_decay, "L2 weight decay")->capture_default_str();
  app->add_option("--clip", f.fit.clip, "Element-wise gradient clipping to [-C, C]; 0 = off")->capture_default_str();
  app->add_option("--adam-eps", f.fit.adam_eps, "Adam's epsilon (scvi-tools uses 0.01)")->capture_default_str();
  f.kl_warmup = app->add_option("--kl-warmup", f.fit.kl_warmup,
                                "KL warm-up epochs: weight min(epoch / W, 1) (default 0; 10 on the built-in data)");
  f.mixture_init = app->add_option(
      "--mixture-init", f.fit.mixture_init,
      "GMVAE: after this many epochs re-initialise the mixture from k-means on the latent means (default 0 = off; 15 "
      "on the built-in data)");
  app->add_option("--early-stopping", f.fit.early_stopping,
                  "Stop after this many epochs without a better validation ELBO (best.ckpt keeps the best); 0 = "
                  "train all --epochs, as scVAE")
      ->capture_default_str();
  app->add_option("--split", f.split_text, "Train, validation, test fractions")->capture_default_str();
  app->add_option("--top-genes", f.data.top_genes, "Keep the N most variable genes (0 = all expressed genes)")
      ->capture_default_str();
  app->add_option("--min-counts", f.data.min_counts,
                  "Drop cells with fewer than N counts in total before gene selection and the split (1 drops empty "
                  "droplets)")
      ->capture_default_str();
  app->add_option("--seed", f.fit.seed, "Seed of the split, initialisation and training")
      ->check(non_negative_integer())
      ->capture_default_str();
  app->add_option("--threads", f.threads, "CPU threads (0 = all cores)")->capture_default_str();
  app->add_option("--device", f.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  app->add_flag("--overwrite", f.overwrite, "Replace the results of an earlier run in --out");
  app->add_option("--out", f.out, "Output folder")->required();
}

void finish_training_flags(TrainingFlags& f, bool grid_search) {
#ifndef SCVAE_CLI_HAS_CUDA
  if (f.device == "cuda")
    throw UsageError("--device cuda: this build has no CUDA backend; rebuild with SCVAE_ENABLE_CUDA=ON on a machine with nvcc");
#endif
  f.fit.device = f.device;
  check_threads(f.threads);
  f.data.split = parse_double_list(f.split_text, "--split");
  f.data.split_seed = f.fit.seed;
  (void)reader_options(f.data);  // an option the input's format lacks, before --out is touched
  if (f.data.builtin()) {
    // Built-in demo data: scVAE's learning rate 1e-4 needs hundreds of epochs; 1e-2 with a short
    // KL warm-up separates the 5 simulated types in ~25 epochs (docs/cli.md).
    if (f.learning_rate->count() == 0) f.fit.learning_rate = kBuiltinLearningRate;
    if (f.kl_warmup->count() == 0 && !grid_search) f.fit.kl_warmup = kBuiltinKlWarmup;
    if (f.epochs->count() == 0 && !grid_search) f.fit.epochs = kBuiltinEpochs;
    if (f.components->count() == 0) f.model.components = kBuiltinComponents;
    if (f.mixture_init->count() == 0 && !grid_search) f.fit.mixture_init = kBuiltinMixtureInit;
    if (!grid_search && f.hidden->count() == 0) f.hidden_text = kBuiltinHidden;
    if (!grid_search && f.latent->count() == 0) f.model.latent = kBuiltinLatent;
  }
  if (!grid_search) {
    const auto h = parse_int_list(f.hidden_text, "--hidden");
    f.model.hidden.assign(h.begin(), h.end());
  }
  if (grid_search && f.epochs->count() == 0) f.fit.epochs = 1;
  if (f.model.kind != "gmvae" && f.mixture_init->count() > 0)
    throw UsageError("--mixture-init: only for --model gmvae");
  if (f.model.kind != "gmvae") f.fit.mixture_init = 0;
  if (f.fit.mixture_init >= f.fit.epochs) f.fit.mixture_init = 0;  // would never happen: say so in the summary
  if (f.fit.epochs < 1) throw UsageError("--epochs: must be at least 1");
  f.model.validate();
  f.fit.validate();
  set_threads(f.threads);
}

}  // namespace scvae_cli
