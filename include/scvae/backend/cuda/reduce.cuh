#pragma once
// Whole-vector reductions (sum, sum of squares, count of non-finite values) in two passes, both
// in double: per-block partials, then one block adds them in a fixed order. Deterministic for a
// given device and size; the scalar is copied back with the context's status word.
#include "context.cuh"

namespace scvae {
namespace cuda {
namespace detail {

enum class ReduceOp { sum, sum_squares, non_finite };

template <ReduceOp Op, class T>
__device__ __forceinline__ double reduce_term(T x) {
  if constexpr (Op == ReduceOp::sum) return double(x);
  else if constexpr (Op == ReduceOp::sum_squares) return double(x) * double(x);
  else return isfinite(x) ? 0.0 : 1.0;
}

template <ReduceOp Op, class T>
__global__ void reduce_partials_kernel(const T* __restrict__ v /*[n]*/, Index n, double* __restrict__ partials) {
  __shared__ double smem[32];
  double s = 0;
  for (Index i = blockIdx.x * Index(blockDim.x) + threadIdx.x; i < n; i += Index(gridDim.x) * blockDim.x)
    s += reduce_term<Op>(v[i]);
  s = block_sum(s, smem);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}
// One block of 1024 threads: result = sum of partials[0 .. nb).
template <class Acc>
__global__ void reduce_final_kernel(const Acc* __restrict__ partials, int nb, Acc* __restrict__ result) {
  __shared__ Acc smem[32];
  Acc s = 0;
  for (int i = threadIdx.x; i < nb; i += blockDim.x) s += partials[i];
  s = block_sum(s, smem);
  if (threadIdx.x == 0) *result = s;
}

template <ReduceOp Op, class T>
double reduce(VectorView<const T> v) {
  auto& ctx = Context::get();
  double out = 0;
  if (v.size <= 0) {
    ctx.check_status();
    return 0;
  }
  const int nb = static_cast<int>(std::min<Index>(ctx.grid(v.size), Context::kMaxPartials));
  reduce_partials_kernel<Op, T><<<nb, kThreads, 0, ctx.stream()>>>(v.data, v.size, ctx.partials());
  SCVAE_CUDA_LAUNCH_CHECK("reduce_partials");
  reduce_final_kernel<double><<<1, 1024, 0, ctx.stream()>>>(ctx.partials(), nb, ctx.results());
  SCVAE_CUDA_LAUNCH_CHECK("reduce_final");
  ctx.read_results(&out, 1);
  return out;
}

}  // namespace detail
}  // namespace cuda
}  // namespace scvae
