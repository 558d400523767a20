// One whole training step of the reference VAE (hidden [250], latent 25, batch 100, 27,998 genes,
// ~93% zeros) per likelihood, and the optimiser's whole-arena passes (21M parameters).
// Counters: cells/s for steps, GB/s of memory traffic for the optimiser passes.
//   ./bench_train --benchmark_min_time=1 --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "scvae/backend/cpu.hpp"
#include "scvae/data/simulate.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/vae.hpp"

namespace {

using B = scvae::CpuBackend;
using scvae::Index;
constexpr Index kGenes = 27998, kBatch = 100;

const scvae::CsrMatrix& data() {
  static const scvae::CsrMatrix m = [] {
    auto o = scvae::SimulationOptions::like_mbc20k(0);
    o.cells = 500;
    return scvae::simulate_counts(o).counts;
  }();
  return m;
}

void train_step(benchmark::State& state, scvae::LikelihoodSpec spec) {
  B::set_threads(int(state.range(0)));
  scvae::VaeConfig cfg;
  cfg.genes = kGenes;
  cfg.hidden = {250};
  cfg.latent = 25;
  cfg.likelihood = spec;
  scvae::Vae<B, float> model(cfg, kBatch, 1);
  scvae::Adam<B, float> adam(model.arena().layout().param_size, scvae::AdamOptions{});
  scvae::CscBatch batch;
  std::vector<Index> rows(kBatch);
  for (Index i = 0; i < kBatch; ++i) rows[i] = i;
  scvae::gather_batch(data(), rows.data(), kBatch, scvae::InputTransform::log1p, batch);
  scvae::Rng rng(3);
  for (auto _ : state) {
    // As the trainer: no zero_grads (forward_backward writes every gradient).
    auto s = model.forward_backward(batch.input_view(), batch.counts_view(), 1.0f, rng);
    benchmark::DoNotOptimize(s);
    // As the trainer: the gradient norm is also its divergence check (no finiteness pass).
    const double norm = adam.gradient_norm(model.arena());
    benchmark::DoNotOptimize(norm);
    adam.step(model.arena(), norm);
  }
  state.counters["cells/s"] = benchmark::Counter(double(kBatch), benchmark::Counter::kIsIterationInvariantRate);
}

// The optimiser's passes over a parameter vector of the reference VAE's size (NB).
constexpr Index kParams = 21074796;
struct Arena4 {
  std::vector<float, Eigen::aligned_allocator<float>> p, g, m, v;
  Arena4() : p(kParams, 0.1f), g(kParams, 0.01f), m(kParams, 0.f), v(kParams, 0.f) {}
};
Arena4& arena4() {
  static Arena4 a;
  return a;
}
void optimiser_pass(benchmark::State& state) {
  B::set_threads(int(state.range(1)));
  auto& a = arena4();
  const int which = int(state.range(0));
  long step = 0;
  double bytes = 0;
  for (auto _ : state) {
    switch (which) {
      case 0: B::fill<float>({a.g.data(), kParams}, 0.f); bytes = 4.0 * kParams; break;
      case 1: benchmark::DoNotOptimize(B::all_finite<float>({a.g.data(), kParams})); bytes = 4.0 * kParams; break;
      case 2: benchmark::DoNotOptimize(B::sum_squares<float>({a.g.data(), kParams})); bytes = 4.0 * kParams; break;
      case 3:
        B::adam_step<float>({a.p.data(), kParams}, {a.g.data(), kParams}, {a.m.data(), kParams},
                            {a.v.data(), kParams}, 1e-4f, 0.9f, 0.999f, 1e-8f, 0.f, false, ++step);
        bytes = 7.0 * 4.0 * kParams;
        break;
      case 4:  // the same with element-wise clipping fused in (scVAE's default clip 1)
        B::adam_step<float>({a.p.data(), kParams}, {a.g.data(), kParams}, {a.m.data(), kParams},
                            {a.v.data(), kParams}, 1e-4f, 0.9f, 0.999f, 1e-8f, 0.f, false, ++step, 1.f, 1.f);
        bytes = 7.0 * 4.0 * kParams;
        break;
    }
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

using scvae::Dispersion;
using scvae::Likelihood;
BENCHMARK_CAPTURE(train_step, poisson, {Likelihood::poisson})->Arg(1)->Arg(2)->ArgName("threads")
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(train_step, nb, {Likelihood::nb, Dispersion::gene_cell})->Arg(1)->Arg(2)->ArgName("threads")
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(train_step, zip, {Likelihood::zip})->Arg(1)->Arg(2)->ArgName("threads")
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(train_step, zinb, {Likelihood::zinb, Dispersion::gene_cell})->Arg(1)->Arg(2)->ArgName("threads")
    ->Unit(benchmark::kMillisecond)->UseRealTime();
// 0 fill (zero_grads; no longer a per-step pass: forward_backward writes the gradients),
// 1 all_finite (once per epoch, on the parameters), 2 sum_squares (the gradient norm and
// divergence check), 3 adam_step, 4 adam_step with element-wise clipping
BENCHMARK(optimiser_pass)->ArgsProduct({{0, 1, 2, 3, 4}, {1, 2}})->ArgNames({"pass", "threads"})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
