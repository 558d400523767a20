#pragma once
// Sparse counts x dense weights: the encoders' first layer.
//  spmm      C [M x N] = alpha W [M x G] X [G x N] + beta C: one block per (column n, 256 rows of
//            C); the column's (row index, value) pairs are staged in shared memory and every
//            thread walks them in storage order, as the CPU loop does.
//  spmm_grad dW [M x G] += alpha dC [M x N] X^T (accumulate = false: =, every element written):
//            GENE-PARTITIONED, no atomics: one block per
//            (gene g, 256 rows of dW). Each thread binary-searches g in one column's sorted row
//            indices, the hits go to shared memory, and every thread adds its row's terms in
//            column order (the CPU's order per element). Deterministic; genes absent from the
//            batch leave dW untouched when accumulating.
// Both need each column's row indices strictly increasing (the CscView contract); indices out of
// range are skipped and reported through the context's status word, and so is a column whose
// offsets decrease (ptr[n+1] < ptr[n]: read as empty), as the CPU's spmm and spmm_grad throw for
// both. spmm_grad also reports indices that do not increase (its binary search would miss
// entries; the CPU's gene-major sort accepts them, but the likelihood pass, the same batch's
// next reader on both backends, rejects them).
#include "context.cuh"

namespace scvae {
namespace cuda {
namespace detail {

constexpr int kSparseThreads = 256;

__device__ __forceinline__ void report_bad_column(int* status, Index col) {
  atomicMax(status, static_cast<int>(col) + 1);
}

template <class T>
__global__ void spmm_kernel(T alpha, MatrixView<const T> w /*[M x G]*/, CscView<float> x /*[G x N]*/, T beta,
                            MatrixView<T> c /*[M x N]*/, int* status) {
  __shared__ std::int32_t s_idx[kSparseThreads];
  __shared__ float s_val[kSparseThreads];
  const Index n = blockIdx.x;
  const Index i = Index(blockIdx.y) * kSparseThreads + threadIdx.x;
  const bool active = i < c.rows;
  T acc = T(0);
  if (active && beta != T(0)) acc = beta * c(i, n);
  const std::int64_t k0 = x.ptr[n], k1 = x.ptr[n + 1];
  if (k1 < k0 && blockIdx.y == 0 && threadIdx.x == 0) report_bad_column(status, n);
  for (std::int64_t kb = k0; kb < k1; kb += kSparseThreads) {
    const std::int64_t k = kb + threadIdx.x;
    if (k < k1) {
      std::int32_t g = x.idx[k];
      if (g < 0 || g >= w.cols) {
        if (blockIdx.y == 0) report_bad_column(status, n);
        g = -1;
      }
      s_idx[threadIdx.x] = g;
      s_val[threadIdx.x] = x.val[k];
    }
    __syncthreads();
    const int m = static_cast<int>(k1 - kb < kSparseThreads ? k1 - kb : kSparseThreads);
    if (active)
      for (int t = 0; t < m; ++t) {
        const std::int32_t g = s_idx[t];
        if (g < 0) continue;
        const T v = alpha * static_cast<T>(s_val[t]);
        acc += v * w(i, g);
      }
    __syncthreads();
  }
  if (active) c(i, n) = acc;
}

// First k in [lo, hi) with idx[k] >= g.
__device__ __forceinline__ std::int64_t lower_bound(const std::int32_t* __restrict__ idx, std::int64_t lo,
                                                    std::int64_t hi, std::int32_t g) {
  while (lo < hi) {
    const std::int64_t mid = lo + ((hi - lo) >> 1);
    if (idx[mid] < g) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The validation of spmm_grad's batch (its binary searches would pass over a bad entry in
// silence): the blocks of row block 0 share out the columns (column n to block n mod G) and
// each scans its columns' entries whole: a row index out of range or not above the previous
// one, or offsets that decrease. One read of the batch's indices in all.
__device__ __forceinline__ void check_columns(CscView<float> x, int* status) {
  for (Index n = blockIdx.x; n < x.cols; n += gridDim.x) {
    const std::int64_t k0 = x.ptr[n], k1 = x.ptr[n + 1];
    if (k1 < k0 && threadIdx.x == 0) report_bad_column(status, n);
    for (std::int64_t k = k0 + threadIdx.x; k < k1; k += kSparseThreads) {
      const std::int32_t g = x.idx[k];
      if (g < 0 || g >= x.rows || (k > k0 && x.idx[k - 1] >= g)) report_bad_column(status, n);
    }
  }
}

template <class T>
__global__ void spmm_grad_kernel(T alpha, MatrixView<const T> dc /*[M x N]*/, CscView<float> x /*[G x N]*/,
                                 MatrixView<T> dw /*[M x G]*/, bool accumulate, int* status) {
  __shared__ float s_val[kSparseThreads];
  __shared__ int s_hit[kSparseThreads];
  if (blockIdx.y == 0) check_columns(x, status);
  const std::int32_t g = static_cast<std::int32_t>(blockIdx.x);
  const Index i = Index(blockIdx.y) * kSparseThreads + threadIdx.x;
  const bool active = i < dw.rows;
  T acc = active && accumulate ? dw(i, g) : T(0);  // overwrite: dw's old values never read
  bool any = false;
  for (Index nb = 0; nb < x.cols; nb += kSparseThreads) {
    const Index n = nb + threadIdx.x;
    int hit = 0;
    float v = 0.f;
    if (n < x.cols) {
      const std::int64_t hi = x.ptr[n + 1];
      const std::int64_t k = lower_bound(x.idx, x.ptr[n], hi, g);
      if (k < hi && x.idx[k] == g) {
        hit = 1;
        v = x.val[k];
      }
    }
    s_hit[threadIdx.x] = hit;
    s_val[threadIdx.x] = v;
    __syncthreads();
    const int m = static_cast<int>(x.cols - nb < kSparseThreads ? x.cols - nb : kSparseThreads);
    for (int t = 0; t < m; ++t)
      if (s_hit[t]) {
        any = true;
        if (active) acc += (alpha * static_cast<T>(s_val[t])) * dc(i, nb + t);
      }
    __syncthreads();
  }
  if (active && (any || !accumulate)) dw(i, g) = acc;
}

}  // namespace detail
}  // namespace cuda
}  // namespace scvae
