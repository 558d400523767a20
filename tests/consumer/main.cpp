// Trains a tiny VAE through the public header, as a user's program would.
#include <cstdio>
#include <scvae/vae.hpp>

int main() {
  scvae::CsrMatrix m;
  m.n_rows = 8;
  m.n_cols = 4;
  for (int i = 0; i < 8; ++i) {
    for (int g = 0; g < 4; ++g) {
      m.indices.push_back(g);
      m.values.push_back(float(1 + (i + g) % 3));
    }
    m.indptr.push_back(static_cast<std::int64_t>(m.indices.size()));
  }
  scvae::VaeConfig cfg;
  cfg.genes = 4;
  cfg.hidden = {3};
  cfg.latent = 2;
  scvae::Vae<scvae::CpuBackend, float> vae(cfg, 4);
  scvae::TrainOptions opt;
  opt.epochs = 2;
  opt.batch_size = 4;
  scvae::Trainer<decltype(vae)> t(vae, opt);
  auto res = t.fit(m, scvae::all_rows(m));
#ifdef SCVAE_USE_BLAS
  const char* gemm = "BLAS";
#else
  const char* gemm = "Eigen";
#endif
  std::printf("consumer ok (%s GEMMs): elbo %.3f\n", gemm, res.history.back().train.elbo);
  return res.history.size() == 2 ? 0 : 1;
}
