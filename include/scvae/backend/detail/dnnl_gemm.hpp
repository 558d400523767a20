#pragma once
// Large float GEMMs through oneDNN (CMake: SCVAE_USE_DNNL, Debian's libdnnl-dev).
//
// Why: oneDNN generates its kernels at run time for the machine's widest ISA, whatever the
// consumer's -march, and OpenBLAS 0.3.21 does not know newer processors (here it is pinned to its
// AVX2 kernels by OPENBLAS_CORETYPE=Haswell): on the 2-core Zen 5 of docs/performance.md the
// model's GEMMs run 1.7x to 2.9x faster through oneDNN (bench_gemm). Same fp32 arithmetic; only
// the order of the sums differs.
//
// Threads: called outside an OpenMP parallel region, oneDNN shares the product out over the
// caller's OpenMP threads (omp_get_max_threads(), i.e. CpuBackend::set_threads); oneDNN uses a
// fixed partition per thread count, so results depend on the thread count only, as for the rest
// of the backend. Inside a parallel region it runs on the calling thread.
//
// Signals: asynchronous signals are held back while oneDNN runs (detail/defer_signals.hpp: its
// generated GEMM kernels let a signal frame land on the heap).
#ifdef SCVAE_USE_DNNL
#include <dnnl.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>

#include "../../core/error.hpp"
#include "../../core/view.hpp"
#include "defer_signals.hpp"

namespace scvae::detail {

// Column-major C [M x N] = alpha * op(A) * op(B) + beta * C is row-major C^T = op(B)^T op(A)^T:
// oneDNN's operands are B's and A's storage with their strides, no copies. Returns false when
// oneDNN declines (the caller then uses its own GEMM).
inline bool dnnl_gemm(bool trans_a, bool trans_b, float alpha, MatrixView<const float> a, MatrixView<const float> b,
                      float beta, MatrixView<float> c) {
  const Index M = c.rows, N = c.cols, K = trans_a ? a.rows : a.cols;
  if (M <= 0 || N <= 0 || K <= 0) return false;
  const Index lda = a.ld, ldb = b.ld, ldc = c.ld;
  // A long inner dimension and a small C (the input gradient of the 27,998-wide output layer,
  // [250 x 100] summed over 56k rows): oneDNN's matmul primitive (brgemm kernels, K split over
  // threads) runs it 1.36x faster than its sgemm. Others: sgemm, which is faster for tall C.
  const bool long_inner = K >= 4 * std::max(M, N);
  if (!long_inner) {
    const DeferAsyncSignals defer;
    return dnnl_sgemm(trans_b ? 'T' : 'N', trans_a ? 'T' : 'N', N, M, K, alpha, b.data, ldb, a.data, lda, beta,
                      c.data, ldc) == dnnl_success;
  }
  using dnnl::memory;
  using Key = std::array<std::int64_t, 10>;
  std::uint32_t alpha_bits = 0, beta_bits = 0;
  std::memcpy(&alpha_bits, &alpha, sizeof alpha);
  std::memcpy(&beta_bits, &beta, sizeof beta);
  const Key key{M, N, K, lda, ldb, ldc, trans_a, trans_b, alpha_bits, beta_bits};
  struct Cached {
    dnnl::matmul prim;
    memory src, weights, dst;  // descriptors for this shape; the data pointers are set per call
  };
  // Per thread: a primitive is JIT-compiled once per shape (a few shapes per model) and reused.
  thread_local dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  thread_local dnnl::stream stream(engine);
  thread_local std::map<Key, Cached> cache;
  auto it = cache.find(key);
  if (it == cache.end()) {
    try {
      // src = op(B)^T [N x K], weights = op(A)^T [K x M], dst = C^T [N x M], by strides.
      const memory::desc src({N, K}, memory::data_type::f32, trans_b ? memory::dims{1, ldb} : memory::dims{ldb, 1});
      const memory::desc weights({K, M}, memory::data_type::f32,
                                 trans_a ? memory::dims{1, lda} : memory::dims{lda, 1});
      const memory::desc dst({N, M}, memory::data_type::f32, memory::dims{ldc, 1});
      dnnl::primitive_attr attr;
      if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
      if (beta != 0.0f) {
        dnnl::post_ops ops;
        ops.append_sum(beta);
        attr.set_post_ops(ops);
      }
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, dst), attr, engine);
      it = cache.emplace(key, Cached{dnnl::matmul(pd), memory(src, engine, DNNL_MEMORY_NONE),
                                     memory(weights, engine, DNNL_MEMORY_NONE), memory(dst, engine, DNNL_MEMORY_NONE)})
               .first;
    } catch (const dnnl::error&) {
      return false;  // declined before touching C: the caller's GEMM takes over
    }
  }
  Cached& p = it->second;
  // From here C is being written: a failure is an error, never a fallback (beta applied twice).
  dnnl_status_t st = dnnl_memory_set_data_handle(p.src.get(), const_cast<float*>(b.data));
  if (st == dnnl_success) st = dnnl_memory_set_data_handle(p.weights.get(), const_cast<float*>(a.data));
  if (st == dnnl_success) st = dnnl_memory_set_data_handle(p.dst.get(), c.data);
  // The C call with the arguments on the stack (the C++ execute() builds a map on the heap).
  const dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, p.src.get()}, {DNNL_ARG_WEIGHTS, p.weights.get()},
                                   {DNNL_ARG_DST, p.dst.get()}};
  {
    const DeferAsyncSignals defer;
    if (st == dnnl_success) st = dnnl_primitive_execute(p.prim.get(), stream.get(), 3, args);
    if (st == dnnl_success) st = dnnl_stream_wait(stream.get());
  }
  if (st != dnnl_success) throw Error("oneDNN: matmul execution failed (status " + std::to_string(int(st)) + ")");
  return true;
}

}  // namespace scvae::detail
#endif
