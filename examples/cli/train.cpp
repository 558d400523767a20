// scvae train: trains a VAE or GMVAE, keeps best/last checkpoints, evaluates the best model on the
// test split and writes metrics, latent values, clusters, a reconstruction summary and plots.
#include <cmath>
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include <scvae/core/error.hpp>

#include "commands.hpp"
#include "options.hpp"
#include "report.hpp"

namespace scvae_cli {

namespace {

struct TrainArgs {
  TrainingFlags flags;
  int importance_samples = 100;
  bool quiet = false;
};

// Appends rows to metrics.csv as epochs finish, so an interrupted or diverged run keeps them.
class MetricsLog {
 public:
  explicit MetricsLog(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "w")) {
    if (!f_) throw scvae::Error("cannot create '" + path + "'");
    put(metrics_csv_header());
  }
  ~MetricsLog() {
    if (f_) std::fclose(f_);
  }
  void put(const std::string& s) {
    if (std::fputs(s.c_str(), f_) < 0 || std::fflush(f_) != 0) throw scvae::Error("cannot write '" + path_ + "'");
  }

 private:
  std::string path_;
  std::FILE* f_;
};

std::vector<std::string> train_outputs() {
  auto v = report_file_names();
  v.insert(v.end(), {"best.ckpt", "last.ckpt", "config.txt", "split.tsv"});
  return v;
}

void write_split(const std::string& path, const Dataset& d) {
  std::vector<const char*> which(static_cast<std::size_t>(d.counts.n_rows), "train");
  for (auto r : d.split.validation) which[r] = "validation";
  for (auto r : d.split.test) which[r] = "test";
  std::string s = "cell\tsplit\n";
  for (scvae::Index r = 0; r < d.counts.n_rows; ++r) s += d.counts.row_names[r] + "\t" + which[r] + "\n";
  write_text_file(path, s);
}

int run_train(TrainArgs& a) {
  TrainingFlags& f = a.flags;
  finish_training_flags(f, false);
  if (a.importance_samples < 0) throw UsageError("--importance-samples: must be >= 0");
  check_device(f.model, f.fit);
  prepare_out_dir(f.out, train_outputs(), f.overwrite);

  const double t_start = now_seconds();
  const Dataset data = load_dataset(f.data, true);
  check_fits_in_memory(f.model, f.fit, data.counts);
  std::fprintf(stderr, "scvae train: %s\n  split %zu / %zu / %zu cells (train / validation / test), seed %llu\n",
               data.description.c_str(), data.split.train.size(), data.split.validation.size(), data.split.test.size(),
               static_cast<unsigned long long>(f.fit.seed));
  if (data.split.validation.empty())
    std::fprintf(stderr, "  no validation cells%s: the best checkpoint is the one with the best training ELBO\n",
                 f.data.split[1] > 0 ? " (the validation fraction rounds to 0 cells)" : "");
  std::fprintf(stderr, "  model %s\n  %d epochs, batch %ld, learning rate %g, KL warm-up %d, clip %g, weight decay %g",
               f.model.describe().c_str(), f.fit.epochs, f.fit.batch_size, f.fit.learning_rate, f.fit.kl_warmup,
               f.fit.clip, f.fit.weight_decay);
  if (f.fit.mixture_init > 0) std::fprintf(stderr, ", mixture re-initialised after epoch %d", f.fit.mixture_init);
  if (f.fit.early_stopping > 0)
    std::fprintf(stderr, ", early stopping after %d epoch(s) without a better ELBO", f.fit.early_stopping);
  if (f.fit.adam_eps != 1e-8) std::fprintf(stderr, ", Adam eps %g", f.fit.adam_eps);
  std::fprintf(stderr, "%s\n", f.data.builtin() ? " (built-in data defaults, docs/cli.md)" : "");

  RunRecord rec;
  f.data.write(rec);
  rec["model"] = f.model.kind;
  rec["likelihood"] = f.model.likelihood;
  rec["dispersion"] = f.model.dispersion;
  rec["mean"] = f.model.mean;
  rec["dropout"] = format_number(f.model.dropout, 17);
  rec["batch_norm_scale"] = f.model.batch_norm_scale ? "1" : "0";
  rec["dropout_encoder_only"] = f.model.dropout_encoder_only ? "1" : "0";
  rec["adam_eps"] = format_number(f.fit.adam_eps, 17);
  rec["hidden"] = f.hidden_text;
  rec["latent"] = std::to_string(f.model.latent);
  rec["components"] = std::to_string(f.model.components);
  rec["epochs"] = std::to_string(f.fit.epochs);
  rec["batch_size"] = std::to_string(f.fit.batch_size);
  rec["learning_rate"] = format_number(f.fit.learning_rate, 17);
  rec["weight_decay"] = format_number(f.fit.weight_decay, 17);
  rec["clip"] = format_number(f.fit.clip, 17);
  rec["kl_warmup"] = std::to_string(f.fit.kl_warmup);
  rec["mixture_init"] = std::to_string(f.fit.mixture_init);
  rec["seed"] = std::to_string(f.fit.seed);
  rec["importance_samples"] = std::to_string(a.importance_samples);
  rec["cells"] = std::to_string(data.counts.n_rows);
  rec["genes"] = std::to_string(data.counts.n_cols);
  write_run_record(join_path(f.out, "config.txt"), rec);
  write_split(join_path(f.out, "split.tsv"), data);

  f.fit.checkpoint_dir = f.out;
  MetricsLog log(join_path(f.out, "metrics.csv"));
  std::vector<scvae::EpochMetrics> history;
  Progress progress(f.fit.epochs, a.quiet);
  install_interrupt_handler();
  FitResult fit;
  try {
    fit = fit_model(f.model, f.fit, data,
                    [&](const scvae::EpochMetrics& m, bool) {
                      history.push_back(m);
                      log.put(metrics_csv_rows(m));
                    },
                    &progress);
  } catch (const scvae::DivergenceError& e) {
    progress.finish();
    if (!history.empty()) write_learning_curves(f.out, history);
    std::fprintf(stderr, "scvae train: error: %s\n", strip_prefix(e.what()).c_str());
    std::fprintf(stderr, "scvae train: %s\n",
                 history.empty() ? "no epoch completed, so no checkpoint was written"
                                 : ("kept " + join_path(f.out, "last.ckpt") + " (epoch " +
                                    std::to_string(history.back().epoch) + ") and best.ckpt")
                                       .c_str());
    return kExitDiverged;
  }
  if (!history.empty()) write_learning_curves(f.out, history);
  if (fit.interrupted) {
    std::fprintf(stderr, "scvae train: interrupted (Ctrl-C) after %zu completed epoch(s); %s\n", history.size(),
                 history.empty() ? "no checkpoint was written"
                                 : ("last.ckpt holds epoch " + std::to_string(history.back().epoch) +
                                    ", best.ckpt epoch " + std::to_string(fit.best_epoch) + ", metrics.csv the curves")
                                       .c_str());
    return kExitInterrupted;
  }
  if (fit.stopped_early)
    std::fprintf(stderr, "scvae train: stopped early after epoch %d: no better %s ELBO for %d epoch(s); best epoch %d\n",
                 history.back().epoch, data.split.validation.empty() ? "training" : "validation", f.fit.early_stopping,
                 fit.best_epoch);

  // Evaluate the best checkpoint on the test cells (validation, then training cells if the split
  // has no test cells); latents and clusters for every cell.
  const std::vector<scvae::Index>* metric_rows = &data.split.test;
  std::string which = "test cells";
  if (metric_rows->empty()) {
    metric_rows = data.split.validation.empty() ? &data.split.train : &data.split.validation;
    which = data.split.validation.empty() ? "training cells (no test split)" : "validation cells (no test split)";
    std::fprintf(stderr, "scvae train: no test cells; test_metrics.json describes the %s\n", which.c_str());
  }
  const auto all = [&] {
    std::vector<scvae::Index> r(static_cast<std::size_t>(data.counts.n_rows));
    for (scvae::Index i = 0; i < data.counts.n_rows; ++i) r[i] = i;
    return r;
  }();
  std::fprintf(stderr, "scvae train: evaluating best.ckpt (epoch %d) on %zu %s%s\n", fit.best_epoch, metric_rows->size(),
               which.c_str(),
               a.importance_samples > 0 ? (", " + std::to_string(a.importance_samples) + " importance samples").c_str()
                                        : "");
  const Analysis an = analyse_checkpoint(join_path(f.out, "best.ckpt"), data, *metric_rows, all, a.importance_samples,
                                         f.fit.seed, f.fit.batch_size);
  write_test_metrics(join_path(f.out, "test_metrics.json"), an,
                     {{"checkpoint", "best.ckpt"}, {"cells", which}, {"best_epoch", std::to_string(fit.best_epoch)}});
  write_cell_outputs(f.out, an, data, all);
  write_reconstruction(f.out, an, data, which);

  std::printf("test ELBO %.3f  log-likelihood %.3f  KL %.3f  marginal log-likelihood %.3f (%d samples)\n", an.elbo,
              an.log_likelihood, an.kl, an.marginal_log_likelihood, an.importance_samples);
  if (!std::isnan(an.ari)) std::printf("clustering (%s) vs labels: ARI %.4f  NMI %.4f\n", an.cluster_method.c_str(), an.ari, an.nmi);
  std::printf("best epoch %d of %zu; %.1f s in all; results in %s/\n", fit.best_epoch, history.size(),
              now_seconds() - t_start, f.out.c_str());
  return kExitOk;
}

}  // namespace

Command add_train_command(CLI::App& root) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* app = root.add_subcommand("train", "Train a VAE or GMVAE on a count matrix and evaluate it on the test split");
  add_training_flags(app, args->flags, false);
  app->add_option("--importance-samples", args->importance_samples,
                  "Importance samples R for the test marginal log-likelihood (0 = skip)")
      ->capture_default_str();
  app->add_flag("--quiet", args->quiet, "No per-epoch progress output");
  return {app, [args] { return run_train(*args); }};
}

}  // namespace scvae_cli
