#include "report.hpp"

#include <algorithm>

#include <scvae/data/tsv_writer.hpp>
#include <scvae/metrics/pca.hpp>
#include <scvae/report/svg.hpp>

namespace scvae_cli {

using scvae::Index;

std::string metrics_csv_header() { return "epoch,split,elbo,log_likelihood,kl,seconds\n"; }

std::string metrics_csv_rows(const scvae::EpochMetrics& m) {
  const auto row = [&](const char* split, const scvae::SplitMetrics& s) {
    return std::to_string(m.epoch) + "," + split + "," + format_number(s.elbo) + "," + format_number(s.log_likelihood) +
           "," + format_number(s.kl) + "," + format_number(m.seconds, 6) + "\n";
  };
  std::string out = row("train", m.train);
  if (m.has_validation) out += row("validation", m.validation);
  return out;
}

void write_test_metrics(const std::string& path, const Analysis& a,
                        const std::vector<std::pair<std::string, std::string>>& extra) {
  JsonObject j;
  j.str("model", a.kind);
  j.num("elbo", a.elbo).num("log_likelihood", a.log_likelihood).num("kl", a.kl);
  j.num("marginal_log_likelihood", a.marginal_log_likelihood).num("importance_samples", a.importance_samples);
  j.num("n_cells", static_cast<double>(a.n_cells));
  if (!std::isnan(a.ari)) {
    j.num("ari", a.ari).num("nmi", a.nmi);
    j.str("cluster_method", a.cluster_method).num("n_clusters", static_cast<double>(a.n_clusters));
  }
  for (const auto& kv : extra) j.str(kv.first, kv.second);
  write_text_file(path, j.text());
}

namespace {

// First two principal components of the latent means (a latent of size 1 is drawn against 0).
void latent_2d(const Analysis& a, std::vector<double>& x, std::vector<double>& y) {
  const Index n = a.latent_dim > 0 ? static_cast<Index>(a.latent.size() / a.latent_dim) : 0;
  x.assign(n, 0.0);
  y.assign(n, 0.0);
  if (n < 2) return;
  const Index c = std::min<Index>(2, a.latent_dim);
  const auto p = scvae::pca(scvae::MatrixView<const double>{a.latent.data(), a.latent_dim, n}, c);
  for (Index j = 0; j < n; ++j) {
    x[j] = p.projected(0, j);
    if (c > 1) y[j] = p.projected(1, j);
  }
}

}  // namespace

void write_cell_outputs(const std::string& dir, const Analysis& a, const Dataset& data, const std::vector<Index>& rows) {
  const Index n = static_cast<Index>(rows.size()), Z = a.latent_dim;
  std::vector<std::string> names(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) names[i] = data.counts.row_names[rows[i]];
  {
    std::vector<float> lat(a.latent.begin(), a.latent.end());
    std::vector<std::string> header(static_cast<std::size_t>(Z));
    for (Index i = 0; i < Z; ++i) header[i] = "z" + std::to_string(i + 1);
    scvae::write_tsv_matrix(join_path(dir, "latent.tsv"), names, scvae::MatrixView<const float>{lat.data(), Z, n}, header);
  }
  if (!a.clusters.empty()) {
    std::string s = a.max_responsibility.empty() ? "cell\tcluster\n" : "cell\tcluster\tresponsibility\n";
    for (Index j = 0; j < n; ++j) {
      s += names[j] + "\t" + std::to_string(a.clusters[j]);
      if (!a.max_responsibility.empty()) s += "\t" + format_number(a.max_responsibility[j], 6);
      s += "\n";
    }
    write_text_file(join_path(dir, "clusters.tsv"), s);
  }
  std::vector<double> x, y;
  latent_2d(a, x, y);
  scvae::ScatterOptions o;
  o.x_label = "PC 1";
  o.y_label = "PC 2";
  o.title = "Latent means (PCA), coloured by " +
            std::string(a.cluster_method == "gmvae_argmax" ? "GMVAE cluster"
                        : a.cluster_method.empty()        ? "nothing (no clusters)"
                                                           : "k-means cluster of the latent");
  scvae::write_svg(join_path(dir, "latent_pca.svg"), scvae::scatter_plot(x, y, a.clusters, {}, o));
  if (data.has_labels()) {
    std::vector<int> lab(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) lab[i] = data.labels[rows[i]];
    o.title = "Latent means (PCA), coloured by label";
    scvae::write_svg(join_path(dir, "latent_pca_labels.svg"), scvae::scatter_plot(x, y, lab, data.label_names, o));
  }
}

void write_reconstruction(const std::string& dir, const Analysis& a, const Dataset& data, const std::string& which_cells) {
  const Index G = data.counts.n_cols;
  std::string s = "gene\tobserved_mean\treconstructed_mean\tobserved_variance\treconstructed_variance\n";
  for (Index g = 0; g < G; ++g)
    s += (data.counts.col_names.empty() ? "gene" + std::to_string(g + 1) : data.counts.col_names[g]) + "\t" +
         format_number(a.observed_mean[g], 7) + "\t" + format_number(a.reconstructed_mean[g], 7) + "\t" +
         format_number(a.observed_variance[g], 7) + "\t" + format_number(a.reconstructed_variance[g], 7) + "\n";
  write_text_file(join_path(dir, "reconstruction.tsv"), s);
  scvae::ScatterOptions o;
  o.title = "Mean count per gene, " + which_cells;
  o.x_label = "observed mean";
  o.y_label = "reconstructed mean";
  o.log_x = o.log_y = true;
  scvae::write_svg(join_path(dir, "reconstruction_mean.svg"),
                   scvae::scatter_xy(a.observed_mean, a.reconstructed_mean, o, /*diagonal=*/true));
}

void write_learning_curves(const std::string& dir, const std::vector<scvae::EpochMetrics>& history) {
  const auto series = [&](const char* name, double scvae::SplitMetrics::*field) {
    std::vector<scvae::LineSeries> out(1);
    out[0].name = "train";
    bool validation = false;
    for (const auto& m : history) validation |= m.has_validation;
    if (validation) out.push_back({"validation", {}, {}});
    for (const auto& m : history) {
      out[0].x.push_back(m.epoch);
      out[0].y.push_back(m.train.*field);
      if (validation) {
        out[1].x.push_back(m.epoch);
        out[1].y.push_back(m.has_validation ? m.validation.*field : NAN);
      }
    }
    scvae::PlotOptions o;
    o.title = std::string(name) + " per cell";
    o.x_label = "epoch";
    o.y_label = name;
    return scvae::line_plot(out, o);
  };
  scvae::write_svg(join_path(dir, "learning_curve_elbo.svg"), series("ELBO", &scvae::SplitMetrics::elbo));
  scvae::write_svg(join_path(dir, "learning_curve_log_likelihood.svg"),
                   series("log-likelihood", &scvae::SplitMetrics::log_likelihood));
  scvae::write_svg(join_path(dir, "learning_curve_kl.svg"), series("KL", &scvae::SplitMetrics::kl));
}

std::vector<std::string> report_file_names() {
  return {"metrics.csv",        "test_metrics.json",         "latent.tsv",
          "clusters.tsv",       "reconstruction.tsv",        "latent_pca.svg",
          "latent_pca_labels.svg", "reconstruction_mean.svg", "learning_curve_elbo.svg",
          "learning_curve_log_likelihood.svg", "learning_curve_kl.svg"};
}

}  // namespace scvae_cli
