// CPU vs CUDA parity of every backend operation except the likelihood heads
// (test_cuda_likelihood.cu), in float and double, at odd sizes (not multiples of any block size)
// and with ld > rows where the op takes a view. Tolerances: |cuda - cpu| <= atol + rtol |cpu|;
// float rtol 1e-5..1e-4 covers FMA contraction and different summation orders (the GPU sums
// in double or in tree order), double rtol 1e-12..1e-10. Without a GPU every case SKIPs.
#include <utility>
#include "cuda_test_util.cuh"

using namespace scvae;
using namespace cuda_test;
using C = CpuBackend;
using G = CudaBackend;

template <class T>
struct Tol;
template <>
struct Tol<float> {
  static constexpr double rtol = 2e-5, atol = 1e-6;
};
template <>
struct Tol<double> {
  static constexpr double rtol = 1e-12, atol = 1e-14;
};

template <class T>
Mat<T> random_mat(Index r, Index c, Index ld, Rng& rng, double mean = 0, double sd = 1) {
  Mat<T> m(r, c, ld);
  fill_normal(m.host, rng, mean, sd);
  m.upload();
  return m;
}

TEMPLATE_TEST_CASE("cuda: memory, fill, copy", "[cuda]", float, double) {
  using T = TestType;
  SCVAE_REQUIRE_CUDA_DEVICE();
  auto buf = G::allocate<T>(1001);
  REQUIRE(buf.size() == 1001u);
  std::vector<T> h(1001, T(7));
  G::download<T>(h.data(), VectorView<const T>(G::data(buf), 1001));
  CHECK(std::all_of(h.begin(), h.end(), [](T v) { return v == T(0); }));  // zero-filled like std::vector
  auto moved = std::move(buf);
  CHECK(buf.size() == 0u);
  CHECK(G::data(moved) != nullptr);

  Rng rng(1);
  auto a = random_mat<T>(37, 29, 41, rng), b = random_mat<T>(37, 29, 40, rng);
  auto ha = a.host, hb = b.host;
  C::fill<T>(MatrixView<T>(ha.data(), 37, 29, 41), T(2.5));
  G::fill<T>(a.d(), T(2.5));
  CHECK(compare("fill(matrix)", ha, a.download(), 0, 0) == 0);
  C::fill<T>(VectorView<T>(ha.data(), 500), T(0));
  G::fill<T>(VectorView<T>(a.dev.data(), 500), T(0));
  CHECK(compare("fill(vector)", ha, a.download(), 0, 0) == 0);
  C::copy<T>(MatrixView<const T>(ha.data(), 37, 29, 41), MatrixView<T>(hb.data(), 37, 29, 40));
  G::copy<T>(MatrixView<const T>(a.d()), b.d());
  CHECK(compare("copy", hb, b.download(), 0, 0) == 0);
}

TEMPLATE_TEST_CASE("cuda: gemm (all transposes, ld > rows, beta 0 / 1 / 0.5, K = 0)", "[cuda]", float, double) {
  using T = TestType;
  SCVAE_REQUIRE_CUDA_DEVICE();
  Rng rng(2);
  const Index M = 37, N = 29, K = 53;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (T beta : {T(0), T(1), T(0.5)}) {
        auto a = ta ? random_mat<T>(K, M, K + 3, rng) : random_mat<T>(M, K, M + 3, rng);
        auto b = tb ? random_mat<T>(N, K, N + 1, rng) : random_mat<T>(K, N, K + 2, rng);
        auto c = random_mat<T>(M, N, M + 5, rng);
        if (beta == T(0)) {  // beta = 0: C is not read (NaN there must not reach the result)
          for (std::size_t i = 0; i < c.host.size(); i += 7) c.host[i] = T(NAN);
          c.upload();
        }
        auto ref = c.host;
        C::gemm<T>(ta, tb, T(0.7), MatrixView<const T>(a.h()), MatrixView<const T>(b.h()), beta,
                   MatrixView<T>(ref.data(), M, N, M + 5));
        G::gemm<T>(ta, tb, T(0.7), MatrixView<const T>(a.d()), MatrixView<const T>(b.d()), beta, c.d());
        CHECK(compare("gemm ta=" + std::to_string(ta) + " tb=" + std::to_string(tb), ref, c.download(),
                      Tol<T>::atol * 100, Tol<T>::rtol * 10) == 0);
      }
  // K = 0: C = beta C; beta = 0 zeroes C, NaN included (CpuBackend: setZero)
  auto a = random_mat<T>(M, 0, M, rng), b = random_mat<T>(0, N, 1, rng), c = random_mat<T>(M, N, M, rng);
  auto ref = c.host;
  for (auto& v : ref) v *= T(0.5);
  G::gemm<T>(false, false, T(1), MatrixView<const T>(a.d()), MatrixView<const T>(b.d()), T(0.5), c.d());
  CHECK(compare("gemm K=0", ref, c.download(), 0, Tol<T>::rtol) == 0);
  c.host[3] = T(NAN);
  c.upload();
  G::gemm<T>(false, false, T(1), MatrixView<const T>(a.d()), MatrixView<const T>(b.d()), T(0), c.d());
  CHECK(compare("gemm K=0 beta=0", std::vector<T>(c.host.size(), T(0)), c.download(), 0, 0) == 0);
  CHECK_THROWS_AS(G::gemm<T>(false, false, T(1), MatrixView<const T>(c.d()), MatrixView<const T>(c.d()), T(0), c.d()),
                  InputError);
}

