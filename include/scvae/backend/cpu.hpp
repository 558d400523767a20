#pragma once
// The CPU backend: GEMMs through oneDNN, OpenBLAS or Eigen (see gemm()), plain loops (OpenMP,
// vectorised with run-time ISA dispatch where it pays) for everything else.
//
// A backend is a type with static member templates over the scalar T; models and layers are
// written against this set of operations only (see docs/architecture.md, "The backend trait").
// Memory: Buffer<T> owns storage, data(buf) gives the raw pointer that views wrap. All matrices
// are column-major [features x batch]. Activation gradients overwrite (=), parameter gradients
// accumulate (+=), as in llm.c.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef SCVAE_USE_BLAS
// Optional BLAS (CMake: -DSCVAE_USE_BLAS=ON, Debian's OpenBLAS): the large GEMMs go to cblas_?gemm.
#include <cblas.h>
extern "C" void openblas_set_num_threads(int) __attribute__((weak));  // OpenBLAS only
#endif

#include "../core/error.hpp"
#include "detail/adam_kernel.hpp"
#include "detail/dnnl_gemm.hpp"
#include "detail/log_softmax_kernels.hpp"
#include "detail/sparse_kernels.hpp"
#include "../core/random.hpp"
#include "../core/view.hpp"
#include "../distributions/likelihood.hpp"
#include "../inference/gaussian.hpp"
#include "../inference/mixture.hpp"

namespace scvae {

struct CpuBackend {
  static constexpr const char* name = "cpu";
  template <class T>
  using Buffer = std::vector<T, Eigen::aligned_allocator<T>>;

  template <class T>
  using EMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  template <class T>
  using Map = Eigen::Map<EMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
  template <class T>
  using CMap = Eigen::Map<const EMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
  template <class T>
  static Map<T> map(MatrixView<T> m) { return Map<T>(m.data, m.rows, m.cols, Eigen::OuterStride<>(m.ld)); }
  template <class T>
  static CMap<T> map(MatrixView<const T> m) { return CMap<T>(m.data, m.rows, m.cols, Eigen::OuterStride<>(m.ld)); }

  // ---- threads and memory -------------------------------------------------------------------
  // n threads for scvae's OpenMP loops and GEMM blocks; Eigen itself stays single-threaded (each
  // GEMM block is one Eigen call, see gemm()).
  static void set_threads(int n) {
    if (n <= 0) return;
    Eigen::setNbThreads(1);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
  }
  static int threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
  }
  template <class T>
  static Buffer<T> allocate(Index n) { return Buffer<T>(static_cast<std::size_t>(n)); }
  template <class T>
  static T* data(Buffer<T>& b) { return b.data(); }
  template <class T>
  static const T* data(const Buffer<T>& b) { return b.data(); }
  // Host <-> backend transfers (identity copies on the CPU).
  template <class T>
  static void upload(VectorView<T> dst, const T* host) { std::copy(host, host + dst.size, dst.data); }
  template <class T>
  static void download(T* host, VectorView<const T> src) { std::copy(src.data, src.data + src.size, host); }

  template <class T>
  static void fill(VectorView<T> v, T value) {
    // Zeros through memset: for large ranges glibc uses non-temporal stores, which skip reading
    // the lines first (zero_grads over 84 MB: measured in docs/performance.md).
    const bool zero = value == T(0) && !std::signbit(value);
    for_ranges(v.size, [&](Index i0, Index i1) {
      if (i1 <= i0) return;  // (an empty view may have a null data pointer: not for memset)
      if (zero) std::memset(static_cast<void*>(v.data + i0), 0, static_cast<std::size_t>(i1 - i0) * sizeof(T));
      else std::fill(v.data + i0, v.data + i1, value);
    });
  }
  template <class T>
  static void fill(MatrixView<T> m, T value) {
    for (Index j = 0; j < m.cols; ++j) std::fill(&m(0, j), &m(0, j) + m.rows, value);
  }
  template <class T>
  static void copy(MatrixView<const T> src, MatrixView<T> dst) { map(dst) = map(src); }

  // ---- dense linear algebra -----------------------------------------------------------------
  // With oneDNN (SCVAE_USE_DNNL), large float products outside a parallel region are oneDNN's,
  // threaded by it (detail/dnnl_gemm.hpp); what follows is the path for the others.
  // GEMM threading: a product big enough to share is split into one fixed block per thread (rows
  // of C, columns of C, or the inner dimension with partial products summed in thread order), and
  // each block runs as ONE single-threaded GEMM (Eigen, or BLAS under SCVAE_USE_BLAS). One barrier
  // per GEMM instead of Eigen's per-panel synchronisation: on a busy machine a fine-grained
  // parallel GEMM waits a scheduler time slice at every sync (measured: docs/performance.md).
  // Results depend only on the thread count (fixed ranges), never on scheduling.
  static constexpr double kGemmMinWorkPerThread = 2e7;  // multiply-adds
  static constexpr int kMaxGemmThreads = 64;

