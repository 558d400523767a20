// CpuBackend's dense and sparse products against Eigen's plain double product, in every regime
// the backend chooses between: tiny (coefficient-based), one serial GEMM, threads over rows of
// C, threads over columns of C, threads over the inner dimension (partial sums) — each with
// every transpose combination, views with ld > rows, and beta 0, 1 and 0.5. With
// -DSCVAE_USE_BLAS=ON the serial blocks are cblas_?gemm calls, and with SCVAE_USE_DNNL the float
// products of 1e5 multiply-adds and more are oneDNN calls, so the same cases test those paths.
#include <catch2/catch.hpp>

#include <Eigen/Core>
#include <cmath>
#include <csignal>
#include <limits>
#include <vector>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <scvae/backend/cpu.hpp>
#include <scvae/backend/detail/defer_signals.hpp>
#include <scvae/backend/detail/sparse_kernels.hpp>
#include <scvae/data/csr_matrix.hpp>

using namespace scvae;
using B = CpuBackend;
using Md = Eigen::MatrixXd;

namespace {

// A [rows x cols] block inside a larger allocation (ld = rows + pad), filled with N(0, 1).
template <class T>
struct Padded {
  Index rows, cols, ld;
  std::vector<T> buf;
  Padded(Index r, Index c, Index pad, Rng& rng) : rows(r), cols(c), ld(r + pad), buf(std::size_t(ld * c + 1)) {
    for (auto& x : buf) x = T(rng.normal());
  }
  MatrixView<T> view() { return {buf.data(), rows, cols, ld}; }
  MatrixView<const T> cview() const { return {buf.data(), rows, cols, ld}; }
  Md dense() const {
    Md m(rows, cols);
    for (Index j = 0; j < cols; ++j)
      for (Index i = 0; i < rows; ++i) m(i, j) = double(buf[std::size_t(i + j * ld)]);
    return m;
  }
};

// max over elements of |got - ref| / bound: the error relative to the bound of the sum.
double max_rel_to_bound(const Md& got, const Md& ref, const Md& bound) {
  return ((got - ref).cwiseAbs().array() / (bound.array() + 1e-300)).maxCoeff();
}
// A dense [rows x cols] column-major buffer (ld = rows) as a double matrix.
template <class T>
Md as_dense(const std::vector<T>& v, Index rows, Index cols) {
  return Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>>(v.data(), rows, cols).template cast<double>();
}

// max |C - ref| / (|A| |B| + |beta C0|), elementwise: the error relative to the bound of the sum.
template <class T>
double check_gemm(Index M, Index N, Index K, bool ta, bool tb, double beta, Rng& rng) {
  Padded<T> a(ta ? K : M, ta ? M : K, 3, rng), b(tb ? N : K, tb ? K : N, 5, rng), c(M, N, 7, rng);
  const Md A = ta ? Md(a.dense().transpose()) : a.dense(), Bm = tb ? Md(b.dense().transpose()) : b.dense();
  const Md C0 = c.dense();
  const Md ref = 0.75 * A * Bm + beta * C0;
  const Md bound = 0.75 * A.cwiseAbs() * Bm.cwiseAbs() + std::fabs(beta) * C0.cwiseAbs();
  const T sentinel = c.buf[std::size_t(M)];  // first padding element of column 0
  B::gemm<T>(ta, tb, T(0.75), a.cview(), b.cview(), T(beta), c.view());
  REQUIRE(c.buf[std::size_t(M)] == sentinel);  // padding untouched
  return max_rel_to_bound(c.dense(), ref, bound);
}

struct Shape {
  const char* regime;
  Index M, N, K;
};
// Work thresholds in backend/cpu.hpp: < 2e5 multiply-adds coefficient-based; threads only with
// >= 2e7 per thread; inner split when K >= 4 max(M, N); otherwise rows (M >= N) or columns.
const Shape kShapes[] = {
    {"tiny", 7, 5, 3},
    {"serial", 61, 37, 53},
    {"threads over rows", 333, 211, 613},
    {"threads over columns", 97, 701, 617},
    {"threads over the inner dimension", 45, 67, 20011},
};

// A random sparse [G x N] count matrix (each entry non-zero with probability 0.07, values 1 to
// max_count) as compressed lists along the outer index, entries in increasing inner order:
// cell-major (CSC columns: outer = cell) or gene-major (outer = gene); X is its dense copy.
struct SparseSample {
  std::vector<std::int64_t> start{0};
  std::vector<std::int32_t> inner;
  std::vector<float> val;
  Md X;
};
SparseSample random_sparse(Index G, Index N, int max_count, bool gene_major, Rng& rng) {
  SparseSample s;
  s.X = Md::Zero(G, N);
  const Index n_outer = gene_major ? G : N, n_inner = gene_major ? N : G;
  for (Index o = 0; o < n_outer; ++o) {
    for (Index i = 0; i < n_inner; ++i)
      if (rng.uniform() < 0.07) {
        s.inner.push_back(std::int32_t(i));
        s.val.push_back(float(1 + rng.below(max_count)));
        (gene_major ? s.X(o, i) : s.X(i, o)) = s.val.back();
      }
    s.start.push_back(std::int64_t(s.inner.size()));
  }
  return s;
}

}  // namespace