TEMPLATE_TEST_CASE("cuda: spmm and spmm_grad (sparse counts x dense weights)", "[cuda]", float, double) {
  using T = TestType;
  SCVAE_REQUIRE_CUDA_DEVICE();
  Rng rng(3);
  const Index M = 250 + 13, Gn = 1999, N = 37;  // M > one block of rows
  auto x = Csc::random(Gn, N + 4, 0.07, rng);
  const CscView<float> xh = x.h().col_block(2, N), xd = x.d().col_block(2, N);  // ptr offset exercised
  auto w = random_mat<T>(M, Gn, M + 1, rng);
  for (T beta : {T(0), T(0.5)}) {
    auto c = random_mat<T>(M, N, M + 2, rng);
    if (beta == T(0)) {  // C is not read
      for (std::size_t i = 0; i < c.host.size(); i += 5) c.host[i] = T(NAN);
      c.upload();
    }
    auto ref = c.host;
    C::spmm<T>(T(0.9), MatrixView<const T>(w.h()), xh, beta, MatrixView<T>(ref.data(), M, N, M + 2));
    G::spmm<T>(T(0.9), MatrixView<const T>(w.d()), xd, beta, c.d());
    CHECK(compare("spmm", ref, c.download(), Tol<T>::atol * 100, Tol<T>::rtol * 10) == 0);
  }
  auto dc = random_mat<T>(M, N, M, rng);
  auto dw = random_mat<T>(M, Gn, M + 1, rng);  // accumulates into existing values
  auto ref = dw.host;
  C::spmm_grad<T>(T(0.9), MatrixView<const T>(dc.h()), xh, MatrixView<T>(ref.data(), M, Gn, M + 1));
  G::spmm_grad<T>(T(0.9), MatrixView<const T>(dc.d()), xd, dw.d());
  CHECK(compare("spmm_grad", ref, dw.download(), Tol<T>::atol * 100, Tol<T>::rtol * 10) == 0);
  // Overwrite (accumulate = false, the training step's mode): dW written over NaN, every element
  // (the ~7% of genes without entries in 37 columns get zeros).
  {
    auto dwo = random_mat<T>(M, Gn, M + 1, rng);
    for (Index g = 0; g < Gn; ++g)
      for (Index i = 0; i < M; ++i) dwo.host[std::size_t(i + g * (M + 1))] = T(NAN);
    dwo.upload();
    auto refo = dwo.host;
    C::spmm_grad<T>(T(0.9), MatrixView<const T>(dc.h()), xh, MatrixView<T>(refo.data(), M, Gn, M + 1), false);
    G::spmm_grad<T>(T(0.9), MatrixView<const T>(dc.d()), xd, dwo.d(), false);
    CHECK(compare("spmm_grad overwrite", refo, dwo.download(), Tol<T>::atol * 100, Tol<T>::rtol * 10) == 0);
  }
  // a host batch is refused with a hint, not a device fault
  CHECK_THROWS_AS(G::spmm<T>(T(1), MatrixView<const T>(w.d()), xh, T(0), dc.d()), InputError);

  // Malformed batches: the CPU throws at once, the device reports at the next synchronising call
  // (and once), in the forward product and in the weight gradient: in column 3 of x (column 1 of
  // the block), a row index out of range (then one below 0), then offsets that decrease
  // (ptr[4] < ptr[3]: read as empty on the device, nothing read out of range).
  REQUIRE(x.ptr[3] > 0);
  REQUIRE(x.ptr[4] > x.ptr[3] + 1);
  for (int which : {0, 1, 2}) {
    INFO("malformed batch " << which);
    auto bad = x.host_copy();
    if (which == 0) bad.idx[static_cast<std::size_t>(bad.ptr[3])] = static_cast<std::int32_t>(Gn);
    else if (which == 1) bad.idx[static_cast<std::size_t>(bad.ptr[3])] = -1;
    else bad.ptr[4] = bad.ptr[3] - 1;
    bad.upload();
    auto out = random_mat<T>(M, N, M, rng);
    auto href = out.host;
    CHECK_THROWS_AS(C::spmm<T>(T(1), MatrixView<const T>(w.h()), bad.h().col_block(2, N), T(0),
                               MatrixView<T>(href.data(), M, N)),
                    InputError);
    G::spmm<T>(T(1), MatrixView<const T>(w.d()), bad.d().col_block(2, N), T(0), out.d());
    CHECK_THROWS_AS(G::synchronize(), InputError);
    CHECK_NOTHROW(G::synchronize());

    auto gw = random_mat<T>(M, Gn, M, rng);
    auto gref = gw.host;
    CHECK_THROWS_AS(C::spmm_grad<T>(T(1), MatrixView<const T>(dc.h()), bad.h().col_block(2, N),
                                    MatrixView<T>(gref.data(), M, Gn)),
                    InputError);
    G::spmm_grad<T>(T(1), MatrixView<const T>(dc.d()), bad.d().col_block(2, N), gw.d());
    CHECK_THROWS_AS(G::synchronize(), InputError);
    CHECK_NOTHROW(G::synchronize());
  }
  // Row indices out of order (two swapped in column 3): the CPU's sparse products accept them
  // (its gene-major sort does not need the order; the likelihood pass rejects the batch), the
  // device's spmm_grad reports them (its binary search would miss entries), as the likelihood does.
  {
    auto bad = x.host_copy();
    std::swap(bad.idx[static_cast<std::size_t>(bad.ptr[3])], bad.idx[static_cast<std::size_t>(bad.ptr[3] + 1)]);
    bad.upload();
    auto gw = random_mat<T>(M, Gn, M, rng);
    auto gref = gw.host;
    CHECK_NOTHROW(C::spmm_grad<T>(T(1), MatrixView<const T>(dc.h()), bad.h().col_block(2, N),
                                  MatrixView<T>(gref.data(), M, Gn)));
    G::spmm_grad<T>(T(1), MatrixView<const T>(dc.d()), bad.d().col_block(2, N), gw.d());
    CHECK_THROWS_AS(G::synchronize(), InputError);
    CHECK_NOTHROW(G::synchronize());
  }
}