  // C = alpha * op(A) * op(B) + beta * C on the calling thread only.
  template <class T>
  static void gemm_serial(bool trans_a, bool trans_b, T alpha, MatrixView<const T> a, MatrixView<const T> b, T beta,
                          MatrixView<T> c) {
    if (c.rows == 0 || c.cols == 0) return;
    const Index k = trans_a ? a.rows : a.cols;
#ifdef SCVAE_USE_BLAS
    if (k > 0 && double(c.rows) * double(c.cols) * double(k) >= 1e5) {
      static const bool one_blas_thread = [] {  // BLAS runs inside our threads: never nested
        if (openblas_set_num_threads) openblas_set_num_threads(1);
        return true;
      }();
      (void)one_blas_thread;
      const auto ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
      const int lda = int(std::max<Index>(1, a.ld)), ldb = int(std::max<Index>(1, b.ld));
      if constexpr (std::is_same<T, float>::value)
        cblas_sgemm(CblasColMajor, ta, tb, int(c.rows), int(c.cols), int(k), alpha, a.data, lda, b.data, ldb, beta,
                    c.data, int(c.ld));
      else
        cblas_dgemm(CblasColMajor, ta, tb, int(c.rows), int(c.cols), int(k), alpha, a.data, lda, b.data, ldb, beta,
                    c.data, int(c.ld));
      return;
    }
#endif
    auto C = map(c);
    if (beta == T(0)) C.setZero();
    else if (beta != T(1)) C *= beta;
    if (k == 0) return;
    auto A = map(a);
    auto Bm = map(b);
    // Tiny products: Eigen's coefficient-based product (never threaded, no packing). Otherwise
    // Eigen's GEMM, which is single-threaded inside an OpenMP region or after set_threads().
    if (double(c.rows) * double(c.cols) * double(k) < 2e5) {
      if (!trans_a && !trans_b) C.noalias() += alpha * A.lazyProduct(Bm);
      else if (trans_a && !trans_b) C.noalias() += alpha * A.transpose().lazyProduct(Bm);
      else if (!trans_a && trans_b) C.noalias() += alpha * A.lazyProduct(Bm.transpose());
      else C.noalias() += alpha * A.transpose().lazyProduct(Bm.transpose());
      return;
    }
    if (!trans_a && !trans_b) C.noalias() += alpha * A * Bm;
    else if (trans_a && !trans_b) C.noalias() += alpha * A.transpose() * Bm;
    else if (!trans_a && trans_b) C.noalias() += alpha * A * Bm.transpose();
    else C.noalias() += alpha * A.transpose() * Bm.transpose();
  }

  // Per-thread scratch of the calling thread for partial products (grown, never shrunk).
  template <class T>
  static T* gemm_scratch(std::size_t n) {
    thread_local Buffer<T> buf;
    if (buf.size() < n) buf.resize(n);
    return buf.data();
  }

  // C = beta * C + sum_{u < n_parts} parts[u] (each [M x N], ld M), summed in part order.
  // Called by every thread of an OpenMP region after its barrier: the columns are shared out.
  template <class T>
  static void sum_parts(T* const* parts, int n_parts, T beta, MatrixView<T> c) {
    const Index M = c.rows, N = c.cols;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (Index j = 0; j < N; ++j) {
      T* cj = &c(0, j);
      for (Index i = 0; i < M; ++i) {
        T acc = parts[0][i + j * M];
        for (int u = 1; u < n_parts; ++u) acc += parts[u][i + j * M];
        cj[i] = beta == T(0) ? acc : beta * cj[i] + acc;
      }
    }
  }

  // C = alpha * op(A) * op(B) + beta * C (column-major, any ld).
  template <class T>
  static void gemm(bool trans_a, bool trans_b, T alpha, MatrixView<const T> a, MatrixView<const T> b, T beta,
                   MatrixView<T> c) {
    const Index M = c.rows, N = c.cols, K = trans_a ? a.rows : a.cols;
    const double work = double(M) * double(N) * double(K);
    bool in_region = false;
#ifdef _OPENMP
    in_region = omp_in_parallel();
#endif
#ifdef SCVAE_USE_DNNL
    // Large float products: oneDNN, threaded by oneDNN (detail/dnnl_gemm.hpp).
    if constexpr (std::is_same<T, float>::value)
      if (!in_region && work >= 1e5 && detail::dnnl_gemm(trans_a, trans_b, alpha, a, b, beta, c)) return;
#endif
    int nt = 1;
#ifdef _OPENMP
    if (!in_region) nt = std::max(1, std::min(omp_get_max_threads(), int(work / kGemmMinWorkPerThread)));
#endif
    if (nt <= 1) {
      gemm_serial(trans_a, trans_b, alpha, a, b, beta, c);
      return;
    }
    nt = std::min(nt, kMaxGemmThreads);
#ifdef _OPENMP
    // op(A) rows r0..r1: A's rows (no transpose) or A's columns (transposed); likewise op(B).
    auto a_rows = [&](Index r0, Index n) { return trans_a ? a.col_block(r0, n) : a.row_block(r0, n); };
    auto a_inner = [&](Index k0, Index n) { return trans_a ? a.row_block(k0, n) : a.col_block(k0, n); };
    auto b_inner = [&](Index k0, Index n) { return trans_b ? b.col_block(k0, n) : b.row_block(k0, n); };
    auto b_cols = [&](Index c0, Index n) { return trans_b ? b.row_block(c0, n) : b.col_block(c0, n); };
    const bool split_inner = K >= 4 * std::max(M, N);
    if (!split_inner) {
      const bool by_rows = M >= N;
      const Index D = by_rows ? M : N;
#pragma omp parallel num_threads(nt)
      {
        const int t = omp_get_thread_num(), T_ = omp_get_num_threads();
        // Row blocks aligned to 16 (whole SIMD registers).
        const Index q = by_rows ? 16 : 1;
        const Index d0 = (D / q * t / T_) * q, d1 = t + 1 == T_ ? D : (D / q * (t + 1) / T_) * q;
        if (d1 > d0) {
          if (by_rows)
            gemm_serial(trans_a, trans_b, alpha, a_rows(d0, d1 - d0), b, beta, c.row_block(d0, d1 - d0));
          else
            gemm_serial(trans_a, trans_b, alpha, a, b_cols(d0, d1 - d0), beta, c.col_block(d0, d1 - d0));
        }
      }
      return;
    }
    // Inner-dimension split: thread t forms P_t = alpha op(A)[:, K_t] op(B)[K_t, :] in its own
    // scratch, then C = beta C + sum_t P_t in thread order.
    T* parts[kMaxGemmThreads] = {};
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), T_ = omp_get_num_threads();
      const Index k0 = K * t / T_, k1 = K * (t + 1) / T_;
      T* p = gemm_scratch<T>(static_cast<std::size_t>(M * N));
      parts[t] = p;
      gemm_serial(trans_a, trans_b, alpha, a_inner(k0, k1 - k0), b_inner(k0, k1 - k0), T(0), MatrixView<T>(p, M, N));
#pragma omp barrier
      sum_parts(parts, T_, beta, c);
    }
