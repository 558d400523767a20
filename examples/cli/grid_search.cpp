// scvae grid-search: the seed notebook's screen. Every combination of hidden sizes x latent
// sizes x likelihoods is trained briefly (default 1 epoch) and ranked by validation ELBO.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>

#include <scvae/core/error.hpp>

#include "commands.hpp"
#include "options.hpp"

namespace scvae_cli {

namespace {

struct GridArgs {
  TrainingFlags flags;
  std::string hidden_grid = "100;100,250;100,250,500;100,250,500,1000";
  std::string latent_grid = "10,25,50,100";
  std::string likelihoods = "poisson,nb,zip,zinb";
};

struct GridRow {
  ModelSpec model;
  std::string hidden;
  double train_elbo = NAN, validation_elbo = NAN, validation_ll = NAN, validation_kl = NAN, seconds = 0;
  std::string status = "ok";
};

std::vector<std::string> split_on(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

int run_grid(GridArgs& a) {
  TrainingFlags& f = a.flags;
  finish_training_flags(f, true);
  std::vector<std::vector<long>> hiddens;
  std::vector<std::string> hidden_texts;
  for (const auto& h : split_on(a.hidden_grid, ';')) {
    hiddens.push_back(parse_int_list(h, "--hidden-grid"));
    hidden_texts.push_back(h);
  }
  if (hiddens.empty()) throw UsageError("--hidden-grid: empty");
  const auto latents = parse_int_list(a.latent_grid, "--latent-grid");
  const auto likelihoods = split_on(a.likelihoods, ',');
  if (likelihoods.empty()) throw UsageError("--likelihoods: empty");
  for (const auto& l : likelihoods)
    if (l != "poisson" && l != "nb" && l != "zip" && l != "zinb")
      throw UsageError("--likelihoods: unknown likelihood '" + l + "' (expected poisson, nb, zip, zinb)");
  check_device(f.model, f.fit);
  prepare_out_dir(f.out, {"grid.csv"}, f.overwrite);

  const Dataset data = load_dataset(f.data, true);
  if (data.split.validation.empty()) throw UsageError("--split: grid search ranks by validation ELBO; give a validation fraction > 0");
  // Every configuration, and its memory checked, before training any.
  std::vector<GridRow> grid;
  for (std::size_t hi = 0; hi < hiddens.size(); ++hi)
    for (long latent : latents)
      for (const auto& lik : likelihoods) {
        GridRow r;
        r.model = f.model;
        r.model.hidden = hiddens[hi];
        r.model.latent = latent;
        r.model.likelihood = lik;
        r.hidden = hidden_texts[hi];
        check_fits_in_memory(r.model, f.fit, data.counts);
        grid.push_back(r);
      }
  const std::size_t total = grid.size();
  std::fprintf(stderr, "scvae grid-search: %s\n  %zu configurations x %d epoch(s), %s, learning rate %g\n",
               data.description.c_str(), total, f.fit.epochs, f.model.kind.c_str(), f.fit.learning_rate);
  install_interrupt_handler();
  std::vector<GridRow> rows;
  for (GridRow r : grid) {
    if (interrupted()) break;
    std::fprintf(stderr, "[%zu/%zu] %s ... ", rows.size() + 1, total, r.model.describe().c_str());
    std::fflush(stderr);
    try {
      const FitResult fr = fit_model(r.model, f.fit, data, nullptr, nullptr);
      if (fr.interrupted || fr.history.empty()) {
        std::fprintf(stderr, "interrupted\n");  // ends the "[i/n] ... " line
        break;
      }
      const auto& m = fr.history.back();
      r.train_elbo = m.train.elbo;
      r.validation_elbo = m.validation.elbo;
      r.validation_ll = m.validation.log_likelihood;
      r.validation_kl = m.validation.kl;
      r.seconds = fr.seconds;
    } catch (const scvae::DivergenceError&) {
      r.status = "diverged";
    }
    if (r.status == "ok") std::fprintf(stderr, "validation ELBO %.3f (%.1f s)\n", r.validation_elbo, r.seconds);
    else std::fprintf(stderr, "diverged\n");
    rows.push_back(r);
  }
  const bool stopped = interrupted();
  // Best first; NaN (diverged) last.
  std::stable_sort(rows.begin(), rows.end(), [](const GridRow& x, const GridRow& y) {
    if (std::isnan(x.validation_elbo)) return false;
    if (std::isnan(y.validation_elbo)) return true;
    return x.validation_elbo > y.validation_elbo;
  });
  std::string csv = "rank,model,likelihood,hidden,latent,components,epochs,train_elbo,validation_elbo,"
                    "validation_log_likelihood,validation_kl,seconds,status,dispersion,mean\n";
  std::printf("%4s  %-6s %-8s %-20s %6s %14s %14s %8s\n", "rank", "model", "lik", "hidden", "latent", "val ELBO",
              "train ELBO", "seconds");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    std::string hidden_csv = r.hidden;
    std::replace(hidden_csv.begin(), hidden_csv.end(), ',', ' ');
    csv += std::to_string(i + 1) + "," + r.model.kind + "," + r.model.likelihood + "," + hidden_csv + "," +
           std::to_string(r.model.latent) + "," + (r.model.kind == "gmvae" ? std::to_string(r.model.components) : "") +
           "," + std::to_string(f.fit.epochs) + "," + format_number(r.train_elbo) + "," +
           format_number(r.validation_elbo) + "," + format_number(r.validation_ll) + "," +
           format_number(r.validation_kl) + "," + format_number(r.seconds, 6) + "," + r.status + "," +
           r.model.dispersion + "," + r.model.mean + "\n";
    std::printf("%4zu  %-6s %-8s %-20s %6ld %14.3f %14.3f %8.2f%s\n", i + 1, r.model.kind.c_str(),
                r.model.likelihood.c_str(), r.hidden.c_str(), r.model.latent, r.validation_elbo, r.train_elbo, r.seconds,
                r.status == "ok" ? "" : "  diverged");
  }
  write_text_file(join_path(f.out, "grid.csv"), csv);
  std::printf("table in %s\n", join_path(f.out, "grid.csv").c_str());
  if (stopped) {
    std::fprintf(stderr, "scvae grid-search: interrupted (Ctrl-C) after %zu of %zu configurations\n", rows.size(), total);
    return kExitInterrupted;
  }
  if (!rows.empty() && std::all_of(rows.begin(), rows.end(), [](const GridRow& r) { return r.status != "ok"; })) {
    std::fprintf(stderr, "scvae grid-search: every configuration diverged; try a lower --learning-rate or a longer "
                         "--kl-warmup\n");
    return kExitDiverged;
  }
  return kExitOk;
}

}  // namespace

Command add_grid_search_command(CLI::App& root) {
  auto a = std::make_shared<GridArgs>();
  CLI::App* app = root.add_subcommand(
      "grid-search", "Screen hidden sizes x latent sizes x likelihoods briefly and rank them by validation ELBO");
  add_training_flags(app, a->flags, true);
  app->add_option("--hidden-grid", a->hidden_grid, "Hidden-size lists separated by ';'")->capture_default_str();
  app->add_option("--latent-grid", a->latent_grid, "Latent sizes")->capture_default_str();
  app->add_option("--likelihoods", a->likelihoods, "Likelihoods")->capture_default_str();
  return {app, [a] { return run_grid(*a); }};
}

}  // namespace scvae_cli