TEMPLATE_TEST_CASE("CpuBackend::gemm matches Eigen's double product in every regime", "[backend]", float, double) {
  using T = TestType;
  const double tol = std::is_same<T, float>::value ? 2e-5 : 1e-13;
  Rng rng(11);
  for (int threads : {1, 2}) {
    B::set_threads(threads);
    for (const Shape& s : kShapes)
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        const double beta = t == 0 ? 0.5 : (t == 3 ? 1.0 : 0.0);
        INFO(s.regime << " M " << s.M << " N " << s.N << " K " << s.K << " trans " << ta << tb << " beta " << beta
                      << ", " << threads << " thread(s)");
        const double err = check_gemm<T>(s.M, s.N, s.K, ta, tb, beta, rng);
        CAPTURE(err);
        CHECK(err < tol);
      }
  }
  B::set_threads(2);
}

// The same product twice gives the same bits (fixed partition per thread count; with oneDNN its
// own threading, for both of its paths: the tall product and the long inner dimension).
TEST_CASE("CpuBackend::gemm is bitwise repeatable for a given thread count", "[backend]") {
  Rng rng(5);
  B::set_threads(2);
  const Shape shapes[] = {{"tall", 4001, 100, 251}, {"long inner", 251, 100, 40001}};
  for (const Shape& s : shapes)
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      INFO(s.regime << " trans " << ta << tb);
      Padded<float> a(ta ? s.K : s.M, ta ? s.M : s.K, 3, rng), b(tb ? s.N : s.K, tb ? s.K : s.N, 5, rng),
          c(s.M, s.N, 7, rng);
      const std::vector<float> c0 = c.buf;
      B::gemm<float>(ta, tb, 0.75f, a.cview(), b.cview(), 1.0f, c.view());
      const std::vector<float> first = c.buf;
      for (int r = 0; r < 3; ++r) {
        c.buf = c0;
        B::gemm<float>(ta, tb, 0.75f, a.cview(), b.cview(), 1.0f, c.view());
        CHECK(c.buf == first);
      }
    }
}

#if SCVAE_DEFER_SIGNALS
namespace {
volatile std::sig_atomic_t g_signals = 0;
extern "C" void count_signal(int) { g_signals = g_signals + 1; }

// A child process that sends the parent SIGUSR1 every ~20 us until the parent is gone or kills it:
// process-wide signals as Ctrl-C's are (a timer's go to the running thread instead).
struct SignalStorm {
  pid_t child = -1;
  SignalStorm() {
    const pid_t parent = getpid();
    child = fork();
    if (child == 0) {
      while (kill(parent, SIGUSR1) == 0) usleep(20);
      _exit(0);
    }
    // Started: the first signal has arrived (a fork's child may take a while to be scheduled).
    for (int i = 0; i < 100000 && g_signals == 0; ++i) usleep(10);
  }
  ~SignalStorm() {
    if (child > 0) {
      kill(child, SIGKILL);
      waitpid(child, nullptr, 0);
    }
  }
};
}  // namespace

