// The GPU reference workload: NB VAE (gene-cell dispersion), hidden [250], latent 25, batch 100,
// on an MBC-20k-like matrix (simulate_counts(like_mbc20k()), first 16,200 cells x 27,998 genes,
// ~93% zeros), data resident on the device (CudaTrainer). Prints plain lines:
//   - wall time per training epoch (162 steps), after one warm-up epoch;
//   - the time the epoch's GEMMs spent in cuBLAS (CUDA events around each call) and their rate;
//   - the sparse first layer (spmm / spmm_grad) times;
//   - each fused likelihood head kernel at 27,998 x 100: time and achieved memory bandwidth
//     (bytes = heads read + gradients written + sparse counts read).
// Usage: bench_cuda [epochs (default 3)]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <scvae/backend/cuda.cuh>
#include <scvae/data/simulate.hpp>
#include <scvae/data/subset.hpp>
#include <scvae/models/vae.hpp>
#include <scvae/train/cuda_trainer.cuh>

using namespace scvae;
using G = CudaBackend;

namespace {

void print_timers(const char* title, double epochs) {
  auto& ctx = cuda::Context::get();
  for (const auto& t : ctx.timers.totals()) {
    std::printf("%s %-28s %8.2f ms/epoch  %6ld calls/epoch", title, t.name.c_str(), t.ms / epochs,
                long(double(t.calls) / epochs));
    if (t.name == "gemm") std::printf("  %7.1f TFLOP/s", t.work / (t.ms * 1e-3) / 1e12);
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  int n_dev = 0;
  const cudaError_t dev_err = cudaGetDeviceCount(&n_dev);
  if (dev_err != cudaSuccess || n_dev == 0) {
    std::printf("SKIPPED: no CUDA device (%s)\n",
                dev_err != cudaSuccess ? cudaGetErrorString(dev_err) : "no device found");
    return 0;
  }
  const int epochs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s, %d SMs, %.1f GiB\n", prop.name, prop.multiProcessorCount,
              double(prop.totalGlobalMem) / (1024.0 * 1024 * 1024));

  auto t0 = std::chrono::steady_clock::now();
  const SimulatedData sim = simulate_counts(SimulationOptions::like_mbc20k(0));
  std::vector<Index> first(16200);
  for (Index i = 0; i < 16200; ++i) first[i] = i;
  const CsrMatrix data = subset_rows(sim.counts, first);
  std::printf("data: %ld cells x %ld genes, %.2f%% zeros, simulated in %.1f s\n", long(data.n_rows), long(data.n_cols),
              100.0 * (1.0 - double(data.nnz()) / (double(data.n_rows) * double(data.n_cols))),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  VaeConfig cfg;
  cfg.genes = data.n_cols;
  cfg.hidden = {250};
  cfg.latent = 25;
  cfg.likelihood = {Likelihood::nb, Dispersion::gene_cell};
  Vae<G, float> model(cfg, 100, 0);
  cuda::DeviceCsr device(data);
  std::printf("device data: %.1f MB\n", double(device.device_bytes()) / 1e6);

  TrainOptions opt;
  opt.epochs = 1;
  opt.batch_size = 100;
  opt.adam.learning_rate = 1e-4;
  opt.adam.clip_value = 1.0;
  CudaTrainer<Vae<G, float>> trainer(model, opt);
  const std::vector<Index> rows = all_rows(data);
  trainer.fit(data, device, rows);  // warm-up: first launches, workspace growth

  auto& ctx = cuda::Context::get();
  double total = 0;
  for (int e = 0; e < epochs; ++e) {
    const TrainResult r = trainer.fit(data, device, rows);
    total += r.history.back().seconds;
    std::printf("epoch %d: %.3f s, train ELBO per cell %.2f\n", trainer.epochs_done(), r.history.back().seconds,
                r.history.back().train.elbo);
  }
  std::printf("epoch time (mean of %d): %.3f s (%.2f ms per step of 100 cells)\n", epochs, total / epochs,
              1e3 * total / epochs / 162.0);

  // One more epoch with event timers around GEMMs, the sparse layer and the likelihood head
  // (events add a little overhead, so this epoch is not the one reported above).
  ctx.timers.reset();
  ctx.timers.enabled = true;
  const TrainResult r = trainer.fit(data, device, rows);
  ctx.timers.enabled = false;
  std::printf("timed epoch: %.3f s\n", r.history.back().seconds);
  print_timers("epoch", 1.0);
  ctx.timers.reset();

  // Each fused head kernel alone at 27,998 x 100 (real batch sparsity), gradients on.
  cuda::DeviceBatch batch;
  batch.gather(device, rows.data(), 100, InputTransform::log1p);
  const Index Gn = data.n_cols, B = 100;
  const LikelihoodSpec specs[] = {{Likelihood::poisson, Dispersion::gene_cell}, {Likelihood::nb, Dispersion::gene_cell},
                                  {Likelihood::nb, Dispersion::gene},           {Likelihood::zip, Dispersion::gene_cell},
                                  {Likelihood::zinb, Dispersion::gene_cell},    {Likelihood::zinb, Dispersion::gene}};
  Rng rng(1);
  for (const auto& spec : specs) {
    const Index P = n_heads(spec);
    auto heads = G::allocate<float>(P * Gn * B), d_heads = G::allocate<float>(P * Gn * B);
    auto glt = G::allocate<float>(Gn), dglt = G::allocate<float>(Gn), w = G::allocate<float>(B), lp = G::allocate<float>(B);
    G::random_normal<float>(MatrixView<float>(G::data(heads), P * Gn, B), rng);
    G::fill<float>(VectorView<float>(G::data(w), B), -0.01f);
    const bool gene = has_gene_dispersion(spec);
    const VectorView<const float> theta = gene ? VectorView<const float>(G::data(glt), Gn) : VectorView<const float>{};
    auto pass = [&] {
      G::likelihood_forward_backward<float>(spec, MatrixView<const float>(G::data(heads), P * Gn, B), theta,
                                            batch.counts_view(), VectorView<const float>(G::data(w), B),
                                            VectorView<float>(G::data(lp), B), MatrixView<float>(G::data(d_heads), P * Gn, B),
                                            gene ? VectorView<float>(G::data(dglt), Gn) : VectorView<float>{});
    };
    pass();  // warm-up
    G::synchronize();
    ctx.timers.enabled = true;
    const int reps = 50;
    for (int i = 0; i < reps; ++i) pass();
    ctx.timers.enabled = false;
    for (const auto& t : ctx.timers.totals())
      std::printf("head %-26s %8.1f us  %7.1f GB/s  (%.1f MB per pass)\n", t.name.c_str(), 1e3 * t.ms / t.calls,
                  t.work / (t.ms * 1e-3) / 1e9, t.work / t.calls / 1e6);
    ctx.timers.reset();
  }
  return 0;
}
