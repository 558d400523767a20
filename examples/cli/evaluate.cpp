// scvae evaluate: test-set metrics of a trained model. The model kind comes from the checkpoint;
// the data and its split from the run's config.txt (beside the checkpoint) unless --input is given.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>

#include <CLI/CLI.hpp>

#include <scvae/core/error.hpp>

#include "commands.hpp"
#include "options.hpp"
#include "report.hpp"

namespace scvae_cli {

namespace {

struct EvaluateArgs {
  std::string checkpoint, input, labels, out;
  static constexpr long kAsRecorded = std::numeric_limits<long>::min();
  long top_genes = kAsRecorded;  // as recorded (0 without a record)
  long min_counts = kAsRecorded;
  int importance_samples = 100;
  long batch_size = 100;
  int threads = 0;
  bool all_cells = false, overwrite = false;
  DataSpec reader;  // only the reader fields; "" = as recorded (or the default with --input)
};

int run_evaluate(EvaluateArgs& a) {
  if (a.importance_samples < 0) throw UsageError("--importance-samples: must be >= 0");
  if (a.batch_size <= 0) throw UsageError("--batch-size: must be positive");
  check_threads(a.threads);
  std::error_code ec;
  if (std::filesystem::is_directory(a.checkpoint, ec))
    throw scvae::InputError("--checkpoint: '" + a.checkpoint + "' is a folder; give the checkpoint file in it (" +
                            join_path(a.checkpoint, "best.ckpt") + " or last.ckpt)");
  if (!std::filesystem::is_regular_file(a.checkpoint, ec))
    throw scvae::InputError("--checkpoint: no such file '" + a.checkpoint + "'");
  const std::string record = join_path(std::filesystem::path(a.checkpoint).parent_path().string(), "config.txt");
  const bool has_record = std::filesystem::is_regular_file(record, ec);

  DataSpec spec;
  std::uint64_t seed = 0;
  if (has_record) {
    const RunRecord r = read_run_record(record);
    spec = DataSpec::read(r, record);
    seed = spec.split_seed;
  } else if (a.input.empty()) {
    throw UsageError("--input: no config.txt beside '" + a.checkpoint +
                     "' to say which data the model was trained on; pass --input (and --labels)");
  }
  if (!a.input.empty()) {
    spec.input = a.input;
    if (a.labels.empty()) spec.labels.clear();  // the recorded labels belong to the recorded input
    spec.clear_reader_options();                 // and so do the recorded reader options
  }
  for (const auto& f : kReaderFields)
    if (!(a.reader.*f.member).empty()) spec.*f.member = a.reader.*f.member;
  (void)reader_options(spec);  // an option the input's format lacks, before --out is touched
  if (!a.labels.empty()) spec.labels = a.labels;
  if (a.top_genes != EvaluateArgs::kAsRecorded) spec.top_genes = a.top_genes;
  if (a.min_counts != EvaluateArgs::kAsRecorded) spec.min_counts = a.min_counts;

  std::vector<std::string> ours = report_file_names();
  ours.erase(std::remove(ours.begin(), ours.end(), "metrics.csv"), ours.end());
  for (const char* curve : {"learning_curve_elbo.svg", "learning_curve_log_likelihood.svg", "learning_curve_kl.svg"})
    ours.erase(std::remove(ours.begin(), ours.end(), curve), ours.end());
  prepare_out_dir(a.out, ours, a.overwrite);
  set_threads(a.threads);

  const Dataset data = load_dataset(spec, true);
  std::vector<scvae::Index> rows;
  std::string which;
  if (a.all_cells) {
    for (scvae::Index i = 0; i < data.counts.n_rows; ++i) rows.push_back(i);
    which = "all cells";
  } else {
    rows = data.split.test;
    which = "test cells";
    if (rows.empty()) throw UsageError("the split has no test cells; pass --all-cells to evaluate on every cell");
  }
  std::fprintf(stderr, "scvae evaluate: %s on %zu %s of %s\n", a.checkpoint.c_str(), rows.size(), which.c_str(),
               data.description.c_str());
  const Analysis an = analyse_checkpoint(a.checkpoint, data, rows, rows, a.importance_samples, seed, a.batch_size);
  write_test_metrics(join_path(a.out, "test_metrics.json"), an,
                     {{"checkpoint", std::filesystem::absolute(a.checkpoint).string()}, {"cells", which}});
  write_cell_outputs(a.out, an, data, rows);
  write_reconstruction(a.out, an, data, which);
  std::printf("%s: ELBO %.3f  log-likelihood %.3f  KL %.3f  marginal log-likelihood %.3f (%d samples)\n", which.c_str(),
              an.elbo, an.log_likelihood, an.kl, an.marginal_log_likelihood, an.importance_samples);
  if (!std::isnan(an.ari)) std::printf("clustering (%s) vs labels: ARI %.4f  NMI %.4f\n", an.cluster_method.c_str(), an.ari, an.nmi);
  std::printf("results in %s/\n", a.out.c_str());
  return kExitOk;
}

}  // namespace

Command add_evaluate_command(CLI::App& root) {
  auto a = std::make_shared<EvaluateArgs>();
  CLI::App* app = root.add_subcommand("evaluate", "Test-set metrics, latent values and clusters of a trained model");
  app->add_option("--checkpoint", a->checkpoint, "Checkpoint written by train (best.ckpt or last.ckpt)")->required();
  app->add_option("--input", a->input,
                  "Count matrix to evaluate on (default: the training data recorded in config.txt beside the checkpoint)");
  add_reader_flags(app, a->reader);
  app->add_option("--labels", a->labels, "Cell labels FILE[:COLUMN] (default: as recorded, when --input is not given)");
  app->add_option("--top-genes", a->top_genes, "Gene selection (default: as recorded)");
  app->add_option("--min-counts", a->min_counts, "Cell filter: fewest counts a cell needs (default: as recorded)");
  app->add_option("--importance-samples", a->importance_samples,
                  "Importance samples R for the marginal log-likelihood (0 = skip)")
      ->capture_default_str();
  app->add_option("--batch-size", a->batch_size, "Cells per evaluation batch")->capture_default_str();
  app->add_flag("--all-cells", a->all_cells, "Evaluate on every cell instead of the test split");
  app->add_option("--threads", a->threads, "CPU threads (0 = all cores)")->capture_default_str();
  app->add_flag("--overwrite", a->overwrite, "Replace the results of an earlier evaluation in --out");
  app->add_option("--out", a->out, "Output folder")->required();
  return {app, [a] { return run_evaluate(*a); }};
}

}  // namespace scvae_cli