// A signal handler that runs while the products do (as Ctrl-C's in the command line, Python's or
// a profiler's would). oneDNN 2.6's generated GEMM kernels point the stack pointer into a heap
// workspace, so before detail/defer_signals.hpp a handler's frame landed on the heap: glibc
// aborted this test within its first few hundred products (with 1 thread on the small shapes of
// the built-in data's decoder, batch 100; with 2, on the worker thread of the wide ones), and
// `scvae train` died on 8 Ctrl-Cs in 120. Every result must be the uninterrupted one, bit for
// bit, and the heap intact (the loop allocates, so glibc checks it).
TEST_CASE("CpuBackend::gemm: signals handled during the products change nothing", "[backend]") {
  Rng rng(11);
  const Shape shapes[] = {{"decoder out", 465, 100, 16}, {"decoder in", 16, 100, 465}, {"dW", 465, 16, 100},
                          {"dW^T", 16, 465, 100},        {"wide dW", 4000, 16, 100}, {"wide dW^T", 16, 4000, 100},
                          {"long inner", 16, 16, 2000}};
  struct sigaction sa = {}, old_sa = {};
  sa.sa_handler = count_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  REQUIRE(sigaction(SIGUSR1, &sa, &old_sa) == 0);
  for (int threads : {1, 2}) {
    B::set_threads(threads);
#ifdef _OPENMP
    // The team's workers made here, outside oneDNN, with the signals unblocked (as a consumer's
    // own parallel loops make them), so they are what a process-wide signal goes to.
    int team = 0;
#pragma omp parallel
    {
#pragma omp single
      team = omp_get_num_threads();
    }
    REQUIRE(team == threads);
#endif
    for (const Shape& s : shapes)
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        INFO(threads << " thread(s), " << s.regime << " trans " << ta << tb);
        Padded<float> a(ta ? s.K : s.M, ta ? s.M : s.K, 3, rng), b(tb ? s.N : s.K, tb ? s.K : s.N, 5, rng),
            c(s.M, s.N, 7, rng);
        B::gemm<float>(ta, tb, 0.75f, a.cview(), b.cview(), 0.0f, c.view());
        const std::vector<float> want = c.buf;
        int mismatches = 0;
        {
          g_signals = 0;
          const SignalStorm storm;
          REQUIRE(g_signals > 0);
          for (int it = 0; it < 400; ++it) {
            std::vector<float> churn(std::size_t(1000 + it % 97), float(it));  // heap traffic
            B::gemm<float>(ta, tb, 0.75f, a.cview(), b.cview(), 0.0f, c.view());
            mismatches += c.buf != want;
          }
        }
        CHECK(mismatches == 0);
      }
  }
  sigaction(SIGUSR1, &old_sa, nullptr);
  B::set_threads(2);
}
#endif

TEST_CASE("CpuBackend::gemm with an empty inner dimension scales C by beta", "[backend]") {
  Rng rng(2);
  Padded<float> a(300, 0, 1, rng), b(0, 300, 1, rng), c(300, 300, 1, rng);
  const Md C0 = c.dense();
  B::gemm<float>(false, false, 1.f, a.cview(), b.cview(), 0.5f, c.view());
  CHECK((c.dense() - 0.5 * C0).cwiseAbs().maxCoeff() < 1e-6);
}