TEMPLATE_TEST_CASE("cuda: bias, activations, multiply", "[cuda]", float, double) {
  using T = TestType;
  SCVAE_REQUIRE_CUDA_DEVICE();
  Rng rng(4);
  const Index R = 251, N = 37, L = 253;
  auto in = random_mat<T>(R, N, L, rng, 0, 3), g = random_mat<T>(R, N, L, rng), out = random_mat<T>(R, N, L, rng);
  auto bias = random_mat<T>(R, 1, R, rng);
  auto ref = out.host;
  auto hv = [&](Mat<T>& m) { return MatrixView<const T>(m.host.data(), m.rows, m.cols, m.ld); };
  auto R_ = [&]() { return MatrixView<T>(ref.data(), R, N, L); };

  C::relu_forward<T>(R_(), hv(in));
  G::relu_forward<T>(out.d(), MatrixView<const T>(in.d()));
  CHECK(compare("relu_forward", ref, out.download(), 0, 0) == 0);
  C::relu_backward<T>(R_(), hv(g), hv(in));
  G::relu_backward<T>(out.d(), MatrixView<const T>(g.d()), MatrixView<const T>(in.d()));
  CHECK(compare("relu_backward", ref, out.download(), 0, 0) == 0);
  C::softplus_forward<T>(R_(), hv(in));
  G::softplus_forward<T>(out.d(), MatrixView<const T>(in.d()));
  CHECK(compare("softplus_forward", ref, out.download(), Tol<T>::atol, Tol<T>::rtol) == 0);
  C::softplus_backward<T>(R_(), hv(g), hv(in));
  G::softplus_backward<T>(out.d(), MatrixView<const T>(g.d()), MatrixView<const T>(in.d()));
  CHECK(compare("softplus_backward", ref, out.download(), Tol<T>::atol, Tol<T>::rtol) == 0);
  C::multiply<T>(R_(), hv(g), hv(in));
  G::multiply<T>(out.d(), MatrixView<const T>(g.d()), MatrixView<const T>(in.d()));
  CHECK(compare("multiply", ref, out.download(), 0, 0) == 0);
  C::add_bias<T>(R_(), VectorView<const T>(bias.host.data(), R));
  G::add_bias<T>(out.d(), VectorView<const T>(bias.dev.data(), R));
  CHECK(compare("add_bias", ref, out.download(), 0, 0) == 0);
  auto db = bias.host;
  C::bias_grad<T>(hv(g), VectorView<T>(db.data(), R));
  G::bias_grad<T>(MatrixView<const T>(g.d()), bias.dv());
  CHECK(compare("bias_grad", db, bias.download(), Tol<T>::atol, Tol<T>::rtol) == 0);
}

TEMPLATE_TEST_CASE("cuda: dropout mask and random normals (seeded, statistics)", "[cuda]", float, double) {
  using T = TestType;
  SCVAE_REQUIRE_CUDA_DEVICE();
  Mat<T> m(301, 333, 305);
  m.upload();
  Rng r1(9), r2(9);
  G::dropout_mask<T>(m.d(), T(0.25), r1);
  auto a = m.download();
  G::dropout_mask<T>(m.d(), T(0.25), r2);
  CHECK(compare("dropout same seed", a, m.download(), 0, 0) == 0);
  long zeros = 0, total = 0;
  for (Index j = 0; j < 333; ++j)
    for (Index i = 0; i < 301; ++i) {
      const T v = a[i + j * 305];
      CHECK((v == T(0) || v == T(1) / (T(1) - T(0.25))));
      zeros += v == T(0);
      ++total;
    }
  CHECK(std::fabs(double(zeros) / total - 0.25) < 0.01);
  CHECK(a[301] == T(0));  // padding untouched

  Rng s1(11), s2(11);
  G::random_normal<T>(m.d(), s1);
  auto n1 = m.download();
  G::random_normal<T>(m.d(), s2);
  CHECK(compare("random_normal same seed", n1, m.download(), 0, 0) == 0);
  G::random_normal<T>(m.d(), s2);  // the seed stream moved on: different draws
  CHECK(compare("random_normal next draw differs (expected mismatches)", n1, m.download(), 0, 0) > 0);
  double s = 0, ss = 0;
  for (Index j = 0; j < 333; ++j)
    for (Index i = 0; i < 301; ++i) {
      s += double(n1[i + j * 305]);
      ss += double(n1[i + j * 305]) * double(n1[i + j * 305]);
    }
  const double mean = s / total, var = ss / total - mean * mean;
  CHECK(std::fabs(mean) < 0.01);
  CHECK(std::fabs(var - 1.0) < 0.02);
}