#endif
  }

  // ---- sparse first layer ------------------------------------------------------------------
  // The batch [G x N] CSC is re-indexed gene-major (a counting sort, O(G + nnz)) so that each
  // weight column W[:, g] of a non-zero gene is read (and dW[:, g] written) ONCE per batch, in
  // increasing g: cell-major order would stream the 28 MB weight matrix once per cell.
  struct GeneMajor {
    std::vector<std::int64_t> start;  // [G + 1]: entries of gene g are start[g] .. start[g+1]-1
    std::vector<std::int32_t> cell;   // [nnz] column (cell) of each entry, increasing per gene
    std::vector<float> val;           // [nnz]
    // The batch this was built from, element for element: the forward pass (spmm) and the
    // weight gradient (spmm_grad) see the same batch, and batches reuse their buffers, so
    // pointers cannot tell one batch from the next; comparing the contents (~50 us for 185k
    // non-zeros) saves rebuilding (~0.3 to 0.6 ms, serial) for the second call.
    Index rows = -1;
    std::vector<std::int64_t> key_ptr;  // [cols + 1], relative to ptr[0]
    std::vector<std::int32_t> key_idx;  // [nnz]
    std::vector<float> key_val;         // [nnz]
    bool holds(CscView<float> x) const {
      const std::int64_t base = x.cols > 0 ? x.ptr[0] : 0, nnz = x.nnz();
      if (rows != x.rows || static_cast<Index>(key_ptr.size()) != x.cols + 1 ||
          static_cast<std::int64_t>(key_idx.size()) != nnz)
        return false;
      for (Index n = 0; n <= x.cols; ++n)
        if (key_ptr[static_cast<std::size_t>(n)] != (x.cols > 0 ? x.ptr[n] - base : 0)) return false;
      const std::size_t bytes = static_cast<std::size_t>(nnz);
      return bytes == 0 || (std::memcmp(key_idx.data(), x.idx + base, bytes * sizeof(std::int32_t)) == 0 &&
                            std::memcmp(key_val.data(), x.val + base, bytes * sizeof(float)) == 0);
    }
  };
  static const GeneMajor& gene_major(CscView<float> x) {
    thread_local GeneMajor gm;  // grown once, reused: no allocation per step
    if (gm.holds(x)) return gm;
    gm.rows = -1;  // holds nothing until rebuilt (a bad batch below throws midway)
    const Index G = x.rows;
    // The batch's first reader (the encoder's first layer runs before the likelihood checks the
    // counts): offsets and indices are checked here, or bad ones would write outside the arrays.
    for (Index n = 0; n < x.cols; ++n)
      SCVAE_CHECK(x.ptr[n] <= x.ptr[n + 1], "sparse input: column " + std::to_string(n) + " has decreasing offsets");
    const std::int64_t base = x.cols > 0 ? x.ptr[0] : 0, nnz = x.nnz();
    gm.start.assign(static_cast<std::size_t>(G + 1), 0);
    if (static_cast<std::int64_t>(gm.cell.size()) < nnz) {  // headroom: batches differ in nnz
      gm.cell.resize(static_cast<std::size_t>(nnz + nnz / 2));
      gm.val.resize(static_cast<std::size_t>(nnz + nnz / 2));
      gm.key_idx.reserve(static_cast<std::size_t>(nnz + nnz / 2));
      gm.key_val.reserve(static_cast<std::size_t>(nnz + nnz / 2));
    }
    for (std::int64_t k = base; k < base + nnz; ++k) {
      const std::int32_t g = x.idx[k];
      if (static_cast<std::uint32_t>(g) >= static_cast<std::uint64_t>(G))
        throw InputError("sparse input: row index " + std::to_string(g) + " out of range [0, " + std::to_string(G) +
                         ") at entry " + std::to_string(k - base));
      ++gm.start[g + 1];
    }
    for (Index g = 0; g < G; ++g) gm.start[g + 1] += gm.start[g];
    // Scatter with a moving cursor per gene (start[g] is restored afterwards).
    for (Index n = 0; n < x.cols; ++n)
      for (std::int64_t k = x.ptr[n]; k < x.ptr[n + 1]; ++k) {
        const std::int64_t pos = gm.start[x.idx[k]]++;
        gm.cell[pos] = static_cast<std::int32_t>(n);
        gm.val[pos] = x.val[k];
      }
    for (Index g = G; g > 0; --g) gm.start[g] = gm.start[g - 1];
    gm.start[0] = 0;
    gm.rows = x.rows;
    gm.key_ptr.resize(static_cast<std::size_t>(x.cols + 1));
    for (Index n = 0; n <= x.cols; ++n) gm.key_ptr[static_cast<std::size_t>(n)] = x.cols > 0 ? x.ptr[n] - base : 0;
    gm.key_idx.assign(x.idx + base, x.idx + base + nnz);
    gm.key_val.assign(x.val + base, x.val + base + nnz);
    return gm;
  }
  // Gene range of thread t of T_: balanced by non-zeros, fixed for a given batch and T_.
  static Index gene_split(const GeneMajor& gm, Index G, int t, int T_) {
    if (t == 0) return 0;
    if (t == T_) return G;
    const std::int64_t target = gm.start[G] * t / T_;
    return static_cast<Index>(std::lower_bound(gm.start.begin(), gm.start.begin() + G + 1, target) -
                              gm.start.begin());
  }
  static int sparse_threads(std::int64_t nnz, Index M) {
#ifdef _OPENMP
    if (!omp_in_parallel() && double(nnz) * double(M) > 2e6) return std::min(omp_get_max_threads(), kMaxGemmThreads);
#endif
    (void)nnz;
    (void)M;
    return 1;
  }

  // C [M x N] = alpha * W [M x G] * X [G x N] (sparse) + beta * C. Cost M * nnz: only the weight
  // columns of genes that are non-zero in the batch are read, each once. Threads take gene
  // ranges into private partial sums, added in thread order (deterministic per thread count).
  template <class T>
  static void spmm(T alpha, MatrixView<const T> w, CscView<float> x, T beta, MatrixView<T> c) {
    const Index M = w.rows, N = x.cols, G = x.rows;
    const GeneMajor& gm = gene_major(x);
    const int nt = sparse_threads(x.nnz(), M);
    const detail::GeneMajorView gv{gm.start.data(), gm.cell.data(), gm.val.data()};
    const int isa = detail::cpu_isa();
    auto accumulate = [&](Index g0, Index g1, T* out, Index ldo) {  // detail/sparse_kernels.hpp
      detail::spmm_genes<T>(isa, gv, g0, g1, w.data, w.ld, alpha, out, ldo, M);
    };
    if (nt <= 1) {
      for (Index n = 0; n < N; ++n) {
        T* cn = &c(0, n);
        if (beta == T(0)) std::fill(cn, cn + M, T(0));
        else if (beta != T(1)) for (Index i = 0; i < M; ++i) cn[i] *= beta;
      }
      accumulate(0, G, c.data, c.ld);
      return;
    }
#ifdef _OPENMP
    T* parts[kMaxGemmThreads] = {};
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), T_ = omp_get_num_threads();
      T* p = gemm_scratch<T>(static_cast<std::size_t>(M * N));
      std::fill(p, p + M * N, T(0));
      parts[t] = p;
      accumulate(gene_split(gm, G, t, T_), gene_split(gm, G, t + 1, T_), p, M);