TEMPLATE_TEST_CASE("Sparse first layer: spmm and spmm_grad match dense products, any thread count", "[backend]", float,
                   double) {
  using T = TestType;
  const double tol = std::is_same<T, float>::value ? 1e-5 : 1e-13;
  // X [G x N] sparse (about 7% non-zero, as 10x data), W [M x G], dC [M x N].
  const Index G = 2003, N = 97, M = 250;
  Rng rng(5);
  const SparseSample sx = random_sparse(G, N, 20, /*gene_major=*/false, rng);
  const Md& X = sx.X;
  const CscView<float> x{sx.start.data(), sx.inner.data(), sx.val.data(), G, N};
  Padded<T> w(M, G, 2, rng), dc(M, N, 4, rng);
  const Md W = w.dense(), dC = dc.dense();

  std::vector<std::vector<T>> dw_by_threads;
  for (int threads : {1, 2}) {
    B::set_threads(threads);
    INFO(threads << " thread(s)");
    for (double beta : {0.0, 1.0}) {
      Padded<T> c(M, N, 3, rng);
      const Md ref = 1.5 * W * X + beta * c.dense();
      const Md bound = 1.5 * W.cwiseAbs() * X + std::fabs(beta) * c.dense().cwiseAbs();
      B::spmm<T>(T(1.5), w.cview(), x, T(beta), c.view());
      const double err = max_rel_to_bound(c.dense(), ref, bound);
      CAPTURE(beta, err);
      CHECK(err < tol);
    }
    // dW += alpha dC X^T, accumulated onto existing values.
    Padded<T> dw(M, G, 1, rng);
    const Md dW0 = dw.dense();
    const Md ref = dW0 + 0.5 * dC * X.transpose();
    const Md bound = dW0.cwiseAbs() + 0.5 * dC.cwiseAbs() * X.transpose();
    B::spmm_grad<T>(T(0.5), dc.cview(), x, dw.view());
    const double err = max_rel_to_bound(dw.dense(), ref, bound);
    CAPTURE(err);
    CHECK(err < tol);
    // The same accumulation from zero, to compare thread counts bit for bit.
    std::vector<T> fresh(std::size_t(M * G), T(0));
    B::spmm_grad<T>(T(0.5), dc.cview(), x, MatrixView<T>(fresh.data(), M, G));
    dw_by_threads.push_back(fresh);
    // Overwrite mode (accumulate = false): the same numbers written over NaN, every element.
    std::vector<T> written(std::size_t(M * G), std::numeric_limits<T>::quiet_NaN());
    B::spmm_grad<T>(T(0.5), dc.cview(), x, MatrixView<T>(written.data(), M, G), /*accumulate=*/false);
    const bool same = written == fresh;  // (a bool: Catch would print both vectors on failure)
    CHECK(same);
  }
  CHECK(dw_by_threads[0] == dw_by_threads[1]);  // documented: independent of the thread count

  // A column block of the batch (ptr not starting at 0) gives the block's columns.
  B::set_threads(2);
  Padded<T> c(M, 40, 0, rng);
  B::spmm<T>(T(1), w.cview(), x.col_block(30, 40), T(0), c.view());
  const Md ref = W * X.middleCols(30, 40);
  CHECK((c.dense() - ref).cwiseAbs().maxCoeff() <= tol * (W.cwiseAbs() * X.middleCols(30, 40)).maxCoeff());
}

TEST_CASE("Sparse first layer: out-of-range indices and decreasing offsets are refused, not read", "[backend]") {
  // The encoder's first layer reads a batch before the likelihood checks it.
  const Index G = 50, N = 3, M = 4;
  Rng rng(4);
  Padded<float> w(M, G, 0, rng), c(M, N, 0, rng);
  std::vector<std::int64_t> ptr{0, 2, 3, 5};
  std::vector<std::int32_t> idx{1, 7, 3, 0, 49};
  std::vector<float> val{1, 2, 3, 4, 5};
  const CscView<float> x{ptr.data(), idx.data(), val.data(), G, N};
  for (std::int32_t bad : {50, -1, 1 << 30}) {
    idx[2] = bad;
    CHECK_THROWS_WITH(B::spmm<float>(1.f, w.cview(), x, 0.f, c.view()), Catch::Contains("out of range [0, 50)"));
  }
  idx[2] = 3;
  ptr = {0, 2, 1, 5};
  CHECK_THROWS_WITH(B::spmm<float>(1.f, w.cview(), x, 0.f, c.view()), Catch::Contains("decreasing offsets"));
  ptr = {0, 2, 3, 5};
  CHECK_NOTHROW(B::spmm<float>(1.f, w.cview(), x, 0.f, c.view()));  // nothing stale cached
  const Md W = w.dense();
  CHECK(std::abs(c.dense()(0, 1) - 3 * W(0, 3)) < 1e-5);
}

