#pragma once
// Batch normalisation per feature (row) over the batch (columns). A block owns kBnRows features
// entirely: threadIdx.x = feature (reads of a column are contiguous), threadIdx.y = a stride of
// columns. Per-feature sums go through shared memory and are added in a fixed order (double),
// so the result is deterministic; then the same block writes xhat / y (or dx), which is why dx
// may alias dy.
#include "common.cuh"

namespace scvae {
namespace cuda {
namespace detail {

constexpr int kBnRows = 16, kBnCols = 32;  // 512 threads

// Sum over threadIdx.y of v for this feature; every thread of the feature gets it.
__device__ __forceinline__ double bn_row_sum(double v, double (*s)[kBnRows + 1]) {
  s[threadIdx.y][threadIdx.x] = v;
  __syncthreads();
  double t = 0;
  for (int r = 0; r < kBnCols; ++r) t += s[r][threadIdx.x];
  __syncthreads();
  return t;
}

template <class T>
__global__ void bn_forward_train_kernel(MatrixView<T> y /*[F x N]*/, MatrixView<T> xhat /*[F x N]*/, T* mean /*[F]*/,
                                        T* inv_std /*[F]*/, MatrixView<const T> x /*[F x N]*/,
                                        const T* gamma /*[F] or null*/, const T* beta /*[F]*/,
                                        T* running_mean /*[F] or null*/, T* running_var /*[F] or null*/, T eps,
                                        T momentum) {
  __shared__ double s[kBnCols][kBnRows + 1];
  const Index F = x.rows, N = x.cols;
  const Index i = Index(blockIdx.x) * kBnRows + threadIdx.x;
  const bool active = i < F;
  double a = 0;
  if (active)
    for (Index j = threadIdx.y; j < N; j += kBnCols) a += double(x(i, j));
  const T mu = T(bn_row_sum(a, s) / double(N));
  double b = 0;
  if (active)
    for (Index j = threadIdx.y; j < N; j += kBnCols) {
      const double d = double(x(i, j) - mu);
      b += d * d;
    }
  const double ss = bn_row_sum(b, s);
  if (!active) return;
  const T var = T(ss / double(N));
  const T is = T(1) / sqrt(var + eps);
  if (threadIdx.y == 0) {
    mean[i] = mu;
    inv_std[i] = is;
    if (running_mean) {
      const T unbiased = N > 1 ? T(ss / double(N - 1)) : var;
      running_mean[i] = (T(1) - momentum) * running_mean[i] + momentum * mu;
      running_var[i] = (T(1) - momentum) * running_var[i] + momentum * unbiased;
    }
  }
  const T gm = gamma ? gamma[i] : T(1), bt = beta[i];
  for (Index j = threadIdx.y; j < N; j += kBnCols) {
    const T h = (x(i, j) - mu) * is;
    xhat(i, j) = h;
    y(i, j) = (gamma ? gm * h : h) + bt;
  }
}

template <class T>
__global__ void bn_forward_eval_kernel(MatrixView<T> y, MatrixView<const T> x, const T* gamma, const T* beta,
                                       const T* running_mean, const T* running_var, T eps) {
  const Index n = x.rows * x.cols;
  for (Index t = blockIdx.x * Index(blockDim.x) + threadIdx.x; t < n; t += Index(gridDim.x) * blockDim.x) {
    const Coord c = coord(t, x.rows);
    const T h = (x(c.i, c.j) - running_mean[c.i]) / sqrt(running_var[c.i] + eps);
    y(c.i, c.j) = (gamma ? gamma[c.i] * h : h) + beta[c.i];
  }
}

// dx = inv_std / N * (N g - sum(g) - xhat sum(g xhat)), g = dy * gamma; dbeta, dgamma accumulate.
template <class T>
__global__ void bn_backward_kernel(MatrixView<T> dx /*[F x N]*/, T* dgamma /*[F] or null*/, T* dbeta /*[F]*/,
                                   MatrixView<const T> dy /*[F x N]*/, MatrixView<const T> xhat /*[F x N]*/,
                                   const T* inv_std /*[F]*/, const T* gamma /*[F] or null*/) {
  __shared__ double s[kBnCols][kBnRows + 1];
  const Index F = dy.rows, N = dy.cols;
  const Index i = Index(blockIdx.x) * kBnRows + threadIdx.x;
  const bool active = i < F;
  double a = 0, b = 0;
  if (active)
    for (Index j = threadIdx.y; j < N; j += kBnCols) {
      a += double(dy(i, j));
      b += double(dy(i, j)) * double(xhat(i, j));
    }
  const T sdy = T(bn_row_sum(a, s));
  const T sdyx = T(bn_row_sum(b, s));
  if (!active) return;
  const T gm = gamma ? gamma[i] : T(1);
  const T sg = gm * sdy, sgx = gm * sdyx;
  if (threadIdx.y == 0) {
    dbeta[i] += sdy;
    if (dgamma) dgamma[i] += sdyx;
  }
  const T k = inv_std[i] / T(N);
  for (Index j = threadIdx.y; j < N; j += kBnCols) dx(i, j) = k * (T(N) * gm * dy(i, j) - sg - xhat(i, j) * sgx);
}

}  // namespace detail
}  // namespace cuda
}  // namespace scvae