TEMPLATE_TEST_CASE("cuda: batch norm (train with/without gamma, eval, backward)", "[cuda]", float, double) {
  using T = TestType;
  SCVAE_REQUIRE_CUDA_DEVICE();
  Rng rng(5);
  for (Index N : {Index(37), Index(1000)})
    for (bool with_gamma : {false, true}) {
      const Index F = 250, L = 251;
      auto x = random_mat<T>(F, N, L, rng, 0.3, 2), y = random_mat<T>(F, N, L, rng), xhat = random_mat<T>(F, N, L, rng);
      auto gamma = random_mat<T>(with_gamma ? F : 0, 1, F, rng, 1, 0.2), beta = random_mat<T>(F, 1, F, rng);
      auto mean = random_mat<T>(F, 1, F, rng), istd = random_mat<T>(F, 1, F, rng);
      auto rm = random_mat<T>(F, 1, F, rng), rv = random_mat<T>(F, 1, F, rng, 1.5, 0.1);
      auto hy = y.host, hxh = xhat.host, hm = mean.host, his = istd.host, hrm = rm.host, hrv = rv.host;
      const VectorView<const T> gh(gamma.host.data(), gamma.rows), gd(gamma.dev.data(), gamma.rows);
      C::batch_norm_forward_train<T>(MatrixView<T>(hy.data(), F, N, L), MatrixView<T>(hxh.data(), F, N, L),
                                     VectorView<T>(hm.data(), F), VectorView<T>(his.data(), F),
                                     MatrixView<const T>(x.h()), gh, VectorView<const T>(beta.hv()),
                                     VectorView<T>(hrm.data(), F), VectorView<T>(hrv.data(), F), T(1e-3), T(0.01));
      G::batch_norm_forward_train<T>(y.d(), xhat.d(), mean.dv(), istd.dv(), MatrixView<const T>(x.d()), gd,
                                     VectorView<const T>(beta.dv()), rm.dv(), rv.dv(), T(1e-3), T(0.01));
      const double rt = std::is_same<T, float>::value ? 2e-4 : 1e-10, at = std::is_same<T, float>::value ? 2e-5 : 1e-12;
      CHECK(compare("bn y", hy, y.download(), at, rt) == 0);
      CHECK(compare("bn xhat", hxh, xhat.download(), at, rt) == 0);
      CHECK(compare("bn mean", hm, mean.download(), at, rt) == 0);
      CHECK(compare("bn inv_std", his, istd.download(), at, rt) == 0);
      CHECK(compare("bn running_mean", hrm, rm.download(), at, rt) == 0);
      CHECK(compare("bn running_var", hrv, rv.download(), at, rt) == 0);

      C::batch_norm_forward_eval<T>(MatrixView<T>(hy.data(), F, N, L), MatrixView<const T>(x.h()), gh,
                                    VectorView<const T>(beta.hv()), VectorView<const T>(hrm.data(), F),
                                    VectorView<const T>(hrv.data(), F), T(1e-3));
      G::batch_norm_forward_eval<T>(y.d(), MatrixView<const T>(x.d()), gd, VectorView<const T>(beta.dv()),
                                    VectorView<const T>(rm.dv()), VectorView<const T>(rv.dv()), T(1e-3));
      CHECK(compare("bn eval y", hy, y.download(), at, rt) == 0);

      auto dy = random_mat<T>(F, N, L, rng), dx = random_mat<T>(F, N, L, rng);
      auto dgamma = random_mat<T>(gamma.rows, 1, F, rng), dbeta = random_mat<T>(F, 1, F, rng);
      auto hdx = dx.host, hdg = dgamma.host, hdb = dbeta.host;
      C::batch_norm_backward<T>(MatrixView<T>(hdx.data(), F, N, L), VectorView<T>(hdg.data(), gamma.rows),
                                VectorView<T>(hdb.data(), F), MatrixView<const T>(dy.h()),
                                MatrixView<const T>(hxh.data(), F, N, L), VectorView<const T>(his.data(), F), gh);
      G::batch_norm_backward<T>(dx.d(), VectorView<T>(dgamma.dev.data(), gamma.rows), dbeta.dv(),
                                MatrixView<const T>(dy.d()), MatrixView<const T>(xhat.d()),
                                VectorView<const T>(istd.dv()), gd);
      CHECK(compare("bn dx", hdx, dx.download(), at * 10, rt * 10) == 0);
      CHECK(compare("bn dgamma", hdg, dgamma.download(), at, rt) == 0);
      CHECK(compare("bn dbeta", hdb, dbeta.download(), at, rt) == 0);
    }
}