TEST_CASE("Sparse first layer: a batch rewritten in the same buffers is not mistaken for the last one", "[backend]") {
  // gene_major() keeps the gene-major copy of the last batch for the next call (spmm, then
  // spmm_grad on the same batch); batches reuse their buffers, so it must compare contents.
  const Index G = 501, N = 23, M = 16;
  Rng rng(9);
  const SparseSample original = random_sparse(G, N, 20, /*gene_major=*/false, rng);
  Padded<float> w(M, G, 0, rng);
  const Md W = w.dense();
  for (int threads : {1, 2}) {
    B::set_threads(threads);
    SparseSample sx = original;  // the buffers every check reads
    const CscView<float> x{sx.start.data(), sx.inner.data(), sx.val.data(), G, N};
    auto check = [&](const char* what) {
      INFO(what << ", " << threads << " thread(s)");
      Md X = Md::Zero(G, N);
      for (Index n = 0; n < N; ++n)
        for (auto k = sx.start[std::size_t(n)]; k < sx.start[std::size_t(n) + 1]; ++k)
          X(sx.inner[std::size_t(k)], n) = sx.val[std::size_t(k)];
      Padded<float> c(M, N, 0, rng);
      B::spmm<float>(1.0f, w.cview(), x, 0.0f, c.view());
      CHECK((c.dense() - W * X).cwiseAbs().maxCoeff() < 1e-4);
      Md dW = Md::Zero(M, G);
      std::vector<float> dw(std::size_t(M * G), 0.0f);
      B::spmm_grad<float>(1.0f, c.cview(), x, MatrixView<float>(dw.data(), M, G));
      const Md ref = c.dense() * X.transpose();
      double err = 0;
      for (Index g = 0; g < G; ++g)
        for (Index i = 0; i < M; ++i) err = std::max(err, std::fabs(double(dw[std::size_t(i + g * M)]) - ref(i, g)));
      CHECK(err < 1e-3);
    };
    check("first batch");
    check("the same batch again (kept copy)");
    sx.val[3] += 2.0f;
    check("one value changed");
    const std::size_t last = std::size_t(sx.start[1] - 1);  // cell 0's last entry
    REQUIRE(sx.inner[last] < G - 1);
    sx.inner[last] = std::int32_t(G - 1);  // still increasing within the cell
    check("one row index moved");
    std::swap(sx.val[0], sx.val[1]);
    check("two values swapped");
  }
  B::set_threads(2);
}

