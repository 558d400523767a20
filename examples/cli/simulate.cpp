// scvae simulate: realistic simulated counts as a 10x v3 MTX folder plus labels.tsv.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include <scvae/data/mtx_writer.hpp>
#include <scvae/data/simulate.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "options.hpp"

namespace scvae_cli {

namespace {

struct SimulateArgs {
  long cells = 2000, genes = 500, clusters = 5;
  std::uint64_t seed = 0;
  std::string like, out;
  bool overwrite = false;
  CLI::Option *cells_opt = nullptr, *genes_opt = nullptr, *clusters_opt = nullptr;
};

int run_simulate(SimulateArgs& a) {
  scvae::SimulationOptions o = scvae::SimulationOptions::small_test(a.seed);
  if (a.like == "mbc20k") o = scvae::SimulationOptions::like_mbc20k(a.seed);
  if (a.like.empty() || a.cells_opt->count()) o.cells = a.cells;
  if (a.like.empty() || a.genes_opt->count()) o.genes = a.genes;
  if (a.like.empty() || a.clusters_opt->count()) o.clusters = a.clusters;
  if (o.cells < 1) throw UsageError("--cells: must be positive");
  if (o.genes < 1) throw UsageError("--genes: must be positive");
  if (o.clusters < 1 || o.clusters > o.cells) throw UsageError("--clusters: must be in [1, cells]");
  prepare_out_dir(a.out, {"matrix.mtx.gz", "features.tsv.gz", "barcodes.tsv.gz", "labels.tsv"}, a.overwrite);
  const double t0 = now_seconds();
  const auto sim = scvae::simulate_counts(o);
  scvae::write_10x_mtx_dir(a.out, sim.counts);
  std::string s = "cell\tlabel\n";
  for (std::size_t i = 0; i < sim.labels.size(); ++i) s += sim.counts.row_names[i] + "\t" + sim.label_names[sim.labels[i]] + "\n";
  write_text_file(join_path(a.out, "labels.tsv"), s);
  const double zeros = 1.0 - double(sim.counts.nnz()) / (double(o.cells) * double(o.genes));
  std::printf("wrote %ld cells x %ld genes (%ld types, %.1f%% zeros) to %s/ in %.1f s\n", long(o.cells), long(o.genes),
              long(o.clusters), 100 * zeros, a.out.c_str(), now_seconds() - t0);
  std::printf("train on it: scvae train --input %s --labels %s --out <folder>\n", a.out.c_str(),
              join_path(a.out, "labels.tsv").c_str());
  return kExitOk;
}

}  // namespace

Command add_simulate_command(CLI::App& root) {
  auto a = std::make_shared<SimulateArgs>();
  CLI::App* app = root.add_subcommand("simulate", "Write simulated counts (10x v3 MTX folder, gzipped) and labels.tsv");
  a->cells_opt = app->add_option("--cells", a->cells, "Cells")->capture_default_str();
  a->genes_opt = app->add_option("--genes", a->genes, "Genes")->capture_default_str();
  a->clusters_opt = app->add_option("--clusters", a->clusters, "Cell types")->capture_default_str();
  app->add_option("--seed", a->seed, "Seed")->check(non_negative_integer())->capture_default_str();
  app->add_option("--like", a->like,
                  "Preset: mbc20k = 20,000 cells x 27,998 genes, 10 types, ~93% zeros (--cells etc. still override)")
      ->check(CLI::IsMember({"mbc20k"}));
  app->add_flag("--overwrite", a->overwrite, "Replace an earlier simulation in --out");
  app->add_option("--out", a->out, "Output folder")->required();
  return {app, [a] { return run_simulate(*a); }};
}

}  // namespace scvae_cli