TEMPLATE_TEST_CASE("cuda: reductions, scale, clamp, Adam", "[cuda]", float, double) {
  using T = TestType;
  SCVAE_REQUIRE_CUDA_DEVICE();
  Rng rng(6);
  const Index n = 1000003;
  auto v = random_mat<T>(n, 1, n, rng, 0.1, 1);
  CHECK(double(G::sum<T>(VectorView<const T>(v.dv()))) ==
        Approx(double(C::sum<T>(VectorView<const T>(v.hv())))).epsilon(std::is_same<T, float>::value ? 1e-3 : 1e-10));
  CHECK(G::sum_squares<T>(VectorView<const T>(v.dv())) ==
        Approx(C::sum_squares<T>(VectorView<const T>(v.hv()))).epsilon(1e-10));
  CHECK(G::all_finite<T>(VectorView<const T>(v.dv())));
  CHECK(G::sum<T>(VectorView<const T>(v.dev.data(), 0)) == T(0));
  for (T bad : {T(NAN), T(INFINITY), -T(INFINITY)}) {
    auto w = v.host;
    w[n - 2] = bad;
    Mat<T> m(n, 1);
    m.host = w;
    m.upload();
    CHECK_FALSE(G::all_finite<T>(VectorView<const T>(m.dv())));
    CHECK(C::all_finite<T>(VectorView<const T>(m.hv())) == false);
  }
  auto ref = v.host;
  ref[7] = T(NAN);
  Mat<T> m(n, 1);
  m.host = ref;
  m.upload();
  C::scale<T>(VectorView<T>(ref.data(), n), T(1.7));
  G::scale<T>(m.dv(), T(1.7));
  CHECK(compare("scale", ref, m.download(), 0, 0) == 0);
  C::clamp<T>(VectorView<T>(ref.data(), n), T(-1), T(1));  // NaN -> lo, as std::min(hi, std::max(lo, x))
  G::clamp<T>(m.dv(), T(-1), T(1));
  CHECK(compare("clamp", ref, m.download(), 0, 0) == 0);

  // (grad_scale, clip): none, global-norm scale only, element-wise clip of the scaled gradient.
  for (bool decoupled : {false, true})
  for (auto [grad_scale, clip] : {std::pair<T, T>(T(1), T(0)), std::pair<T, T>(T(0.3), T(0)), std::pair<T, T>(T(0.7), T(0.5))}) {
    INFO("decoupled " << decoupled << ", grad_scale " << grad_scale << ", clip " << clip);
    const Index P = 100003;
    auto p = random_mat<T>(P, 1, P, rng), g = random_mat<T>(P, 1, P, rng), mm = random_mat<T>(P, 1, P, rng, 0, 0.1);
    auto vv = random_mat<T>(P, 1, P, rng, 0, 0.1);
    for (auto& x : vv.host) x = std::fabs(x);
    vv.upload();
    auto hp = p.host, hm = mm.host, hv = vv.host;
    for (long step : {1L, 2L, 1000L}) {
      C::adam_step<T>(VectorView<T>(hp.data(), P), VectorView<const T>(g.hv()), VectorView<T>(hm.data(), P),
                      VectorView<T>(hv.data(), P), T(1e-3), T(0.9), T(0.999), T(1e-8), T(0.01), decoupled, step, grad_scale, clip);
      G::adam_step<T>(p.dv(), VectorView<const T>(g.dv()), mm.dv(), vv.dv(), T(1e-3), T(0.9), T(0.999), T(1e-8),
                      T(0.01), decoupled, step, grad_scale, clip);
    }
    CHECK(compare("adam p", hp, p.download(), Tol<T>::atol, Tol<T>::rtol) == 0);
    CHECK(compare("adam m", hm, mm.download(), Tol<T>::atol, Tol<T>::rtol) == 0);
    CHECK(compare("adam v", hv, vv.download(), Tol<T>::atol, Tol<T>::rtol) == 0);
  }
  // Element-wise clip of non-finite gradients (public API; the trainer never steps on them): NaN
  // stays NaN on both (math::clip_symmetric), +-inf clip to +-clip. The CPU takes its dispatched
  // path (SIMD for float where the CPU has it); 37 = vector body and tail.
  {
    const Index P = 37;
    auto p = random_mat<T>(P, 1, P, rng), g = random_mat<T>(P, 1, P, rng), mm = random_mat<T>(P, 1, P, rng);
    Mat<T> vv(P, 1);
    g.host[0] = T(NAN), g.host[9] = T(NAN), g.host[20] = T(INFINITY), g.host[21] = -T(INFINITY), g.host[35] = T(NAN);
    g.upload();
    vv.upload();
    auto hp = p.host, hm = mm.host, hv = vv.host;
    C::adam_step<T>(VectorView<T>(hp.data(), P), VectorView<const T>(g.hv()), VectorView<T>(hm.data(), P),
                    VectorView<T>(hv.data(), P), T(1e-3), T(0.9), T(0.999), T(1e-8), T(0), false, 1, T(1), T(0.5));
    G::adam_step<T>(p.dv(), VectorView<const T>(g.dv()), mm.dv(), vv.dv(), T(1e-3), T(0.9), T(0.999), T(1e-8), T(0),
                    false, 1, T(1), T(0.5));
    for (Index i : {0, 9, 35}) CHECK(std::isnan(hp[i]));
    CHECK(compare("adam p (NaN, inf gradients)", hp, p.download(), Tol<T>::atol, Tol<T>::rtol) == 0);
    CHECK(compare("adam m (NaN, inf gradients)", hm, mm.download(), Tol<T>::atol, Tol<T>::rtol) == 0);
    CHECK(compare("adam v (NaN, inf gradients)", hv, vv.download(), Tol<T>::atol, Tol<T>::rtol) == 0);
  }
}

TEMPLATE_TEST_CASE("cuda: Gaussian latent (forward, backward, log weight)", "[cuda]", float, double) {
  using T = TestType;
  SCVAE_REQUIRE_CUDA_DEVICE();
  Rng rng(7);
  const Index Z = 25, N = 37;
  auto head = random_mat<T>(2 * Z, N, 2 * Z + 1, rng, 0, 4);  // some log-variances outside [-6, 6]
  auto eps = random_mat<T>(Z, N, Z, rng), z = random_mat<T>(Z, N, Z + 2, rng), kl = random_mat<T>(N, 1, N, rng);
  auto dz = random_mat<T>(Z, N, Z, rng), dh = random_mat<T>(2 * Z, N, 2 * Z + 1, rng), lw = random_mat<T>(N, 1, N, rng);
  LatentClamp c;
  auto hz = z.host, hkl = kl.host, hdh = dh.host, hlw = lw.host;
  C::gaussian_latent_forward<T>(MatrixView<T>(hz.data(), Z, N, Z + 2), VectorView<T>(hkl.data(), N),
                                MatrixView<const T>(head.h()), MatrixView<const T>(eps.h()), c);
  G::gaussian_latent_forward<T>(z.d(), kl.dv(), MatrixView<const T>(head.d()), MatrixView<const T>(eps.d()), c);
  CHECK(compare("latent z", hz, z.download(), Tol<T>::atol, Tol<T>::rtol) == 0);
  CHECK(compare("latent kl", hkl, kl.download(), Tol<T>::atol, Tol<T>::rtol) == 0);
  C::gaussian_latent_backward<T>(MatrixView<T>(hdh.data(), 2 * Z, N, 2 * Z + 1), MatrixView<const T>(dz.h()),
                                 MatrixView<const T>(head.h()), MatrixView<const T>(eps.h()), T(0.3), c);
  G::gaussian_latent_backward<T>(dh.d(), MatrixView<const T>(dz.d()), MatrixView<const T>(head.d()),
                                 MatrixView<const T>(eps.d()), T(0.3), c);
  CHECK(compare("latent d_head", hdh, dh.download(), Tol<T>::atol, Tol<T>::rtol) == 0);
  C::gaussian_log_weight<T>(VectorView<T>(hlw.data(), N), MatrixView<const T>(hz.data(), Z, N, Z + 2),
                            MatrixView<const T>(head.h()), MatrixView<const T>(eps.h()), c);
  G::gaussian_log_weight<T>(lw.dv(), MatrixView<const T>(z.d()), MatrixView<const T>(head.d()),
                            MatrixView<const T>(eps.d()), c);
  CHECK(compare("latent log weight", hlw, lw.download(), Tol<T>::atol * 10, Tol<T>::rtol * 10) == 0);
}

