// The GEMM shapes of the reference workload (VAE, hidden 250, batch 100, 27,998 genes) through
// CpuBackend::gemm (Eigen, or OpenBLAS when built with SCVAE_USE_BLAS), and the sparse first
// layer (spmm / spmm_grad) on a batch with 7% non-zeros. Counter: GFLOP/s (dense) or the
// equivalent dense GFLOP/s of the sparse layer.
//   ./bench_gemm --benchmark_min_time=0.5 --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "scvae/backend/cpu.hpp"

namespace {

using B = scvae::CpuBackend;
using scvae::Index;
constexpr Index kGenes = 27998, kHidden = 250, kBatch = 100;

struct Buf {
  std::vector<float, Eigen::aligned_allocator<float>> v;
  Index r, c;
  Buf(Index r_, Index c_) : v(static_cast<std::size_t>(r_ * c_)), r(r_), c(c_) {
    std::mt19937 g(1);
    std::normal_distribution<float> n(0, 0.1f);
    for (auto& x : v) x = n(g);
  }
  scvae::MatrixView<float> m() { return {v.data(), r, c}; }
  scvae::MatrixView<const float> cm() const { return {v.data(), r, c}; }
};

// kind 0: forward  Y [M x N] = W [M x K] X [K x N]
// kind 1: weight gradient  dW [M x K] += dY [M x N] X^T
// kind 2: input gradient  dX [K x N] = W^T dY
void gemm_shape(benchmark::State& state) {
  const int kind = int(state.range(0));
  const Index M = state.range(1), K = state.range(2), N = state.range(3);
  B::set_threads(int(state.range(4)));
  Buf w(M, K), x(K, N), y(M, N);
  for (auto _ : state) {
    if (kind == 0) B::gemm<float>(false, false, 1.f, w.cm(), x.cm(), 0.f, y.m());
    if (kind == 1) B::gemm<float>(false, true, 1.f, y.cm(), x.cm(), 1.f, w.m());
    if (kind == 2) B::gemm<float>(true, false, 1.f, w.cm(), y.cm(), 0.f, x.m());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(M) * double(K) * double(N), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
  state.counters["GFLOP/s"].value /= 1e9;
}

struct SparseBatch {
  std::vector<std::int64_t> ptr{0};
  std::vector<std::int32_t> idx;
  std::vector<float> val;
  SparseBatch() {
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(0, 1);
    for (Index b = 0; b < kBatch; ++b) {
      for (Index g = 0; g < kGenes; ++g)
        if (u(rng) < 0.07) {
          idx.push_back(std::int32_t(g));
          val.push_back(1.5f);
        }
      ptr.push_back(std::int64_t(idx.size()));
    }
  }
  scvae::CscView<float> view() const { return {ptr.data(), idx.data(), val.data(), kGenes, kBatch}; }
};

void first_layer_sparse(benchmark::State& state) {
  static const SparseBatch x;
  B::set_threads(int(state.range(0)));
  Buf w(kHidden, kGenes), y(kHidden, kBatch);
  for (auto _ : state) {
    B::spmm<float>(1.f, w.cm(), x.view(), 0.f, y.m());
    B::spmm_grad<float>(1.f, y.cm(), x.view(), w.m(), /*accumulate=*/false);  // as the training step
    benchmark::ClobberMemory();
  }
  state.counters["nnz"] = double(x.val.size());
  state.counters["dense_equiv_GFLOP/s"] = benchmark::Counter(
      4.0 * kHidden * double(kGenes) * kBatch / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// The same layer dense (what a dense framework such as the PyTorch peer computes).
void first_layer_dense(benchmark::State& state) {
  B::set_threads(int(state.range(0)));
  Buf w(kHidden, kGenes), x(kGenes, kBatch), y(kHidden, kBatch);
  for (auto _ : state) {
    B::gemm<float>(false, false, 1.f, w.cm(), x.cm(), 0.f, y.m());
    B::gemm<float>(false, true, 1.f, y.cm(), x.cm(), 1.f, w.m());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(4.0 * kHidden * double(kGenes) * kBatch / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int t : {1, 2})
    for (Index P : {1, 2, 3})
      for (int kind : {0, 1, 2}) b->Args({kind, P * kGenes, kHidden, kBatch, t});
  for (int t : {2})
    for (int kind : {0, 1, 2}) b->Args({kind, 2 * kGenes, kHidden, 10 * kBatch, t});  // GMVAE K = 10
  for (int t : {2})
    for (int kind : {0, 1, 2}) {
      b->Args({kind, 2 * 25, kHidden, kBatch, t});  // latent head
      b->Args({kind, kHidden, 25, kBatch, t});      // decoder first layer
    }
}

BENCHMARK(gemm_shape)->Apply(shapes)->ArgNames({"kind", "M", "K", "N", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(first_layer_sparse)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(first_layer_dense)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
