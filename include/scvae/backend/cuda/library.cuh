#pragma once
// The library-size mean (models/count_decoder.hpp, MeanLink::library) on the device: one block
// per column for each op, sums in double in the block's fixed tree order (deterministic), as
// CpuBackend's column_log_library / log_softmax_shift / log_softmax_shift_backward.
#include "common.cuh"

namespace scvae {
namespace cuda {
namespace detail {

// Maximum over a block (blockDim.x a multiple of 32); every thread gets it. NaN-ignoring as
// fmax: a NaN input still reaches the result through the sum of exponentials.
template <class T>
__device__ __forceinline__ T block_max(T v, T* smem) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T s = lane < nw ? smem[lane] : T(-INFINITY);
    for (int o = 16; o > 0; o >>= 1) s = fmax(s, __shfl_xor_sync(0xffffffffu, s, o));
    if (lane == 0) smem[0] = s;
  }
  __syncthreads();
  const T r = smem[0];
  __syncthreads();
  return r;
}

// out[j] = log(max(l_j, 1)), l_j = sum of column j's values (or of expm1 of them: log1p input).
template <class T>
__global__ void column_log_library_kernel(CscView<float> x, bool log1p_input, T* __restrict__ out /*[cols]*/) {
  __shared__ double smem[32];
  const Index j = blockIdx.x;
  double s = 0;
  for (std::int64_t k = x.ptr[j] + threadIdx.x; k < x.ptr[j + 1]; k += blockDim.x) {
    const double v = x.val[k];
    s += log1p_input ? expm1(v) : v;
  }
  s = block_sum(s, smem);
  if (threadIdx.x == 0) out[j] = T(log(s < 1.0 ? 1.0 : s));
}

// a[:, j] += shift[j] - logsumexp(a[:, j]).
template <class T>
__global__ void log_softmax_shift_kernel(MatrixView<T> a, const T* __restrict__ shift) {
  __shared__ double smem[32];
  __shared__ T tmax[32];
  __shared__ T delta;
  T* c = a.data + Index(blockIdx.x) * a.ld;
  T m = T(-INFINITY);
  for (Index i = threadIdx.x; i < a.rows; i += blockDim.x) m = fmax(m, c[i]);
  m = block_max(m, tmax);
  double s = 0;
  for (Index i = threadIdx.x; i < a.rows; i += blockDim.x) s += double(exp(c[i] - m));
  s = block_sum(s, smem);
  if (threadIdx.x == 0) delta = shift[blockIdx.x] - (m + T(log(s)));
  __syncthreads();
  const T d = delta;
  for (Index i = threadIdx.x; i < a.rows; i += blockDim.x) c[i] += d;
}

// dy[:, j] -= exp(y[:, j] - shift[j]) * sum_i dy[i, j].
template <class T>
__global__ void log_softmax_shift_backward_kernel(MatrixView<T> dy, MatrixView<const T> y, const T* __restrict__ shift) {
  __shared__ double smem[32];
  __shared__ T total;
  T* d = dy.data + Index(blockIdx.x) * dy.ld;
  const T* yc = y.data + Index(blockIdx.x) * y.ld;
  double t = 0;
  for (Index i = threadIdx.x; i < dy.rows; i += blockDim.x) t += double(d[i]);
  t = block_sum(t, smem);
  if (threadIdx.x == 0) total = T(t);
  __syncthreads();
  const T tt = total, sh = shift[blockIdx.x];
  for (Index i = threadIdx.x; i < dy.rows; i += blockDim.x) d[i] -= exp(yc[i] - sh) * tt;
}

}  // namespace detail
}  // namespace cuda
}  // namespace scvae
