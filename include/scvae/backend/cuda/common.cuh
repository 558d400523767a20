#pragma once
// Shared pieces of the CUDA backend: error checks (CUDA, cuBLAS, cuRAND calls become
// scvae::Error naming the call and file:line), launch sizes and block reductions.
// Compiled only by nvcc; nothing here is included by the CPU headers.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>

#include <cstdint>
#include <string>

#include "../../core/error.hpp"
#include "../../core/view.hpp"

namespace scvae {
namespace cuda {
namespace detail {

[[noreturn]] inline void throw_cuda(const char* what, const char* call, const char* file, int line) {
  throw Error(std::string("scvae: CUDA error ") + what + " in " + call + " at " + file + ":" + std::to_string(line));
}
inline void check(cudaError_t e, const char* call, const char* file, int line) {
  if (e != cudaSuccess)
    throw_cuda((std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")").c_str(), call, file, line);
}
inline void check(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS)
#if CUBLAS_VER_MAJOR > 11 || (CUBLAS_VER_MAJOR == 11 && CUBLAS_VER_MINOR >= 4)  // cublasGetStatusName: cuBLAS 11.4
    throw_cuda((std::string(cublasGetStatusName(s)) + " (" + cublasGetStatusString(s) + ")").c_str(), call, file, line);
#else
    throw_cuda((std::string("cuBLAS status ") + std::to_string(int(s))).c_str(), call, file, line);
#endif
}
inline void check(curandStatus_t s, const char* call, const char* file, int line) {
  if (s != CURAND_STATUS_SUCCESS)
    throw_cuda((std::string("cuRAND status ") + std::to_string(int(s))).c_str(), call, file, line);
}

}  // namespace detail
}  // namespace cuda
}  // namespace scvae

// Wraps a CUDA runtime / cuBLAS / cuRAND call: a failure throws scvae::Error.
#define SCVAE_CUDA_CHECK(call) ::scvae::cuda::detail::check((call), #call, __FILE__, __LINE__)
// After a kernel launch: reports launch-configuration errors (asynchronous faults surface at the
// next synchronising call, also as scvae::Error).
#define SCVAE_CUDA_LAUNCH_CHECK(name) \
  ::scvae::cuda::detail::check(cudaGetLastError(), "kernel launch " name, __FILE__, __LINE__)

namespace scvae {
namespace cuda {
namespace detail {

constexpr int kThreads = 256;  // default block size of the elementwise kernels

// Blocks for n elements at kThreads each, capped (the kernels are grid-stride loops).
inline unsigned int blocks_for(Index n, int threads = kThreads, Index cap = 65535) {
  Index b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > cap) b = cap;
  return static_cast<unsigned int>(b);
}

// Sum over a warp (full mask); every lane gets the result. Fixed tree order: deterministic.
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); the result is
// returned to thread 0 (others get a partial). `smem` holds >= 32 values. Ends with a barrier
// so smem can be reused right away.
template <class T>
__device__ __forceinline__ T block_sum(T v, T* smem) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  T s = T(0);
  if (warp == 0) {
    s = lane < nw ? smem[lane] : T(0);
    s = warp_sum(s);
  }
  __syncthreads();
  return s;
}

// Element (i, j) of a [rows x cols] matrix from a flat index t in [0, rows*cols).
struct Coord {
  Index i, j;
};
__device__ __forceinline__ Coord coord(Index t, Index rows) {
  const Index j = t / rows;
  return {t - j * rows, j};
}

}  // namespace detail
}  // namespace cuda
}  // namespace scvae