#pragma omp barrier
      sum_parts(parts, T_, beta, c);
    }
#endif
  }
  // dW [M x G] += alpha * dC [M x N] * X^T (X [G x N] sparse); accumulate = false: dW = the
  // product, old values never read (the training step's overwrite mode: no zeroing pass). Threads
  // take gene ranges (whole columns of dW), so no two threads write the same element; each element
  // sums its cells in increasing order, so the result does not depend on the thread count.
  template <class T>
  static void spmm_grad(T alpha, MatrixView<const T> dc, CscView<float> x, MatrixView<T> dw, bool accumulate = true) {
    const Index M = dw.rows, G = x.rows;
    const GeneMajor& gm = gene_major(x);
    const int nt = sparse_threads(x.nnz(), M);
    const detail::GeneMajorView gv{gm.start.data(), gm.cell.data(), gm.val.data()};
    const int isa = detail::cpu_isa();
    auto genes = [&](Index g0, Index g1) {  // detail/sparse_kernels.hpp
      detail::spmm_grad_genes<T>(isa, gv, g0, g1, dc.data, dc.ld, alpha, dw.data, dw.ld, M, accumulate);
    };
    if (nt <= 1) {
      genes(0, G);
      return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), T_ = omp_get_num_threads();
      genes(gene_split(gm, G, t, T_), gene_split(gm, G, t + 1, T_));
    }
