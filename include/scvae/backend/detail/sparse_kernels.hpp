#pragma once
// The inner loops of CpuBackend's sparse first layer (backend/cpu.hpp, spmm / spmm_grad) over
// a range of genes of a gene-major batch, dispatched on the CPU's vector width (isa.hpp). Per
// non-zero they are one axpy of length M (the hidden size, 250 in the reference model): 98M
// multiply-adds per training step of the 10x-MBC workload, which SSE2 without FMA runs at a
// quarter of AVX-512's rate.
#include <cstdint>

#include "../../core/view.hpp"
#include "isa.hpp"

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
// order. dc [M x N] (ld lddc), dw [M x G] (ld lddw).
template <class T>
SCVAE_ISA_BODY void spmm_grad_genes_body(GeneMajorView gm, Index g0, Index g1, const T* dc, Index lddc, T alpha,
                                         T* dw, Index lddw, Index M) {
  for (Index g = g0; g < g1; ++g) {
    T* __restrict__ dwg = dw + g * lddw;
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
                                 Index lddw, Index M) {
    spmm_grad_genes_body<T>(gm, g0, g1, dc, lddc, alpha, dw, lddw, M);
  }
};

// isa: a CpuIsa value (cpu_isa() in the backend; tests pass each variant the CPU supports).
template <class T>
void spmm_genes(int isa, GeneMajorView gm, Index g0, Index g1, const T* w, Index ldw, T alpha, T* out, Index ldo,
                Index M) {
  isa_run<SpmmGenes<T>>(isa, gm, g0, g1, w, ldw, alpha, out, ldo, M);
}
template <class T>
void spmm_grad_genes(int isa, GeneMajorView gm, Index g0, Index g1, const T* dc, Index lddc, T alpha, T* dw,
                     Index lddw, Index M) {
  isa_run<SpmmGradGenes<T>>(isa, gm, g0, g1, dc, lddc, alpha, dw, lddw, M);
}

}  // namespace detail
}  // namespace scvae
