#pragma once
// Elementwise kernels: grid-stride loops over the rows*cols elements of [rows x cols] views
// (any ld). Functors, not device lambdas, so consumers need no --extended-lambda.
// Formulas are those of CpuBackend, line for line.
#include <curand_kernel.h>

#include "../../math/special.hpp"
#include "common.cuh"

namespace scvae {
namespace cuda {
namespace detail {

// out = f(in)
template <class T, class F>
__global__ void map1_kernel(MatrixView<T> out, MatrixView<const T> in, F f) {
  const Index n = out.rows * out.cols;
  for (Index t = blockIdx.x * Index(blockDim.x) + threadIdx.x; t < n; t += Index(gridDim.x) * blockDim.x) {
    const Coord c = coord(t, out.rows);
    out(c.i, c.j) = f(in(c.i, c.j));
  }
}
// out = f(a, b)
template <class T, class F>
__global__ void map2_kernel(MatrixView<T> out, MatrixView<const T> a, MatrixView<const T> b, F f) {
  const Index n = out.rows * out.cols;
  for (Index t = blockIdx.x * Index(blockDim.x) + threadIdx.x; t < n; t += Index(gridDim.x) * blockDim.x) {
    const Coord c = coord(t, out.rows);
    out(c.i, c.j) = f(a(c.i, c.j), b(c.i, c.j));
  }
}
// out = f(out), in place
template <class T, class F>
__global__ void apply_kernel(MatrixView<T> out, F f) {
  const Index n = out.rows * out.cols;
  for (Index t = blockIdx.x * Index(blockDim.x) + threadIdx.x; t < n; t += Index(gridDim.x) * blockDim.x) {
    const Coord c = coord(t, out.rows);
    out(c.i, c.j) = f(out(c.i, c.j));
  }
}

template <class T>
struct SetTo {
  T v;
  __device__ T operator()(T) const { return v; }
};
template <class T>
struct Scale {
  T a;
  __device__ T operator()(T x) const { return x * a; }
};
// std::min(hi, std::max(lo, x)) exactly (a NaN becomes lo, as on the CPU).
template <class T>
struct Clamp {
  T lo, hi;
  __device__ T operator()(T x) const {
    const T m = (lo < x) ? x : lo;
    return (m < hi) ? m : hi;
  }
};
template <class T>
struct Relu {
  __device__ T operator()(T v) const { return v > T(0) ? v : T(0); }
};
template <class T>
struct ReluGrad {
  __device__ T operator()(T g, T v) const { return v > T(0) ? g : T(0); }
};
template <class T>
struct Softplus {
  __device__ T operator()(T v) const { return v > T(0) ? v + log1p(exp(-v)) : log1p(exp(v)); }
};
template <class T>
struct SoftplusGrad {
  __device__ T operator()(T g, T v) const { return g / (T(1) + exp(-v)); }
};
template <class T>
struct Mul {
  __device__ T operator()(T x, T y) const { return x * y; }
};

// C[:, j] += b
template <class T>
__global__ void add_bias_kernel(MatrixView<T> c /*[M x N]*/, const T* __restrict__ b /*[M]*/) {
  const Index n = c.rows * c.cols;
  for (Index t = blockIdx.x * Index(blockDim.x) + threadIdx.x; t < n; t += Index(gridDim.x) * blockDim.x) {
    const Coord k = coord(t, c.rows);
    c(k.i, k.j) += b[k.i];
  }
}
// db[i] += sum_j dc(i, j): one thread per row, columns in order (the CPU's order per element).
template <class T>
__global__ void bias_grad_kernel(MatrixView<const T> dc /*[M x N]*/, T* __restrict__ db /*[M]*/) {
  for (Index i = blockIdx.x * Index(blockDim.x) + threadIdx.x; i < dc.rows; i += Index(gridDim.x) * blockDim.x) {
    T s = db[i];
    for (Index j = 0; j < dc.cols; ++j) s += dc(i, j);
    db[i] = s;
  }
}

// Adam over the arena (bias corrections precomputed on the host, as the CPU computes them).
template <class T>
__global__ void adam_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v, Index n,
                            T lr, T beta1, T beta2, T eps, T weight_decay, bool decoupled, T step_size,
                            T inv_sqrt_bc2, T grad_scale, T clip) {
  for (Index i = blockIdx.x * Index(blockDim.x) + threadIdx.x; i < n; i += Index(gridDim.x) * blockDim.x) {
    T gi = grad_scale * g[i];
    if (clip > T(0)) gi = math::clip_symmetric(gi, clip);  // a NaN stays NaN, as on the CPU
    const T pi = p[i];
    if (!decoupled) gi += weight_decay * pi;
    const T mi = beta1 * m[i] + (T(1) - beta1) * gi;
    const T vi = beta2 * v[i] + (T(1) - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    T upd = step_size * mi / (sqrt(vi) * inv_sqrt_bc2 + eps);
    if (decoupled) upd += lr * weight_decay * pi;
    p[i] = pi - upd;
  }
}

// Counter-based draws (Philox4x32-10): element (i, j) uses subsequence i + j * rows of `seed`,
// so the result depends only on the seed and the shape, never on the launch configuration.
template <class T>
__device__ __forceinline__ T philox_normal(unsigned long long seed, unsigned long long id) {
  curandStatePhilox4_32_10_t s;
  curand_init(seed, id, 0ULL, &s);
  if constexpr (sizeof(T) == 8) return curand_normal_double(&s);
  else return curand_normal(&s);
}
template <class T>
__global__ void random_normal_kernel(MatrixView<T> out, unsigned long long seed) {
  const Index n = out.rows * out.cols;
  for (Index t = blockIdx.x * Index(blockDim.x) + threadIdx.x; t < n; t += Index(gridDim.x) * blockDim.x) {
    const Coord c = coord(t, out.rows);
    out(c.i, c.j) = philox_normal<T>(seed, static_cast<unsigned long long>(t));
  }
}
// Inverted dropout mask: 0 with probability p, else 1 / (1 - p). u in [0, 1) as on the CPU.
template <class T>
__global__ void dropout_mask_kernel(MatrixView<T> mask, T p, T keep, unsigned long long seed) {
  const Index n = mask.rows * mask.cols;
  for (Index t = blockIdx.x * Index(blockDim.x) + threadIdx.x; t < n; t += Index(gridDim.x) * blockDim.x) {
    const Coord c = coord(t, mask.rows);
    curandStatePhilox4_32_10_t s;
    curand_init(seed, static_cast<unsigned long long>(t), 0ULL, &s);
    const double u = 1.0 - curand_uniform_double(&s);  // curand gives (0, 1]
    mask(c.i, c.j) = u < double(p) ? T(0) : keep;
  }
}

}  // namespace detail
}  // namespace cuda
}  // namespace scvae
