#pragma once
// The files `train` and `evaluate` write: metrics CSV / JSON, per-cell TSVs, the per-gene
// reconstruction summary and the SVG pictures (see docs/cli.md for their columns).
#include <string>
#include <vector>

#include <scvae/train/trainer.hpp>

#include "dataset.hpp"
#include "model_runner.hpp"

namespace scvae_cli {

// metrics.csv: "epoch,split,elbo,log_likelihood,kl,seconds", one row per epoch and split.
std::string metrics_csv_header();
std::string metrics_csv_rows(const scvae::EpochMetrics& m);

// test_metrics.json: the analysis's metrics plus `extra` string fields (checkpoint, split, ...).
void write_test_metrics(const std::string& path, const Analysis& a,
                        const std::vector<std::pair<std::string, std::string>>& extra);

// latent.tsv, clusters.tsv (when there are clusters), latent_pca.svg (coloured by cluster) and
// latent_pca_labels.svg (when labels are known), for data's cells `rows`.
void write_cell_outputs(const std::string& dir, const Analysis& a, const Dataset& data,
                        const std::vector<scvae::Index>& rows);

// reconstruction.tsv and reconstruction_mean.svg (observed vs reconstructed mean per gene).
void write_reconstruction(const std::string& dir, const Analysis& a, const Dataset& data, const std::string& which_cells);

// learning_curve_elbo.svg, learning_curve_log_likelihood.svg, learning_curve_kl.svg.
void write_learning_curves(const std::string& dir, const std::vector<scvae::EpochMetrics>& history);

// The names of every file write_* above may produce (for --overwrite checks).
std::vector<std::string> report_file_names();

}  // namespace scvae_cli
