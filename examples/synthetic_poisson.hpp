#pragma once
// The seed notebook's first experiment: 2,000 cells of 10 independent Poisson genes with
// lambda = 1..10, a VAE with latent size 3 and hidden [7], Poisson likelihood. The model should
// recover each gene's lambda as the mean of its reconstruction over the cells.
// Shared by examples/synthetic_poisson.cpp and tests/test_synthetic_poisson.cpp.
#include <cmath>
#include <vector>

#include <scvae/vae.hpp>

namespace scvae_example {

// Poisson draw by inversion (fine for small lambda), on scvae's portable generator.
inline int poisson_draw(double lambda, scvae::Rng& rng) {
  double p = std::exp(-lambda), c = p, u = rng.uniform();
  int k = 0;
  while (u > c && k < 10000) {
    ++k;
    p *= lambda / k;
    c += p;
  }
  return k;
}

inline scvae::CsrMatrix poisson_genes(scvae::Index cells, int genes, std::uint64_t seed) {
  scvae::Rng rng(seed);
  scvae::CsrMatrix m;
  m.n_rows = cells;
  m.n_cols = genes;
  for (scvae::Index i = 0; i < cells; ++i) {
    for (int g = 0; g < genes; ++g) {
      const int x = poisson_draw(double(g + 1), rng);
      if (x == 0) continue;
      m.indices.push_back(g);
      m.values.push_back(float(x));
    }
    m.indptr.push_back(static_cast<std::int64_t>(m.indices.size()));
  }
  return m;
}

struct PoissonExperiment {
  std::vector<double> lambda_true, lambda_recovered;
  std::vector<scvae::EpochMetrics> history;
};

// Trains the seed's VAE (no data-derived bias initialisation: the model has to learn the rates).
inline PoissonExperiment run_poisson_experiment(int epochs = 150, std::uint64_t seed = 1,
                                                const std::function<void(const scvae::EpochMetrics&)>& on_epoch = {}) {
  using namespace scvae;
  const Index cells = 2000;
  const int genes = 10;
  CsrMatrix data = poisson_genes(cells, genes, seed);

  VaeConfig cfg;
  cfg.genes = genes;
  cfg.hidden = {7};
  cfg.latent = 3;
  cfg.likelihood = {Likelihood::poisson, Dispersion::gene_cell};
  const Index batch = 100;
  Vae<CpuBackend, float> vae(cfg, batch, seed);

  TrainOptions opt;
  opt.epochs = epochs;
  opt.batch_size = batch;
  opt.seed = seed;
  opt.init_mean_bias = false;
  opt.adam.learning_rate = 1e-2;
  opt.on_epoch = on_epoch;
  Trainer<Vae<CpuBackend, float>> trainer(vae, opt);
  PoissonExperiment out;
  out.history = trainer.fit(data, all_rows(data)).history;

  // recovered lambda = mean over cells of the reconstruction's mean
  out.lambda_true.resize(genes);
  out.lambda_recovered.assign(genes, 0.0);
  CscBatch b;
  std::vector<double> mean(static_cast<std::size_t>(genes * batch));
  std::vector<Index> rows = all_rows(data);
  for (Index start = 0; start < cells; start += batch) {
    gather_batch(data, rows.data() + start, batch, cfg.input_transform, b);
    vae.reconstruct(b.input_view(), mean.data(), nullptr);
    for (Index j = 0; j < batch; ++j)
      for (int g = 0; g < genes; ++g) out.lambda_recovered[g] += mean[g + j * genes] / double(cells);
  }
  for (int g = 0; g < genes; ++g) out.lambda_true[g] = g + 1;
  return out;
}

}  // namespace scvae_example