TEMPLATE_TEST_CASE("Sparse kernels: every instruction-set variant the CPU runs matches the dense product", "[backend]",
                   float, double) {
  using T = TestType;
  const double tol = std::is_same<T, float>::value ? 1e-5 : 1e-13;
  const Index G = 1009, N = 53;
  Rng rng(9);
  // Gene-major entries built directly: gene g has cells in increasing order.
  const SparseSample sx = random_sparse(G, N, 9, /*gene_major=*/true, rng);
  const Md& X = sx.X;
  const detail::GeneMajorView gm{sx.start.data(), sx.inner.data(), sx.val.data()};
  Index empty_genes = 0;
  for (Index g = 0; g < G; ++g) empty_genes += sx.start[std::size_t(g + 1)] == sx.start[std::size_t(g)];
  REQUIRE(empty_genes > 0);  // the overwrite mode below must write their zeros
  // Hidden sizes around the float AVX-512 gradient kernel's 16-row vectors and 256-row tiles.
  for (Index M : {Index(1), Index(16), Index(17), Index(250), Index(256), Index(257), Index(300)}) {
    Padded<T> w(M, G, 2, rng), dc(M, N, 3, rng), dw0(M, G, 5, rng);  // dW accumulates onto dw0
    const Md refY = 0.5 * w.dense() * X, boundY = 0.5 * w.dense().cwiseAbs() * X;
    const Md refW = dw0.dense() + 0.5 * dc.dense() * X.transpose();
    const Md boundW = dw0.dense().cwiseAbs() + 0.5 * dc.dense().cwiseAbs() * X.transpose();
    for (int isa : {int(detail::isa_default), int(detail::isa_avx2), int(detail::isa_avx512)}) {
      if (!detail::cpu_supports_isa(isa)) {
        WARN("this CPU (or build) has no ISA variant " << isa << ": not checked here");
        continue;
      }
      INFO("ISA variant " << isa << ", M = " << M);
      std::vector<T> y(std::size_t(M * N), T(0));
      Padded<T> dw = dw0;  // ld = M + 5: the padding rows must stay as they are
      detail::spmm_genes<T>(isa, gm, 0, G, w.buf.data(), w.ld, T(0.5), y.data(), M, M);
      detail::spmm_grad_genes<T>(isa, gm, 0, G, dc.buf.data(), dc.ld, T(0.5), dw.buf.data(), dw.ld, M);
      const double ey = max_rel_to_bound(as_dense(y, M, N), refY, boundY);
      const double ew = max_rel_to_bound(dw.dense(), refW, boundW);
      CAPTURE(ey, ew);
      CHECK(ey < tol);
      CHECK(ew < tol);
      bool padding_kept = true;
      for (Index g = 0; g < G; ++g)
        for (Index i = M; i < dw.ld; ++i)
          padding_kept = padding_kept && dw.buf[std::size_t(i + g * dw.ld)] == dw0.buf[std::size_t(i + g * dw.ld)];
      CHECK(padding_kept);
      // Overwrite (accumulate = false) into NaN-filled columns: bit for bit the accumulation from
      // zero, every element written (genes without entries get zeros), the padding kept.
      Padded<T> dz = dw0, dwo = dw0;
      for (Index g = 0; g < G; ++g)
        for (Index i = 0; i < M; ++i) {
          dz.buf[std::size_t(i + g * dz.ld)] = T(0);
          dwo.buf[std::size_t(i + g * dwo.ld)] = std::numeric_limits<T>::quiet_NaN();
        }
      detail::spmm_grad_genes<T>(isa, gm, 0, G, dc.buf.data(), dc.ld, T(0.5), dz.buf.data(), dz.ld, M);
      detail::spmm_grad_genes<T>(isa, gm, 0, G, dc.buf.data(), dc.ld, T(0.5), dwo.buf.data(), dwo.ld, M, false);
      const bool same = dwo.buf == dz.buf;
      CHECK(same);
    }
  }
}

TEMPLATE_TEST_CASE("CpuBackend::fill: zeros (memset path), negative zero and other values, any thread count", "[backend]",
                   float, double) {
  using T = TestType;
  for (int threads : {1, 2}) {
    B::set_threads(threads);
    for (Index n : {Index(0), Index(1), Index(1000003)}) {
      std::vector<T> v(std::size_t(n) + 2, T(7));  // guards at both ends
      for (T value : {T(0), T(-0.0), T(3.5)}) {
        B::fill<T>(VectorView<T>(v.data() + 1, n), value);
        CHECK(v.front() == T(7));
        CHECK(v.back() == T(7));
        bool ok = true;
        for (Index i = 1; i <= n; ++i)
          ok = ok && v[std::size_t(i)] == value && std::signbit(v[std::size_t(i)]) == std::signbit(value);
        CHECK(ok);
      }
    }
  }
  B::fill<T>(VectorView<T>(nullptr, 0), T(0));  // an empty view: nothing to do (no memset of null)
  B::set_threads(2);
}