TEMPLATE_TEST_CASE("cuda: mixture ops (softmax, broadcast, reduce, weights, latent, combine)", "[cuda]", float, double) {
  using T = TestType;
  SCVAE_REQUIRE_CUDA_DEVICE();
  Rng rng(8);
  const Index K = 7, N = 37, H = 251, Z = 25, KN = K * N;
  const double at = Tol<T>::atol * 10, rt = Tol<T>::rtol * 10;
  auto logits = random_mat<T>(K, N, K + 1, rng, 0, 3), q = random_mat<T>(K, N, K, rng), lq = random_mat<T>(K, N, K, rng);
  auto hq = q.host, hlq = lq.host;
  C::softmax_columns<T>(MatrixView<T>(hq.data(), K, N), MatrixView<T>(hlq.data(), K, N), MatrixView<const T>(logits.h()));
  G::softmax_columns<T>(q.d(), lq.d(), MatrixView<const T>(logits.d()));
  CHECK(compare("softmax q", hq, q.download(), at, rt) == 0);
  CHECK(compare("softmax log_q", hlq, lq.download(), at, rt) == 0);
  q.host = hq;
  q.upload();
  lq.host = hlq;
  lq.upload();

  auto p = random_mat<T>(H, N, H + 1, rng), wk = random_mat<T>(H, K, H, rng), pre = random_mat<T>(H, KN, H + 2, rng);
  auto hpre = pre.host;
  C::broadcast_components<T>(MatrixView<T>(hpre.data(), H, KN, H + 2), MatrixView<const T>(p.h()), MatrixView<const T>(wk.h()));
  G::broadcast_components<T>(pre.d(), MatrixView<const T>(p.d()), MatrixView<const T>(wk.d()));
  CHECK(compare("broadcast_components", hpre, pre.download(), 0, 0) == 0);
  auto dwk = random_mat<T>(H, K, H, rng), dp = random_mat<T>(H, N, H + 1, rng);
  auto hdwk = dwk.host, hdp = dp.host;
  C::reduce_components<T>(MatrixView<T>(hdp.data(), H, N, H + 1), MatrixView<T>(hdwk.data(), H, K), MatrixView<const T>(pre.h()));
  G::reduce_components<T>(dp.d(), dwk.d(), MatrixView<const T>(pre.d()));
  CHECK(compare("reduce_components dp", hdp, dp.download(), at, rt) == 0);
  CHECK(compare("reduce_components dwk", hdwk, dwk.download(), at, rt) == 0);

  auto w = random_mat<T>(KN, 1, KN, rng);
  auto hw = w.host;
  C::mixture_weights<T>(VectorView<T>(hw.data(), KN), MatrixView<const T>(q.h()), T(-0.3));
  G::mixture_weights<T>(w.dv(), MatrixView<const T>(q.d()), T(-0.3));
  CHECK(compare("mixture_weights", hw, w.download(), 0, 0) == 0);

  LatentClamp c;
  auto head = random_mat<T>(2 * Z, KN, 2 * Z, rng, 0, 3), eps = random_mat<T>(Z, KN, Z, rng);
  auto pm = random_mat<T>(Z, K, Z, rng), pr = random_mat<T>(Z, K, Z, rng, 0.5, 1);
  auto z = random_mat<T>(Z, KN, Z, rng), klz = random_mat<T>(KN, 1, KN, rng, -10, 3);
  auto hz = z.host, hklz = klz.host;
  C::mixture_latent_forward<T>(MatrixView<T>(hz.data(), Z, KN), VectorView<T>(hklz.data(), KN), MatrixView<const T>(head.h()),
                               MatrixView<const T>(eps.h()), MatrixView<const T>(pm.h()), MatrixView<const T>(pr.h()), N, c);
  G::mixture_latent_forward<T>(z.d(), klz.dv(), MatrixView<const T>(head.d()), MatrixView<const T>(eps.d()),
                               MatrixView<const T>(pm.d()), MatrixView<const T>(pr.d()), N, c);
  CHECK(compare("mixture z", hz, z.download(), at, rt) == 0);
  CHECK(compare("mixture klz", hklz, klz.download(), at, rt) == 0);

  auto dz = random_mat<T>(Z, KN, Z, rng), dh = random_mat<T>(2 * Z, KN, 2 * Z, rng);
  auto dpm = random_mat<T>(Z, K, Z, rng), dpr = random_mat<T>(Z, K, Z, rng), ks = random_mat<T>(KN, 1, KN, rng);
  auto hdh = dh.host, hdpm = dpm.host, hdpr = dpr.host;
  C::mixture_latent_backward<T>(MatrixView<T>(hdh.data(), 2 * Z, KN), MatrixView<T>(hdpm.data(), Z, K),
                                MatrixView<T>(hdpr.data(), Z, K), MatrixView<const T>(dz.h()), MatrixView<const T>(head.h()),
                                MatrixView<const T>(eps.h()), MatrixView<const T>(pm.h()), MatrixView<const T>(pr.h()),
                                VectorView<const T>(ks.hv()), N, c);
  G::mixture_latent_backward<T>(dh.d(), dpm.d(), dpr.d(), MatrixView<const T>(dz.d()), MatrixView<const T>(head.d()),
                                MatrixView<const T>(eps.d()), MatrixView<const T>(pm.d()), MatrixView<const T>(pr.d()),
                                VectorView<const T>(ks.dv()), N, c);
  CHECK(compare("mixture d_head", hdh, dh.download(), at, rt) == 0);
  CHECK(compare("mixture d_prior_mean", hdpm, dpm.download(), at * 10, rt * 10) == 0);
  CHECK(compare("mixture d_prior_raw", hdpr, dpr.download(), at * 10, rt * 10) == 0);

  auto lpx = random_mat<T>(KN, 1, KN, rng, -3000, 200), lprior = random_mat<T>(K, 1, K, rng, -2, 0.3);
  klz.host = hklz;
  klz.upload();
  for (bool grads : {false, true}) {
    auto ll = random_mat<T>(N, 1, N, rng), kl = random_mat<T>(N, 1, N, rng), dl = random_mat<T>(K, N, K + 2, rng);
    auto dpl = random_mat<T>(K, 1, K, rng);
    auto hll = ll.host, hkl = kl.host, hdl = dl.host, hdpl = dpl.host;
    C::mixture_combine<T>(VectorView<T>(hll.data(), N), VectorView<T>(hkl.data(), N),
                          grads ? MatrixView<T>(hdl.data(), K, N, K + 2) : MatrixView<T>{},
                          grads ? VectorView<T>(hdpl.data(), K) : VectorView<T>{}, MatrixView<const T>(q.h()),
                          MatrixView<const T>(lq.h()), VectorView<const T>(lpx.hv()), VectorView<const T>(klz.hv()),
                          VectorView<const T>(lprior.hv()), T(0.7), T(-1.0 / N));
    G::mixture_combine<T>(ll.dv(), kl.dv(), grads ? dl.d() : MatrixView<T>{}, grads ? dpl.dv() : VectorView<T>{},
                          MatrixView<const T>(q.d()), MatrixView<const T>(lq.d()), VectorView<const T>(lpx.dv()),
                          VectorView<const T>(klz.dv()), VectorView<const T>(lprior.dv()), T(0.7), T(-1.0 / N));
    CHECK(compare("combine ll", hll, ll.download(), at, rt) == 0);
    CHECK(compare("combine kl", hkl, kl.download(), at, rt) == 0);
    // d_logits = scale q (g - mean g): a difference of ~3000-sized terms, so the float tolerance
    // is absolute on that scale.
    CHECK(compare("combine d_logits", hdl, dl.download(), std::is_same<T, float>::value ? 3e-4 : 1e-9, rt) == 0);
    CHECK(compare("combine d_prior_logits", hdpl, dpl.download(), at, rt) == 0);
  }

  // No cells (n = 0: every [. x K*n] and [. x N] operand is empty): nothing to do on either
  // backend, no throw, and the accumulated prior / component gradients keep their values.
  {
    auto z0 = [](Index rows) { return MatrixView<T>(nullptr, rows, 0, rows > 0 ? rows : 1); };
    auto c0 = [](Index rows) { return MatrixView<const T>(nullptr, rows, 0, rows > 0 ? rows : 1); };
    const VectorView<T> e0(nullptr, 0);
    const VectorView<const T> ce0(nullptr, 0);
    auto hdpm0 = hdpm, hdpr0 = hdpr, hdwk0 = hdwk, gdpm0 = dpm.download(), gdpr0 = dpr.download(), gdwk0 = dwk.download();
    CHECK_NOTHROW(C::mixture_latent_forward<T>(z0(Z), e0, c0(2 * Z), c0(Z), MatrixView<const T>(pm.h()),
                                               MatrixView<const T>(pr.h()), 0, c));
    CHECK_NOTHROW(G::mixture_latent_forward<T>(z0(Z), e0, c0(2 * Z), c0(Z), MatrixView<const T>(pm.d()),
                                               MatrixView<const T>(pr.d()), 0, c));
    CHECK_NOTHROW(C::mixture_latent_backward<T>(z0(2 * Z), MatrixView<T>(hdpm.data(), Z, K), MatrixView<T>(hdpr.data(), Z, K),
                                                c0(Z), c0(2 * Z), c0(Z), MatrixView<const T>(pm.h()),
                                                MatrixView<const T>(pr.h()), ce0, 0, c));
    CHECK_NOTHROW(G::mixture_latent_backward<T>(z0(2 * Z), dpm.d(), dpr.d(), c0(Z), c0(2 * Z), c0(Z),
                                                MatrixView<const T>(pm.d()), MatrixView<const T>(pr.d()), ce0, 0, c));
    CHECK_NOTHROW(C::softmax_columns<T>(z0(K), z0(K), c0(K)));
    CHECK_NOTHROW(G::softmax_columns<T>(z0(K), z0(K), c0(K)));
    CHECK_NOTHROW(C::broadcast_components<T>(z0(H), c0(H), MatrixView<const T>(wk.h())));
    CHECK_NOTHROW(G::broadcast_components<T>(z0(H), c0(H), MatrixView<const T>(wk.d())));
    CHECK_NOTHROW(C::reduce_components<T>(z0(H), MatrixView<T>(hdwk.data(), H, K), c0(H)));
    CHECK_NOTHROW(G::reduce_components<T>(z0(H), dwk.d(), c0(H)));
    CHECK_NOTHROW(C::mixture_weights<T>(e0, c0(K), T(1)));
    CHECK_NOTHROW(G::mixture_weights<T>(e0, c0(K), T(1)));
    auto dpl = random_mat<T>(K, 1, K, rng);
    auto hdpl = dpl.host, hdpl0 = dpl.host;
    CHECK_NOTHROW(C::mixture_combine<T>(e0, e0, z0(K), VectorView<T>(hdpl.data(), K), c0(K), c0(K), ce0, ce0,
                                        VectorView<const T>(lprior.hv()), T(1), T(-1)));
    CHECK_NOTHROW(G::mixture_combine<T>(e0, e0, z0(K), dpl.dv(), c0(K), c0(K), ce0, ce0,
                                        VectorView<const T>(lprior.dv()), T(1), T(-1)));
    CHECK_NOTHROW(G::synchronize());
    CHECK(compare("n = 0: d_prior_logits (cpu)", hdpl0, hdpl, 0, 0) == 0);
    CHECK(compare("n = 0: d_prior_logits", hdpl0, dpl.download(), 0, 0) == 0);
    CHECK(compare("n = 0: d_prior_mean (cpu)", hdpm0, hdpm, 0, 0) == 0);
    CHECK(compare("n = 0: d_prior_raw (cpu)", hdpr0, hdpr, 0, 0) == 0);
    CHECK(compare("n = 0: dwk (cpu)", hdwk0, hdwk, 0, 0) == 0);
    CHECK(compare("n = 0: d_prior_mean", gdpm0, dpm.download(), 0, 0) == 0);
    CHECK(compare("n = 0: d_prior_raw", gdpr0, dpr.download(), 0, 0) == 0);
    CHECK(compare("n = 0: dwk", gdwk0, dwk.download(), 0, 0) == 0);
  }
}

