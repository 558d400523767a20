#pragma once
// The inner loops of CpuBackend's sparse first layer (backend/cpu.hpp, spmm / spmm_grad) over
// a range of genes of a gene-major batch, dispatched on the CPU's vector width (isa.hpp). Per
// non-zero they are one axpy of length M (the hidden size, 250 in the reference model): 98M
// multiply-adds per training step of the 10x-MBC workload, which SSE2 without FMA runs at a
// quarter of AVX-512's rate.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "../../core/view.hpp"
#include "isa.hpp"

// The float AVX-512 kernels below (spmm_genes_avx512, spmm_grad_genes_avx512) exist where the
// run-time dispatch has an AVX-512 variant, or where the consumer's own flags target AVX-512
// (then no dispatch exists and it is always used for float).
#if SCVAE_ISA_DISPATCH
#define SCVAE_SPARSE_AVX512 SCVAE_TARGET_AVX512
#elif defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__)
#define SCVAE_SPARSE_AVX512
#endif
#ifdef SCVAE_SPARSE_AVX512
#include <immintrin.h>
#endif

namespace scvae {
namespace detail {

// Entries of gene g: start[g] .. start[g+1]-1, each a (cell, value) pair.
struct GeneMajorView {
  const std::int64_t* start;
  const std::int32_t* cell;
  const float* val;
};

// out[:, cell] += alpha * val * w[:, g] for the entries of genes g0..g1-1. w [M x G] (ld ldw),
// out [M x N] (ld ldo). (Blocking the M rows so that a block of the output stays in L1 was
// measured 2.3x slower: W is then read in strided pieces over several passes, and streaming W
// once, column after column, is what bounds this loop.)
template <class T>
SCVAE_ISA_BODY void spmm_genes_body(GeneMajorView gm, Index g0, Index g1, const T* w, Index ldw, T alpha, T* out,
                                    Index ldo, Index M) {
  for (Index g = g0; g < g1; ++g) {
    const T* __restrict__ wg = w + g * ldw;
    for (std::int64_t e = gm.start[g]; e < gm.start[g + 1]; ++e) {
      const T v = alpha * static_cast<T>(gm.val[e]);
      T* __restrict__ on = out + static_cast<Index>(gm.cell[e]) * ldo;
#ifdef _OPENMP
#pragma omp simd
#endif
      for (Index i = 0; i < M; ++i) on[i] += v * wg[i];
    }
  }
}

// dw[:, g] += alpha * val * dc[:, cell] for the entries of genes g0..g1-1, in increasing cell
// order. dc [M x N] (ld lddc), dw [M x G] (ld lddw). accumulate = false: dw[:, g] = the sum
// instead (zero for a gene without entries; dw's old values are never read, NaN included).
template <class T>
SCVAE_ISA_BODY void spmm_grad_genes_body(GeneMajorView gm, Index g0, Index g1, const T* dc, Index lddc, T alpha,
                                         T* dw, Index lddw, Index M, bool accumulate) {
  for (Index g = g0; g < g1; ++g) {
    T* __restrict__ dwg = dw + g * lddw;
    if (!accumulate) std::fill(dwg, dwg + M, T(0));  // the column is then in L1 for its entries
    for (std::int64_t e = gm.start[g]; e < gm.start[g + 1]; ++e) {
      const T v = alpha * static_cast<T>(gm.val[e]);
      const T* __restrict__ dcn = dc + static_cast<Index>(gm.cell[e]) * lddc;
#ifdef _OPENMP
#pragma omp simd
#endif
      for (Index i = 0; i < M; ++i) dwg[i] += v * dcn[i];
    }
  }
}

template <class T>
struct SpmmGenes {
  static SCVAE_ISA_BODY void run(GeneMajorView gm, Index g0, Index g1, const T* w, Index ldw, T alpha, T* out,
                                 Index ldo, Index M) {
    spmm_genes_body<T>(gm, g0, g1, w, ldw, alpha, out, ldo, M);
  }
};
template <class T>
struct SpmmGradGenes {
  static SCVAE_ISA_BODY void run(GeneMajorView gm, Index g0, Index g1, const T* dc, Index lddc, T alpha, T* dw,
                                 Index lddw, Index M, bool accumulate) {
    spmm_grad_genes_body<T>(gm, g0, g1, dc, lddc, alpha, dw, lddw, M, accumulate);
  }
};

// spmm_grad in float with AVX-512 and the gradient column held in registers: up to 16 vectors
// (256 rows) accumulate every entry of gene g before one store. The loop above loads and stores dw[:, g] once per entry, and those stores bound it (the
// reads of dc come from L2 either way). Same terms in the same order and the same FMA as that
// loop's AVX-512 variant. Explicit registers, not an array: GCC 12 kept an array of __m512 in
// registers but also stored it to the stack on every entry, which is the cost removed here.
#ifdef SCVAE_SPARSE_AVX512
#define SCVAE_SPARSE_R16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's mask intrinsics (bug 105593)
#endif
// One block of up to 256 rows, NF of its 16 vectors full and (NF < 16) one more masked to the
// block's last rows: full vectors load and store without a mask. (With a mask per vector, 16
// masks in 7 usable mask registers were reloaded from the stack on every entry: 45% of the
// first layer's time in perf at 250 rows, where only the last vector is partial.)
// Vector J of a block: full for J < NF, masked by tail (zeros beyond) for J == NF, absent after.
template <int NF, int J>
SCVAE_SPARSE_AVX512 inline __m512 block_load(const float* p, __mmask16 tail) {
  if constexpr (J < NF) return _mm512_loadu_ps(p + 16 * J);
  else if constexpr (J == NF) return _mm512_maskz_loadu_ps(tail, p + 16 * J);
  else return _mm512_setzero_ps();
}
template <int NF, int J>
SCVAE_SPARSE_AVX512 inline void block_store(float* p, __m512 x, __mmask16 tail) {
  if constexpr (J < NF) _mm512_storeu_ps(p + 16 * J, x);
  else if constexpr (J == NF) _mm512_mask_storeu_ps(p + 16 * J, tail, x);
}
// (Vectors after NF are computed on zeros and never stored: the compiler drops them.)
// ACC = false writes the sums (zeros for a gene without entries) without reading dw: the
// training step's overwrite mode, which saves zero_grads its pass over this layer's gradient.
template <int NF, bool ACC>
SCVAE_SPARSE_AVX512 inline void spmm_grad_block_avx512(GeneMajorView gm, Index g0, Index g1, const float* dc0,
                                                       Index lddc, float alpha, float* dw0, Index lddw,
                                                       __mmask16 tail) {
  for (Index g = g0; g < g1; ++g) {
    const std::int64_t e0 = gm.start[g], e1 = gm.start[g + 1];
    if (ACC && e0 == e1) continue;
    float* dwg = dw0 + g * lddw;
#define SCVAE_LOAD(j) __m512 a##j = ACC ? block_load<NF, j>(dwg, tail) : _mm512_setzero_ps();
    SCVAE_SPARSE_R16(SCVAE_LOAD)
#undef SCVAE_LOAD
    for (std::int64_t e = e0; e < e1; ++e) {
      const __m512 v = _mm512_set1_ps(alpha * gm.val[e]);
      const float* d = dc0 + static_cast<Index>(gm.cell[e]) * lddc;
#define SCVAE_FMA(j) a##j = _mm512_fmadd_ps(v, block_load<NF, j>(d, tail), a##j);
      SCVAE_SPARSE_R16(SCVAE_FMA)
#undef SCVAE_FMA
    }
#define SCVAE_STORE(j) block_store<NF, j>(dwg, a##j, tail);
    SCVAE_SPARSE_R16(SCVAE_STORE)
#undef SCVAE_STORE
  }
}
// The forward product the same way: w[:, g] in registers for all of gene g's entries, each entry
// one load, FMA and store of its cell's output column (the loop above also reloads w[:, g]).
template <int NF>
SCVAE_SPARSE_AVX512 inline void spmm_block_avx512(GeneMajorView gm, Index g0, Index g1, const float* w0, Index ldw,
                                                  float alpha, float* out0, Index ldo, __mmask16 tail) {
  for (Index g = g0; g < g1; ++g) {
    const std::int64_t e0 = gm.start[g], e1 = gm.start[g + 1];
    if (e0 == e1) continue;
    const float* wg = w0 + g * ldw;
#define SCVAE_LOAD(j) const __m512 w##j = block_load<NF, j>(wg, tail);
    SCVAE_SPARSE_R16(SCVAE_LOAD)
#undef SCVAE_LOAD
    for (std::int64_t e = e0; e < e1; ++e) {
      const __m512 v = _mm512_set1_ps(alpha * gm.val[e]);
      float* o = out0 + static_cast<Index>(gm.cell[e]) * ldo;
#define SCVAE_FMA(j) block_store<NF, j>(o, _mm512_fmadd_ps(v, w##j, block_load<NF, j>(o, tail)), tail);
      SCVAE_SPARSE_R16(SCVAE_FMA)
#undef SCVAE_FMA
    }
  }
}
SCVAE_SPARSE_AVX512 inline void spmm_genes_avx512(GeneMajorView gm, Index g0, Index g1, const float* w, Index ldw,
                                                  float alpha, float* out, Index ldo, Index M) {
  for (Index r0 = 0; r0 < M; r0 += 256) {
    const Index rows = std::min<Index>(256, M - r0);
    const __mmask16 tail = __mmask16((1u << (rows % 16)) - 1u);
    switch (static_cast<int>(rows / 16)) {
#define SCVAE_CASE(j) \
  case j: spmm_block_avx512<j>(gm, g0, g1, w + r0, ldw, alpha, out + r0, ldo, tail); break;
      SCVAE_SPARSE_R16(SCVAE_CASE)
#undef SCVAE_CASE
      default: spmm_block_avx512<16>(gm, g0, g1, w + r0, ldw, alpha, out + r0, ldo, tail); break;
    }
  }
}
template <bool ACC>
SCVAE_SPARSE_AVX512 inline void spmm_grad_genes_avx512(GeneMajorView gm, Index g0, Index g1, const float* dc,
                                                       Index lddc, float alpha, float* dw, Index lddw, Index M) {
  for (Index r0 = 0; r0 < M; r0 += 256) {
    const Index rows = std::min<Index>(256, M - r0);
    const int nf = static_cast<int>(rows / 16);
    const __mmask16 tail = __mmask16((1u << (rows % 16)) - 1u);
    const float* dc0 = dc + r0;
    float* dw0 = dw + r0;
    switch (nf) {
#define SCVAE_CASE(j) \
  case j: spmm_grad_block_avx512<j, ACC>(gm, g0, g1, dc0, lddc, alpha, dw0, lddw, tail); break;
      SCVAE_SPARSE_R16(SCVAE_CASE)
#undef SCVAE_CASE
      default: spmm_grad_block_avx512<16, ACC>(gm, g0, g1, dc0, lddc, alpha, dw0, lddw, tail); break;
    }
  }
}
// Whether float takes the kernels above: the run-time choice, or always where the consumer's
// flags target AVX-512 (no dispatch).
inline bool sparse_avx512(int isa) {
#if SCVAE_ISA_DISPATCH
  return isa == isa_avx512;
#else
  (void)isa;
  return true;
#endif
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#undef SCVAE_SPARSE_R16
#endif

// isa: a CpuIsa value (cpu_isa() in the backend; tests pass each variant the CPU supports).
template <class T>
void spmm_genes(int isa, GeneMajorView gm, Index g0, Index g1, const T* w, Index ldw, T alpha, T* out, Index ldo,
                Index M) {
#ifdef SCVAE_SPARSE_AVX512
  if constexpr (std::is_same_v<T, float>)
    if (sparse_avx512(isa)) return spmm_genes_avx512(gm, g0, g1, w, ldw, alpha, out, ldo, M);
#endif
  isa_run<SpmmGenes<T>>(isa, gm, g0, g1, w, ldw, alpha, out, ldo, M);
}
// accumulate = false: dw[:, g0:g1] = the sums (see spmm_grad_genes_body).
template <class T>
void spmm_grad_genes(int isa, GeneMajorView gm, Index g0, Index g1, const T* dc, Index lddc, T alpha, T* dw,
                     Index lddw, Index M, bool accumulate = true) {
#ifdef SCVAE_SPARSE_AVX512
  if constexpr (std::is_same_v<T, float>)
    if (sparse_avx512(isa)) {
      if (accumulate) return spmm_grad_genes_avx512<true>(gm, g0, g1, dc, lddc, alpha, dw, lddw, M);
      return spmm_grad_genes_avx512<false>(gm, g0, g1, dc, lddc, alpha, dw, lddw, M);
    }
#endif
  isa_run<SpmmGradGenes<T>>(isa, gm, g0, g1, dc, lddc, alpha, dw, lddw, M, accumulate);
}

}  // namespace detail
}  // namespace scvae