TEST_CASE("gather_batch: [genes x batch] CSC of the chosen rows, library sizes, log1p input rounded once", "[backend][data]") {
  // Row 1 holds the small integers the table serves (0 stored explicitly, 1, 2, 255), the first
  // values past it (256, 1e6), non-integers (0.5, 255.5) and a NaN; row 0 is empty.
  CsrMatrix m;
  m.n_rows = 3;
  m.n_cols = 20;
  m.indptr = {0, 0, 9, 11};
  m.indices = {0, 1, 2, 3, 4, 5, 6, 7, 8, 4, 19};
  m.values = {0.f, 1.f, 2.f, 255.f, 256.f, 1e6f, 0.5f, 255.5f, std::nanf(""), 3.f, 7.f};
  const std::vector<Index> rows = {2, 0, 1, 2};  // repeats and an empty row
  CscBatch b;
  gather_batch(m, rows.data(), Index(rows.size()), InputTransform::log1p, b);
  CHECK(b.rows == 20);
  CHECK(b.cols == 4);
  CHECK(b.ptr == std::vector<std::int64_t>{0, 2, 2, 11, 13});
  CHECK(b.idx == std::vector<std::int32_t>{4, 19, 0, 1, 2, 3, 4, 5, 6, 7, 8, 4, 19});
  CHECK(b.library[0] == 10.f);
  CHECK(b.library[1] == 0.f);
  CHECK(std::isnan(b.library[2]));  // the NaN is not hidden (the likelihood pass reports it)
  for (std::size_t k = 0; k < b.counts.size(); ++k) {
    const float v = b.counts[k];
    CAPTURE(k, v);
    // Exactly float(log1p(double(v))), the expression the device gather evaluates
    // (backend/cuda/device_data.cuh).
    const float ref = static_cast<float>(std::log1p(static_cast<double>(v)));
    if (std::isnan(v)) CHECK(std::isnan(b.input[k]));
    else CHECK(b.input[k] == ref);
  }
  // Every table entry, and the table against glibc's float log1p (within its last bit).
  const float* t = detail::log1p_count_table();
  for (int i = 0; i < 256; ++i) {
    CAPTURE(i);
    CHECK(detail::log1p_count(float(i), t) == static_cast<float>(std::log1p(double(i))));
    CHECK(std::fabs(t[i] - std::log1p(float(i))) <= 1.2e-7f * std::log1p(float(i)));
  }
  gather_batch(m, rows.data(), Index(rows.size()), InputTransform::none, b);
  CHECK(b.input[3] == 1.f);
  CHECK(b.input[7] == 1e6f);
}

