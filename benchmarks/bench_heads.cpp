// The fused likelihood pass (log p(x) + head gradients) per likelihood, at the 10x-MBC output
// width: 27,998 genes x 100 cells, ~93% zeros, float. Counter: cells*genes/s.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include <scvae/distributions/likelihood.hpp>

namespace {

constexpr scvae::Index kGenes = 27998, kCells = 100;

struct Batch {
  std::vector<std::int64_t> ptr{0};
  std::vector<std::int32_t> idx;
  std::vector<float> val;
  Batch() {
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(0, 1);
    std::geometric_distribution<int> count(0.5);  // 1, 2, 3, ... halving
    for (scvae::Index b = 0; b < kCells; ++b) {
      for (scvae::Index g = 0; g < kGenes; ++g)
        if (u(rng) < 0.07) {
          idx.push_back(static_cast<std::int32_t>(g));
          val.push_back(static_cast<float>(1 + count(rng)));
        }
      ptr.push_back(static_cast<std::int64_t>(idx.size()));
    }
  }
  scvae::CscView<float> view() const { return {ptr.data(), idx.data(), val.data(), kGenes, kCells}; }
};

void bench_pass(benchmark::State& state, scvae::LikelihoodSpec spec, bool grad) {
  static const Batch batch;
  const scvae::Index PG = scvae::n_heads(spec) * kGenes;
  std::mt19937_64 rng(2);
  std::normal_distribution<float> n(0, 1);
  std::vector<float> heads(PG * kCells), d_heads(PG * kCells), glt, d_glt, w(kCells, -1.0f / kCells), lp(kCells);
  for (auto& v : heads) v = n(rng);
  if (scvae::has_gene_dispersion(spec)) {
    glt.resize(kGenes);
    d_glt.assign(kGenes, 0.0f);
    for (auto& v : glt) v = n(rng);
  }
  for (auto _ : state) {
    scvae::likelihood_forward_backward<float>(
        spec, scvae::MatrixView<const float>(heads.data(), PG, kCells),
        scvae::VectorView<const float>(glt.data(), scvae::Index(glt.size())), batch.view(),
        scvae::VectorView<const float>(w.data(), kCells), scvae::VectorView<float>(lp.data(), kCells),
        grad ? scvae::MatrixView<float>(d_heads.data(), PG, kCells) : scvae::MatrixView<float>(),
        scvae::VectorView<float>(d_glt.data(), scvae::Index(d_glt.size())));
    benchmark::DoNotOptimize(lp.data());
    benchmark::ClobberMemory();
  }
  state.counters["cells*genes/s"] =
      benchmark::Counter(double(kCells) * double(kGenes), benchmark::Counter::kIsIterationInvariantRate);
}

using scvae::Dispersion;
using scvae::Likelihood;
BENCHMARK_CAPTURE(bench_pass, poisson_grad, {Likelihood::poisson}, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(bench_pass, nb_gene_cell_grad, {Likelihood::nb, Dispersion::gene_cell}, true)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(bench_pass, nb_gene_grad, {Likelihood::nb, Dispersion::gene}, true)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(bench_pass, zip_grad, {Likelihood::zip}, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(bench_pass, zinb_gene_cell_grad, {Likelihood::zinb, Dispersion::gene_cell}, true)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(bench_pass, zinb_gene_grad, {Likelihood::zinb, Dispersion::gene}, true)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(bench_pass, nb_gene_cell_forward, {Likelihood::nb, Dispersion::gene_cell}, false)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(bench_pass, zinb_gene_cell_forward, {Likelihood::zinb, Dispersion::gene_cell}, false)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