TEMPLATE_TEST_CASE("cuda: library-size mean ops (log library, log-softmax shift, its backward)", "[cuda]", float, double) {
  using T = TestType;
  SCVAE_REQUIRE_CUDA_DEVICE();
  // 27,998 genes x 37 cells (not multiples of the block size), ld > rows, one empty cell.
  const Index R = 27998, N = 37, LD = 28001;
  Rng rng(12);
  std::vector<std::int64_t> ptr{0};
  std::vector<std::int32_t> idx;
  std::vector<float> val;
  for (Index j = 0; j < N; ++j) {
    for (Index i = 0; i < R && j != 5; i += 1 + Index(rng.uniform() * 40)) {
      idx.push_back(static_cast<std::int32_t>(i));
      val.push_back(float(1 + Index(rng.uniform() * 20)));
    }
    ptr.push_back(static_cast<std::int64_t>(idx.size()));
  }
  auto dptr = G::allocate<std::int64_t>(Index(ptr.size()));
  auto didx = G::allocate<std::int32_t>(Index(idx.size()));
  auto dval = G::allocate<float>(Index(val.size()));
  G::upload<std::int64_t>(VectorView<std::int64_t>(G::data(dptr), Index(ptr.size())), ptr.data());
  G::upload<std::int32_t>(VectorView<std::int32_t>(G::data(didx), Index(idx.size())), idx.data());
  G::upload<float>(VectorView<float>(G::data(dval), Index(val.size())), val.data());
  const CscView<float> dx{G::data(dptr), G::data(didx), G::data(dval), R, N};
  for (bool log1p_input : {false, true}) {
    std::vector<float> hv = val;
    if (log1p_input)
      for (auto& v : hv) v = float(std::log1p(double(v)));
    G::upload<float>(VectorView<float>(G::data(dval), Index(hv.size())), hv.data());
    const CscView<float> hxi{ptr.data(), idx.data(), hv.data(), R, N};
    std::vector<T> lc(N);
    C::column_log_library<T>(hxi, log1p_input, VectorView<T>(lc.data(), N));
    auto lg = G::allocate<T>(N);
    G::column_log_library<T>(dx, log1p_input, VectorView<T>(G::data(lg), N));
    std::vector<T> lgh(N);
    G::download<T>(lgh.data(), VectorView<const T>(G::data(lg), N));
    CHECK(compare(log1p_input ? "column_log_library(log1p)" : "column_log_library", lc, lgh, Tol<T>::atol,
                  Tol<T>::rtol) == 0);
  }
  std::vector<T> lib(N);
  for (auto& v : lib) v = T(5 + 3 * rng.uniform());
  auto dlib = G::allocate<T>(N);
  G::upload<T>(VectorView<T>(G::data(dlib), N), lib.data());
  auto a = random_mat<T>(R, N, LD, rng, 0, 4);
  auto ha = a.host;
  C::log_softmax_shift<T>(MatrixView<T>(ha.data(), R, N, LD), VectorView<const T>(lib.data(), N));
  G::log_softmax_shift<T>(a.d(), VectorView<const T>(G::data(dlib), N));
  // outputs are ~ -10 .. 20 in magnitude: float atol of a few ulps there
  CHECK(compare("log_softmax_shift", ha, a.download(), std::is_same_v<T, float> ? 2e-5 : 1e-12, Tol<T>::rtol) == 0);
  auto dy = random_mat<T>(R, N, LD, rng);
  auto hdy = dy.host;
  C::log_softmax_shift_backward<T>(MatrixView<T>(hdy.data(), R, N, LD), MatrixView<const T>(ha.data(), R, N, LD),
                                   VectorView<const T>(lib.data(), N));
  G::log_softmax_shift_backward<T>(dy.d(), MatrixView<const T>(a.d()), VectorView<const T>(G::data(dlib), N));
  CHECK(compare("log_softmax_shift_backward", hdy, dy.download(), std::is_same_v<T, float> ? 2e-5 : 1e-12,
                Tol<T>::rtol) == 0);
}