TEST_CASE("Library-size mean ops: log library, log-softmax shift and its backward (float against double)", "[backend]") {
  // 3 cells x 1,000 genes, one cell without counts (library 1), values spanning 30 nats.
  const Index G = 1000, N = 3;
  std::vector<std::int64_t> ptr{0, 2, 2, 5};
  std::vector<std::int32_t> idx{3, 7, 0, 500, 999};
  std::vector<float> val{2, 5, 1, 100, 7};
  const CscView<float> x{ptr.data(), idx.data(), val.data(), G, N};
  std::vector<double> lib(N);
  B::column_log_library<double>(x, false, VectorView<double>(lib.data(), N));
  CHECK(lib[0] == Approx(std::log(7.0)));
  CHECK(lib[1] == 0.0);
  CHECK(lib[2] == Approx(std::log(108.0)));
  std::vector<float> logx(val.size());
  for (std::size_t i = 0; i < val.size(); ++i) logx[i] = float(std::log1p(double(val[i])));
  std::vector<float> libf(N);
  B::column_log_library<float>({ptr.data(), idx.data(), logx.data(), G, N}, true, VectorView<float>(libf.data(), N));
  for (Index j = 0; j < N; ++j) CHECK(libf[j] == Approx(lib[j]).epsilon(1e-6));

  Rng rng(3);
  std::vector<double> a(G * N), dy(G * N);
  for (auto& v : a) v = 15 * rng.normal();
  for (auto& v : dy) v = rng.normal();
  std::vector<float> af(a.begin(), a.end()), dyf(dy.begin(), dy.end());
  std::vector<double> ref = a;
  for (Index j = 0; j < N; ++j) {  // reference: log-sum-exp in long double
    long double m = -INFINITY, s = 0;
    for (Index i = 0; i < G; ++i) m = std::max<long double>(m, a[i + j * G]);
    for (Index i = 0; i < G; ++i) s += std::exp((long double)a[i + j * G] - m);
    for (Index i = 0; i < G; ++i) ref[i + j * G] = double(a[i + j * G] - (m + std::log(s)) + lib[j]);
  }
  B::log_softmax_shift<double>(MatrixView<double>(a.data(), G, N), VectorView<const double>(lib.data(), N));
  B::log_softmax_shift<float>(MatrixView<float>(af.data(), G, N), VectorView<const float>(libf.data(), N));
  double max_err = 0, max_err_f = 0;
  for (Index i = 0; i < G * N; ++i) {
    max_err = std::max(max_err, std::fabs(a[i] - ref[i]));
    max_err_f = std::max(max_err_f, std::fabs(double(af[i]) - ref[i]));
  }
  CHECK(max_err < 1e-12);
  CHECK(max_err_f < 1e-4);  // float rounding of values up to ~60 in magnitude (ulp 4e-6)
  for (Index j = 0; j < N; ++j) {  // exp of the result sums to the library
    double s = 0;
    for (Index i = 0; i < G; ++i) s += std::exp(a[i + j * G]);
    CHECK(s == Approx(std::exp(lib[j])).epsilon(1e-12));
  }
  // backward: dy - softmax * sum(dy), against the same in double
  std::vector<double> dref = dy;
  for (Index j = 0; j < N; ++j) {
    double t = 0;
    for (Index i = 0; i < G; ++i) t += dy[i + j * G];
    for (Index i = 0; i < G; ++i) dref[i + j * G] -= std::exp(ref[i + j * G] - lib[j]) * t;
  }
  B::log_softmax_shift_backward<double>(MatrixView<double>(dy.data(), G, N), MatrixView<const double>(a.data(), G, N),
                                        VectorView<const double>(lib.data(), N));
  B::log_softmax_shift_backward<float>(MatrixView<float>(dyf.data(), G, N), MatrixView<const float>(af.data(), G, N),
                                       VectorView<const float>(libf.data(), N));
  double e = 0, ef = 0;
  for (Index i = 0; i < G * N; ++i) {
    e = std::max(e, std::fabs(dy[i] - dref[i]));
    ef = std::max(ef, std::fabs(double(dyf[i]) - dref[i]));
  }
  CHECK(e < 1e-12);
  CHECK(ef < 1e-4);

  // Every vector width this CPU runs gives the same results up to rounding (FMA contraction).
  for (int isa : {detail::isa_default, detail::isa_avx2, detail::isa_avx512}) {
    if (!detail::cpu_supports_isa(isa)) continue;
    INFO("isa " << isa);
    std::vector<float> c(af.begin(), af.begin() + G), c0 = c, d(dyf.begin(), dyf.begin() + G), d0 = d;
    detail::log_softmax_shift_column<float>(detail::isa_default, c0.data(), G, 1.5f);
    detail::log_softmax_shift_column<float>(isa, c.data(), G, 1.5f);
    detail::log_softmax_shift_backward_column<float>(detail::isa_default, d0.data(), c0.data(), G, 1.5f);
    detail::log_softmax_shift_backward_column<float>(isa, d.data(), c0.data(), G, 1.5f);
    for (Index i = 0; i < G; ++i) {
      CHECK(c[i] == Approx(c0[i]).margin(1e-5));
      CHECK(d[i] == Approx(d0[i]).margin(1e-5));
    }
  }
}
