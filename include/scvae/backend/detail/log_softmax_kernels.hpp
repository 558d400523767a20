#pragma once
// The library-size mean's per-column sweeps (CpuBackend::log_softmax_shift and its backward,
// models/count_decoder.hpp), compiled at the CPU's widest vector ISA through isa.hpp. Measured
// on 27,998 genes x 1,000 columns (a GMVAE K = 10 batch), 2 threads, forward + backward: 34 +
// 25 ms at the default SSE2 width, 8.8 + 6.3 ms at AVX-512.
//
// Sums of a column run in T over chunks of 256 (full vector width), the chunks added in double:
// a double accumulator would halve the float vector width, and 256 terms keep float's error
// near 1e-6 relative.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "../../core/view.hpp"
#include "../../math/fast_math.hpp"
#include "isa.hpp"

namespace scvae {
namespace detail {

// exp in a vectorised loop: the branch-free float exp (math/fast_math.hpp, relative error <= 2e-7);
// std::exp in double.
template <class T>
SCVAE_FAST_INLINE T exp_in_loop(T x) {
  if constexpr (std::is_same_v<T, float>) return math::fast::fast_exp(x);
  else return std::exp(x);
}

// sum_i x[i] (Exp: sum_i exp(x[i] - m)) over [0, n): in T over chunks of 256, the chunks in double.
template <bool Exp, class T>
SCVAE_ISA_BODY double chunked_sum(const T* x, Index n, T m = T(0)) {
  double s = 0;
  for (Index i0 = 0; i0 < n; i0 += 256) {
    const Index i1 = std::min(n, i0 + 256);
    T part = T(0);
#ifdef _OPENMP
#pragma omp simd reduction(+ : part)
#endif
    for (Index i = i0; i < i1; ++i) {
      if constexpr (Exp) part += exp_in_loop(x[i] - m);
      else part += x[i];
    }
    s += double(part);
  }
  return s;
}

// c[i] += shift - logsumexp(c[0 .. rows)).
template <class T>
struct LogSoftmaxShiftColumn {
  static SCVAE_ISA_BODY void run(T* c, Index rows, T shift) {
    T m = c[0];
#ifdef _OPENMP
#pragma omp simd reduction(max : m)
#endif
    for (Index i = 1; i < rows; ++i) m = c[i] > m ? c[i] : m;  // a NaN reaches the sum below
    const T d = shift - (m + T(std::log(chunked_sum<true>(c, rows, m))));
#ifdef _OPENMP
#pragma omp simd
#endif
    for (Index i = 0; i < rows; ++i) c[i] += d;
  }
};

// d[i] -= exp(y[i] - shift) * sum_i' d[i'] (the softmax recomputed from the forward's output y).
template <class T>
struct LogSoftmaxShiftBackwardColumn {
  static SCVAE_ISA_BODY void run(T* d, const T* y, Index rows, T shift) {
    const T tt = T(chunked_sum<false>(d, rows));
#ifdef _OPENMP
#pragma omp simd
#endif
    for (Index i = 0; i < rows; ++i) d[i] -= exp_in_loop(y[i] - shift) * tt;
  }
};

template <class T>
void log_softmax_shift_column(int isa, T* c, Index rows, T shift) {
  isa_run<LogSoftmaxShiftColumn<T>>(isa, c, rows, shift);
}
template <class T>
void log_softmax_shift_backward_column(int isa, T* d, const T* y, Index rows, T shift) {
  isa_run<LogSoftmaxShiftBackwardColumn<T>>(isa, d, y, rows, shift);
}

}  // namespace detail
}  // namespace scvae
