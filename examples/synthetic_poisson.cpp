// examples/synthetic_poisson: the seed notebook's first experiment (see synthetic_poisson.hpp).
// Usage: synthetic_poisson [epochs=150] [seed=1]
#include <cstdio>
#include <cstdlib>

#include "synthetic_poisson.hpp"

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 150;
  const auto seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1ULL;
  try {
    auto r = scvae_example::run_poisson_experiment(epochs, seed, [](const scvae::EpochMetrics& m) {
      if (m.epoch % 25 == 0 || m.epoch == 1)
        std::fprintf(stderr, "epoch %3d  elbo %9.4f  log_likelihood %9.4f  kl %7.4f  (%.3f s)\n", m.epoch, m.train.elbo,
                     m.train.log_likelihood, m.train.kl, m.seconds);
    });
    for (std::size_t g = 0; g < r.lambda_true.size(); ++g)
      std::printf("gene %zu lambda_true %g lambda_recovered %.4f\n", g, r.lambda_true[g], r.lambda_recovered[g]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "synthetic_poisson: %s\n", e.what());
    return 1;
  }
  return 0;
}