#endif
  }
  // C[:, j] += b for every column j. Large outputs (the count heads) split their rows over threads.
  template <class T>
  static void add_bias(MatrixView<T> c, VectorView<const T> b) {
    for_ranges(c.cols > 1 ? c.rows : 0, [&](Index i0, Index i1) {
      for (Index j = 0; j < c.cols; ++j) {
        T* cj = &c(0, j);
        for (Index i = i0; i < i1; ++i) cj[i] += b[i];
      }
    });
    if (c.cols <= 1)
      for (Index j = 0; j < c.cols; ++j)
        for (Index i = 0; i < c.rows; ++i) c(i, j) += b[i];
  }
  // db += row sums of dC (each row summed over columns in order, whatever the thread count).
  template <class T>
  static void bias_grad(MatrixView<const T> dc, VectorView<T> db) {
    for_ranges(dc.rows, [&](Index i0, Index i1) {
      for (Index j = 0; j < dc.cols; ++j) {
        const T* cj = &dc(0, j);
        for (Index i = i0; i < i1; ++i) db[i] += cj[i];
      }
    });
  }

  // ---- elementwise activations --------------------------------------------------------------
  template <class T, class F>
  static void map2(MatrixView<T> out, MatrixView<const T> in, F f) {
    for (Index j = 0; j < out.cols; ++j)
      for (Index i = 0; i < out.rows; ++i) out(i, j) = f(in(i, j));
  }
  template <class T, class F>
  static void map3(MatrixView<T> out, MatrixView<const T> a, MatrixView<const T> b, F f) {
    for (Index j = 0; j < out.cols; ++j)
      for (Index i = 0; i < out.rows; ++i) out(i, j) = f(a(i, j), b(i, j));
  }
  template <class T>
  static void relu_forward(MatrixView<T> out, MatrixView<const T> in) {
    map2(out, in, [](T v) { return v > T(0) ? v : T(0); });
  }
  // d_in = d_out * [in > 0]; d_in may alias d_out.
  template <class T>
  static void relu_backward(MatrixView<T> d_in, MatrixView<const T> d_out, MatrixView<const T> in) {
    map3(d_in, d_out, in, [](T g, T v) { return v > T(0) ? g : T(0); });
  }
  template <class T>
  static void softplus_forward(MatrixView<T> out, MatrixView<const T> in) {
    map2(out, in, [](T v) { return v > T(0) ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); });
  }
  template <class T>
  static void softplus_backward(MatrixView<T> d_in, MatrixView<const T> d_out, MatrixView<const T> in) {
    map3(d_in, d_out, in, [](T g, T v) { return g / (T(1) + std::exp(-v)); });
  }
  // Inverted dropout: mask holds 0 or 1/(1-p), drawn here; out = in * mask.
  template <class T>
  static void dropout_mask(MatrixView<T> mask, T p, Rng& rng) {
    const T keep = T(1) / (T(1) - p);
    for (Index j = 0; j < mask.cols; ++j)
      for (Index i = 0; i < mask.rows; ++i) mask(i, j) = rng.uniform() < double(p) ? T(0) : keep;
  }
  template <class T>
  static void multiply(MatrixView<T> out, MatrixView<const T> a, MatrixView<const T> b) {
    map3(out, a, b, [](T x, T y) { return x * y; });
  }

  // ---- batch normalisation (per feature = row, over the batch = columns) ---------------------
  // Training: y = gamma * xhat + beta, xhat = (x - mean) * inv_std with batch statistics;
  // running statistics move by `momentum` (unbiased variance, as PyTorch). gamma may be empty
  // (scVAE's "center, no scale").
  template <class T>
  static void batch_norm_forward_train(MatrixView<T> y, MatrixView<T> xhat, VectorView<T> mean, VectorView<T> inv_std,
                                       MatrixView<const T> x, VectorView<const T> gamma, VectorView<const T> beta,
                                       VectorView<T> running_mean, VectorView<T> running_var, T eps, T momentum) {
    const Index F = x.rows, N = x.cols;
    for (Index i = 0; i < F; ++i) {
      T s = 0;
      for (Index j = 0; j < N; ++j) s += x(i, j);
      const T mu = s / T(N);
      T ss = 0;
      for (Index j = 0; j < N; ++j) ss += (x(i, j) - mu) * (x(i, j) - mu);
      const T var = ss / T(N);
      mean[i] = mu;
      inv_std[i] = T(1) / std::sqrt(var + eps);
      if (running_mean.size) {
        const T unbiased = N > 1 ? ss / T(N - 1) : var;
        running_mean[i] = (T(1) - momentum) * running_mean[i] + momentum * mu;
        running_var[i] = (T(1) - momentum) * running_var[i] + momentum * unbiased;
      }
    }
    for (Index j = 0; j < N; ++j)
      for (Index i = 0; i < F; ++i) {
        const T h = (x(i, j) - mean[i]) * inv_std[i];
        xhat(i, j) = h;
        y(i, j) = (gamma.size ? gamma[i] * h : h) + beta[i];
      }
  }
  template <class T>
  static void batch_norm_forward_eval(MatrixView<T> y, MatrixView<const T> x, VectorView<const T> gamma,
                                      VectorView<const T> beta, VectorView<const T> running_mean,
                                      VectorView<const T> running_var, T eps) {
    for (Index j = 0; j < x.cols; ++j)
      for (Index i = 0; i < x.rows; ++i) {
        const T h = (x(i, j) - running_mean[i]) / std::sqrt(running_var[i] + eps);
        y(i, j) = (gamma.size ? gamma[i] * h : h) + beta[i];
      }
  }
  // dx = inv_std / N * (N * g - sum(g) - xhat * sum(g * xhat)), g = dy * gamma.
  template <class T>
  static void batch_norm_backward(MatrixView<T> dx, VectorView<T> dgamma, VectorView<T> dbeta, MatrixView<const T> dy,
                                  MatrixView<const T> xhat, VectorView<const T> inv_std, VectorView<const T> gamma) {
    const Index F = dy.rows, N = dy.cols;
    for (Index i = 0; i < F; ++i) {
      T sg = 0, sgx = 0, sdy = 0, sdyx = 0;
      const T gm = gamma.size ? gamma[i] : T(1);
      for (Index j = 0; j < N; ++j) {
        sdy += dy(i, j);
        sdyx += dy(i, j) * xhat(i, j);
      }
      sg = gm * sdy;
      sgx = gm * sdyx;
      dbeta[i] += sdy;
      if (dgamma.size) dgamma[i] += sdyx;
      const T k = inv_std[i] / T(N);
      for (Index j = 0; j < N; ++j) dx(i, j) = k * (T(N) * gm * dy(i, j) - sg - xhat(i, j) * sgx);
    }
  }

  // ---- random numbers ----------------------------------------------------------------------
  template <class T>
  static void random_normal(MatrixView<T> out, Rng& rng) {
    for (Index j = 0; j < out.cols; ++j)
      for (Index i = 0; i < out.rows; ++i) out(i, j) = static_cast<T>(rng.normal());
  }

  // ---- reductions and optimiser support ----------------------------------------------------
  // Whole-arena passes (21M parameters for the reference VAE) are memory-bound: each is ONE
  // vectorised sweep, split over threads in fixed contiguous ranges (reductions combine the
  // per-thread partials in thread order: deterministic for a given thread count).
  static constexpr Index kParallelMin = Index(1) << 16;
  // Calls f(i0, i1) on thread t's share of [0, n).
  template <class F>
  static void for_ranges(Index n, F&& f) {
#ifdef _OPENMP
    if (n >= kParallelMin && !omp_in_parallel() && omp_get_max_threads() > 1) {
#pragma omp parallel
      {
        const int t = omp_get_thread_num(), T_ = omp_get_num_threads();
        // Ranges aligned to 16 elements (whole cache lines of floats).
        const Index q = (n + 15) / 16;
        const Index i0 = std::min(n, q * t / T_ * 16), i1 = t + 1 == T_ ? n : std::min(n, q * (t + 1) / T_ * 16);
        if (i1 > i0) f(i0, i1);
      }
      return;
    }
#endif
    f(Index(0), n);
  }
  // Sum over threads' partials of g(i0, i1) -> R, in thread order.
  template <class R, class F>
  static R reduce_ranges(Index n, F&& g) {
#ifdef _OPENMP
    if (n >= kParallelMin && !omp_in_parallel() && omp_get_max_threads() > 1) {
      R part[kMaxGemmThreads] = {};
      int used = 1;
#pragma omp parallel num_threads(std::min(omp_get_max_threads(), kMaxGemmThreads))
      {
        const int t = omp_get_thread_num(), T_ = omp_get_num_threads();
        const Index q = (n + 15) / 16;
        const Index i0 = std::min(n, q * t / T_ * 16), i1 = t + 1 == T_ ? n : std::min(n, q * (t + 1) / T_ * 16);
        part[t] = i1 > i0 ? g(i0, i1) : R(0);
        if (t == 0) used = T_;
      }
      R r = part[0];
      for (int t = 1; t < used; ++t) r += part[t];
      return r;
    }
#endif
    return g(Index(0), n);
  }

  template <class T>
  static T sum(VectorView<const T> v) {
    T s = 0;
    for (Index i = 0; i < v.size; ++i) s += v[i];
    return s;
  }
  template <class T>
  static double sum_squares(VectorView<const T> v) {
    const int isa = detail::cpu_isa();  // detail/adam_kernel.hpp
    return reduce_ranges<double>(v.size, [&](Index i0, Index i1) {
      return detail::sum_squares_range<T>(isa, v.data + i0, i1 - i0);
    });
  }
  // x * 0 is 0 for finite x and NaN for +-inf and NaN: one branch-free vectorised sweep.
  template <class T>
  static bool all_finite(VectorView<const T> v) {
    const T z = reduce_ranges<T>(v.size, [&](Index i0, Index i1) {
      const T* x = v.data;
      T acc = T(0);
#ifdef _OPENMP
#pragma omp simd reduction(+ : acc)
#endif
      for (Index i = i0; i < i1; ++i) acc += x[i] * T(0);
      return acc;
    });
    return z == T(0);
  }
  template <class T>
  static void scale(VectorView<T> v, T a) {
    for_ranges(v.size, [&](Index i0, Index i1) {
      T* x = v.data;
      for (Index i = i0; i < i1; ++i) x[i] *= a;
    });
  }
  template <class T>
  static void clamp(VectorView<T> v, T lo, T hi) {
    for_ranges(v.size, [&](Index i0, Index i1) {
      T* x = v.data;
      for (Index i = i0; i < i1; ++i) x[i] = std::min(hi, std::max(lo, x[i]));
    });
  }
  // One Adam step over the whole arena. The gradient each parameter sees is
  //   clip(grad_scale * g, [-clip, clip]) (+ weight_decay * p unless decoupled),
  // so global-norm clipping (grad_scale < 1) and element-wise clipping (clip > 0; 0 = off) cost
  // no pass of their own and g itself is left as computed. weight_decay is added to the gradient
  // (L2, as torch.optim.Adam) unless decoupled (AdamW). One pass over p, g, m, v, in float at the
  // CPU's vector width (detail/adam_kernel.hpp).
  template <class T>
  static void adam_step(VectorView<T> p, VectorView<const T> g, VectorView<T> m, VectorView<T> v, T lr, T beta1,
                        T beta2, T eps, T weight_decay, bool decoupled, long step, T grad_scale = T(1),
                        T clip = T(0)) {
    detail::AdamCoeffs<T> c;
    const T bc1 = T(1) - std::pow(beta1, T(step));
    const T bc2 = T(1) - std::pow(beta2, T(step));
    c.step_size = lr / bc1;
    c.inv_sqrt_bc2 = T(1) / std::sqrt(bc2);
    c.eps = eps;
    c.beta1 = beta1;
    c.beta2 = beta2;
    c.grad_scale = grad_scale;
    c.clip = clip;
    c.l2 = decoupled ? T(0) : weight_decay;
    c.wd_dec = decoupled ? lr * weight_decay : T(0);
    const int isa = detail::cpu_isa();
    for_ranges(p.size, [&](Index i0, Index i1) {
      detail::adam_range<T>(isa, p.data + i0, g.data + i0, m.data + i0, v.data + i0, i1 - i0, c);
    });
  }

  // ---- Gaussian latent (see inference/gaussian.hpp for the formulas) -------------------------
  // z [Z x N] = mu + exp(lv/2) eps, kl [N] = KL(q || N(0, I)) per cell; head [2Z x N].
  template <class T>
  static void gaussian_latent_forward(MatrixView<T> z, VectorView<T> kl, MatrixView<const T> head,
                                      MatrixView<const T> eps, LatentClamp c) {
    const Index Z = z.rows;
    for (Index j = 0; j < z.cols; ++j) {
      T k = 0;
      for (Index i = 0; i < Z; ++i) {
        const T mu = head(i, j), lv = gaussian::clamp_lv(head(Z + i, j), T(c.lv_min), T(c.lv_max));
        z(i, j) = mu + std::exp(T(0.5) * lv) * eps(i, j);
        k += gaussian::kl_std_normal(mu, lv);
      }
      if (kl.data) kl[j] = k;
    }
  }
  // d_head [2Z x N] (overwritten) from dz = dL/dz [Z x N] and the KL's weight in the loss, kl_scale.
  template <class T>
  static void gaussian_latent_backward(MatrixView<T> d_head, MatrixView<const T> dz, MatrixView<const T> head,
                                       MatrixView<const T> eps, T kl_scale, LatentClamp c) {
    const Index Z = dz.rows;
    for (Index j = 0; j < dz.cols; ++j)
      for (Index i = 0; i < Z; ++i) {
        const T mu = head(i, j), raw = head(Z + i, j);
        const T lv = gaussian::clamp_lv(raw, T(c.lv_min), T(c.lv_max));
        const T s = std::exp(T(0.5) * lv);
        d_head(i, j) = dz(i, j) + kl_scale * mu;
        d_head(Z + i, j) = gaussian::lv_active(raw, T(c.lv_min), T(c.lv_max))
                               ? dz(i, j) * eps(i, j) * T(0.5) * s + kl_scale * T(0.5) * (s * s - T(1))
                               : T(0);
      }
  }
  // out[j] = sum_i log N(z_ij; 0, 1) - log q(z_ij | x_j): the importance weight's latent part.
  template <class T>
  static void gaussian_log_weight(VectorView<T> out, MatrixView<const T> z, MatrixView<const T> head,
                                  MatrixView<const T> eps, LatentClamp c) {
    const Index Z = z.rows;
    for (Index j = 0; j < z.cols; ++j) {
      T s = 0;
      for (Index i = 0; i < Z; ++i)
        s += gaussian::log_prior_minus_log_q(z(i, j), eps(i, j), gaussian::clamp_lv(head(Z + i, j), T(c.lv_min), T(c.lv_max)));
      out[j] = s;
    }
  }

  // ---- count likelihood heads (distributions/likelihood.hpp holds the fused CPU pass) --------
  template <class T>
  static void likelihood_forward_backward(const LikelihoodSpec& spec, MatrixView<const T> heads,
                                          VectorView<const T> gene_log_theta, CscView<float> counts,
                                          VectorView<const T> cell_weight, VectorView<T> log_px,
                                          MatrixView<T> d_heads, VectorView<T> d_gene_log_theta) {
    scvae::likelihood_forward_backward<T>(spec, heads, gene_log_theta, counts, cell_weight, log_px, d_heads,
                                          d_gene_log_theta);
  }
  template <class T>
  static void likelihood_mean_variance(const LikelihoodSpec& spec, MatrixView<const T> heads,
                                       VectorView<const T> gene_log_theta, MatrixView<T> mean, MatrixView<T> variance) {
    scvae::mean_variance<T>(spec, heads, gene_log_theta, mean, variance);
  }

  // ---- library-size mean (models/count_decoder.hpp, MeanLink::library) ----------------------
  // out[j] = log(max(l_j, 1)), l_j = column j's total count: the sum of x, or of expm1(x) where x
  // holds log1p(counts) (the encoder input; within float rounding of the raw total). In double.
  template <class T>
  static void column_log_library(CscView<float> x, bool log1p_input, VectorView<T> out) {
    for (Index j = 0; j < x.cols; ++j) {
      double s = 0;
      for (auto k = x.ptr[j]; k < x.ptr[j + 1]; ++k) s += log1p_input ? std::expm1(double(x.val[k])) : double(x.val[k]);
      out[j] = T(std::log(s < 1.0 ? 1.0 : s));  // NaN stays NaN (the likelihood pass names the column)
    }
  }
  // a[:, j] += shift[j] - logsumexp_i a[i, j]: log-softmax over the genes of each column plus its
  // log library (detail/log_softmax_kernels.hpp: vectorised at the CPU's width, sums chunked
  // into double).
  template <class T>
  static void log_softmax_shift(MatrixView<T> a, VectorView<const T> shift) {
    const int isa = detail::cpu_isa();
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (a.cols > 1 && a.rows * a.cols >= kParallelMin)
#endif
    for (Index j = 0; j < a.cols; ++j) detail::log_softmax_shift_column<T>(isa, a.data + j * a.ld, a.rows, shift[j]);
  }
  // The backward of log_softmax_shift: dy[:, j] -= softmax_j * sum_i dy[i, j], with the softmax
  // recomputed from its output y as exp(y[:, j] - shift[j]).
  template <class T>
  static void log_softmax_shift_backward(MatrixView<T> dy, MatrixView<const T> y, VectorView<const T> shift) {
    const int isa = detail::cpu_isa();
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (dy.cols > 1 && dy.rows * dy.cols >= kParallelMin)
#endif
    for (Index j = 0; j < dy.cols; ++j)
      detail::log_softmax_shift_backward_column<T>(isa, dy.data + j * dy.ld, y.data + j * y.ld, dy.rows, shift[j]);
  }

  // ---- Gaussian-mixture VAE (models/gmvae.hpp) ----------------------------------------------
  // Columns are component-major: column k*N + j is cell j under component k.
  // q [K x N] = softmax of logits per column, log_q its logarithm.
  template <class T>
  static void softmax_columns(MatrixView<T> q, MatrixView<T> log_q, MatrixView<const T> logits) {
    for (Index j = 0; j < logits.cols; ++j) {
      T m = logits(0, j);
      for (Index k = 1; k < logits.rows; ++k) m = std::max(m, logits(k, j));
      T s = 0;
      for (Index k = 0; k < logits.rows; ++k) s += std::exp(logits(k, j) - m);
      const T ls = m + std::log(s);
      for (Index k = 0; k < logits.rows; ++k) {
        log_q(k, j) = logits(k, j) - ls;
        q(k, j) = std::exp(log_q(k, j));
      }
    }
  }
  // pre [H x K*N]: pre[:, k*N + j] = p[:, j] + wk[:, k] (the one-hot component input of q(z|x,k)).
  template <class T>
  static void broadcast_components(MatrixView<T> pre, MatrixView<const T> p, MatrixView<const T> wk) {
    const Index N = p.cols, K = wk.cols, H = p.rows;
    for (Index k = 0; k < K; ++k)
      for (Index j = 0; j < N; ++j)
        for (Index i = 0; i < H; ++i) pre(i, k * N + j) = p(i, j) + wk(i, k);
  }
  // dp [H x N] = sum_k d_pre[:, k*N + j] (overwritten); dwk[:, k] += sum_j d_pre[:, k*N + j].
  template <class T>
  static void reduce_components(MatrixView<T> dp, MatrixView<T> dwk, MatrixView<const T> d_pre) {
    const Index N = dp.cols, K = dwk.cols, H = dp.rows;
    fill(dp, T(0));
    for (Index k = 0; k < K; ++k)
      for (Index j = 0; j < N; ++j)
        for (Index i = 0; i < H; ++i) {
          dp(i, j) += d_pre(i, k * N + j);
          dwk(i, k) += d_pre(i, k * N + j);
        }
  }
  // w[k*N + j] = scale * q[k, j].
  template <class T>
  static void mixture_weights(VectorView<T> w, MatrixView<const T> q, T scale) {
    const Index K = q.rows, N = q.cols;
    for (Index k = 0; k < K; ++k)
      for (Index j = 0; j < N; ++j) w[k * N + j] = scale * q(k, j);
  }
  // z = mu + e^{lv/2} eps and klz[c] = KL(N(mu, e^lv) || N(m_k, softplus(s_k))) per column c = k*N + j.
  template <class T>
  static void mixture_latent_forward(MatrixView<T> z, VectorView<T> klz, MatrixView<const T> head,
                                     MatrixView<const T> eps, MatrixView<const T> prior_mean,
                                     MatrixView<const T> prior_raw, Index n, LatentClamp c) {
    const Index Z = z.rows;
    for (Index col = 0; col < z.cols; ++col) {
      const Index k = col / n;
      T kl = 0;
      for (Index i = 0; i < Z; ++i) {
        const T mu = head(i, col), lv = gaussian::clamp_lv(head(Z + i, col), T(c.lv_min), T(c.lv_max));
        z(i, col) = mu + std::exp(T(0.5) * lv) * eps(i, col);
        kl += gaussian::kl_normal(mu, lv, prior_mean(i, k), std::log(gaussian::softplus_scalar(prior_raw(i, k))));
      }
      if (klz.data) klz[col] = kl;
    }
  }
  // d_head overwritten; d_prior_mean, d_prior_raw accumulated; kl_scale[c] is d loss / d klz[c].
  template <class T>
  static void mixture_latent_backward(MatrixView<T> d_head, MatrixView<T> d_prior_mean, MatrixView<T> d_prior_raw,
                                      MatrixView<const T> dz, MatrixView<const T> head, MatrixView<const T> eps,
                                      MatrixView<const T> prior_mean, MatrixView<const T> prior_raw,
                                      VectorView<const T> kl_scale, Index n, LatentClamp c) {
    const Index Z = dz.rows;
    for (Index col = 0; col < dz.cols; ++col) {
      const Index k = col / n;
      const T ks = kl_scale[col];
      for (Index i = 0; i < Z; ++i) {
        const T mu = head(i, col), raw = head(Z + i, col);
        const T lv = gaussian::clamp_lv(raw, T(c.lv_min), T(c.lv_max));
        const T s = prior_raw(i, k), plv = std::log(gaussian::softplus_scalar(s));
        const T inv_pv = std::exp(-plv), d = mu - prior_mean(i, k), sd = std::exp(T(0.5) * lv);
        d_head(i, col) = dz(i, col) + ks * d * inv_pv;
        d_head(Z + i, col) = gaussian::lv_active(raw, T(c.lv_min), T(c.lv_max))
                                 ? dz(i, col) * eps(i, col) * T(0.5) * sd + ks * T(0.5) * (sd * sd * inv_pv - T(1))
                                 : T(0);
        d_prior_mean(i, k) -= ks * d * inv_pv;
        d_prior_raw(i, k) += ks * T(0.5) * (T(1) - (sd * sd + d * d) * inv_pv) * gaussian::dlog_softplus(s);
      }
    }
  }
  // The exact sum over components (inference/mixture.hpp, shared with the CUDA kernel): ll, kl
  // and d_logits (overwritten) per cell; d_prior_logits += scale * d ELBO / d prior logits
  // (skipped if empty). scale = -1/N for the loss.
  template <class T>
  static void mixture_combine(VectorView<T> ll, VectorView<T> kl, MatrixView<T> d_logits, VectorView<T> d_prior_logits,
                              MatrixView<const T> q, MatrixView<const T> log_q, VectorView<const T> log_px,
                              VectorView<const T> klz, VectorView<const T> log_prior, T beta, T scale) {
    const Index K = q.rows, N = q.cols;
    for (Index j = 0; j < N; ++j) {
      mixture::combine_column(j, q, log_q, log_px.data, klz.data, log_prior.data, beta, scale, ll[j], kl[j], d_logits);
      if (d_prior_logits.data)
        for (Index k = 0; k < K; ++k) d_prior_logits[k] += scale * beta * (q(k, j) - std::exp(log_prior[k]));
    }
  }
};

}  // namespace scvae
