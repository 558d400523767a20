// CPU vs CUDA parity of the fused likelihood heads (log p(x) per cell, head gradients, per-gene
// dispersion gradient) and of the predictive mean / variance, for every likelihood, at the
// MBC-20k width (27,998 genes), batch 100 and 37 (a column block of a larger batch, so the CSC
// offsets are not zero), with heads that reach the clamp boundaries and explicit stored zeros.
// Tolerances (|cuda - cpu| <= atol + rtol |cpu|):
//   log_px: float rtol 1e-5 + atol 1e-3 — each cell is a double sum of 28k float terms; the
//     terms differ by a few ulps (the device runs the reference element functions, the CPU's
//     float pass the vectorised ones of detail/zero_fast.hpp and nonzero_fast.hpp, both within
//     ~1e-6 of double on the element's scale: tests/test_fast_math.cpp), the sums far less.
//     (On the CPU, its fast pass against its own scalar float reference pass on this test's
//     data stays within 0.03 of these tolerances for log_px, 0.1 for d_heads.)
//     double rtol 1e-11.
//   d_heads: float atol 1e-6 * max|d| + rtol 1e-4 — x - mu cancels for well-fitted genes, so
//     the error is absolute on the scale of the largest gradient; double 1e-12 / 1e-9.
//   d_gene_log_theta: a sum over cells: float rtol 1e-4, double 1e-10.
#include "cuda_test_util.cuh"

using namespace scvae;
using namespace cuda_test;
using C = CpuBackend;
using G = CudaBackend;

namespace {

template <class T>
Mat<T> make_heads(const LikelihoodSpec& spec, Index Gn, Index B, Rng& rng) {
  const int P = n_heads(spec);
  Mat<T> h(P * Gn, B, P * Gn + 3);
  for (Index j = 0; j < B; ++j)
    for (Index g = 0; g < Gn; ++g) {
      h.host[g + j * h.ld] = T(-1.0 + 1.5 * rng.normal());  // log mean
      if (P > 1) h.host[Gn + g + j * h.ld] = T(rng.normal());
      if (P > 2) h.host[2 * Gn + g + j * h.ld] = T(-1.0 + rng.normal());
    }
  // clamp boundaries and beyond (zero gradient outside [-15, 15])
  h.host[5] = T(15);
  h.host[6] = T(-15);
  h.host[7] = T(22);
  h.host[8 + h.ld] = T(-30);
  if (P > 1) h.host[Gn + 9] = T(40);
  h.upload();
  return h;
}
}  // namespace

TEMPLATE_TEST_CASE("cuda: fused likelihood heads match the CPU pass", "[cuda][likelihood]", float, double) {
  using T = TestType;
  SCVAE_REQUIRE_CUDA_DEVICE();
  const bool fl = std::is_same<T, float>::value;
  const Index Gn = 27998;
  Rng rng(21);
  auto counts = Csc::random(Gn, 103, 0.07, rng, /*stored_zeros=*/true);
  for (const auto& s : kSpecs)
    for (Index B : {Index(100), Index(37)}) {
      INFO(s.name << ", batch " << B);
      std::printf("likelihood %s, batch %ld\n", s.name, long(B));
      const Index c0 = B == 37 ? 61 : 0;
      const CscView<float> xh = counts.h().col_block(c0, B), xd = counts.d().col_block(c0, B);
      auto heads = make_heads<T>(s.spec, Gn, B, rng);
      const bool gene = has_gene_dispersion(s.spec);
      Mat<T> glt(gene ? Gn : 0, 1), dglt(gene ? Gn : 0, 1), w(B, 1), lp(B, 1);
      fill_normal(glt.host, rng);
      fill_normal(dglt.host, rng, 0, 0.1);  // accumulated into
      for (auto& v : w.host) v = T(-1.0 / B) * T(0.5 + rng.uniform());
      glt.upload();
      dglt.upload();
      w.upload();
      lp.upload();
      Mat<T> dh(heads.rows, B, heads.ld);
      std::fill(dh.host.begin(), dh.host.end(), T(123));  // padding must stay 123
      dh.upload();
      auto ref_dh = dh.host, ref_lp = lp.host, ref_dglt = dglt.host;
      C::likelihood_forward_backward<T>(s.spec, MatrixView<const T>(heads.h()), VectorView<const T>(glt.hv()), xh,
                                        VectorView<const T>(w.hv()), VectorView<T>(ref_lp.data(), B),
                                        MatrixView<T>(ref_dh.data(), heads.rows, B, heads.ld),
                                        VectorView<T>(ref_dglt.data(), dglt.rows));
      G::likelihood_forward_backward<T>(s.spec, MatrixView<const T>(heads.d()), VectorView<const T>(glt.dv()), xd,
                                        VectorView<const T>(w.dv()), lp.dv(), dh.d(), dglt.dv());
      double dmax = 0;
      for (T v : ref_dh) dmax = std::max(dmax, double(std::fabs(v)));
      CHECK(compare("log_px", ref_lp, lp.download(), fl ? 1e-3 : 1e-9, fl ? 1e-5 : 1e-11) == 0);
      CHECK(compare("d_heads", ref_dh, dh.download(), (fl ? 1e-6 : 1e-12) * dmax, fl ? 1e-4 : 1e-9) == 0);
      if (gene) CHECK(compare("d_gene_log_theta", ref_dglt, dglt.download(), fl ? 1e-6 : 1e-12, fl ? 1e-4 : 1e-10) == 0);

      // forward only (no gradients): the same log_px, d_heads untouched
      auto before = dh.download();
      G::likelihood_forward_backward<T>(s.spec, MatrixView<const T>(heads.d()), VectorView<const T>(glt.dv()), xd,
                                        VectorView<const T>{}, lp.dv(), MatrixView<T>{}, VectorView<T>{});
      CHECK(compare("log_px (no grad)", ref_lp, lp.download(), fl ? 1e-3 : 1e-9, fl ? 1e-5 : 1e-11) == 0);
      CHECK(compare("d_heads untouched", before, dh.download(), 0, 0) == 0);

      // determinism: a second run gives the same bits
      G::likelihood_forward_backward<T>(s.spec, MatrixView<const T>(heads.d()), VectorView<const T>(glt.dv()), xd,
                                        VectorView<const T>(w.dv()), lp.dv(), dh.d(), VectorView<T>{});
      auto lp1 = lp.download(), dh1 = dh.download();
      G::likelihood_forward_backward<T>(s.spec, MatrixView<const T>(heads.d()), VectorView<const T>(glt.dv()), xd,
                                        VectorView<const T>(w.dv()), lp.dv(), dh.d(), VectorView<T>{});
      CHECK(compare("log_px rerun", lp1, lp.download(), 0, 0) == 0);
      CHECK(compare("d_heads rerun", dh1, dh.download(), 0, 0) == 0);

      // predictive moments [G x B]
      Mat<T> mean(Gn, B), var(Gn, B);
      mean.upload();
      var.upload();
      auto hm = mean.host, hv = var.host;
      C::likelihood_mean_variance<T>(s.spec, MatrixView<const T>(heads.h()), VectorView<const T>(glt.hv()),
                                     MatrixView<T>(hm.data(), Gn, B), MatrixView<T>(hv.data(), Gn, B));
      G::likelihood_mean_variance<T>(s.spec, MatrixView<const T>(heads.d()), VectorView<const T>(glt.dv()), mean.d(), var.d());
      CHECK(compare("mean", hm, mean.download(), 0, fl ? 1e-5 : 1e-12) == 0);
      CHECK(compare("variance", hv, var.download(), 0, fl ? 1e-5 : 1e-12) == 0);
    }
}

TEST_CASE("cuda: bad counts are reported as InputError; host batches are refused", "[cuda][likelihood]") {
  SCVAE_REQUIRE_CUDA_DEVICE();
  using T = float;
  const LikelihoodSpec spec{Likelihood::nb, Dispersion::gene_cell};
  const Index Gn = 1000, B = 5;
  Rng rng(3);
  auto heads = make_heads<T>(spec, Gn, B, rng);
  Mat<T> w(B, 1), lp(B, 1), dh(heads.rows, B, heads.ld);
  w.upload();
  lp.upload();
  dh.upload();
  auto run = [&](const Csc& x) {
    G::likelihood_forward_backward<T>(spec, MatrixView<const T>(heads.d()), VectorView<const T>{}, x.d(),
                                      VectorView<const T>(w.dv()), lp.dv(), dh.d(), VectorView<T>{});
  };
  auto good = Csc::random(Gn, B, 0.1, rng);
  run(good);
  CHECK_NOTHROW(G::synchronize());
  auto unsorted = good.host_copy();  // break column 3's order
  std::swap(unsorted.idx[unsorted.ptr[3]], unsorted.idx[unsorted.ptr[3] + 1]);
  unsorted.upload();
  run(unsorted);
  CHECK_THROWS_AS(G::synchronize(), InputError);
  CHECK_NOTHROW(G::synchronize());  // reported once
  auto negative = good.host_copy();
  negative.val[negative.ptr[2]] = -1.f;
  negative.upload();
  run(negative);
  CHECK_THROWS_AS((void)G::sum<T>(VectorView<const T>(lp.dv())), InputError);  // deferred to the next scalar read
  CHECK_THROWS_AS(G::likelihood_forward_backward<T>(spec, MatrixView<const T>(heads.d()), VectorView<const T>{}, good.h(),
                                                    VectorView<const T>(w.dv()), lp.dv(), dh.d(), VectorView<T>{}),
                  InputError);
}

TEST_CASE("cuda: likelihood pass at the edges of its launch shape: no genes, over 65,535 cell groups",
          "[cuda][likelihood]") {
  SCVAE_REQUIRE_CUDA_DEVICE();
  using T = float;
  const LikelihoodSpec spec{Likelihood::nb, Dispersion::gene_cell};  // heads [mu; theta]
  Rng rng(8);
  {  // G = 0: log p(x) = 0 for every cell, as on the CPU (the device pass launches nothing)
    const Index B = 4;
    Csc x;
    x.rows = 0;
    x.cols = B;
    x.ptr.assign(B + 1, 0);
    x.upload();
    Mat<T> heads(0, B), w(B, 1), lp(B, 1);
    for (auto& v : lp.host) v = T(7);
    heads.upload();
    w.upload();
    lp.upload();
    G::likelihood_forward_backward<T>(spec, MatrixView<const T>(heads.d()), VectorView<const T>{}, x.d(),
                                      VectorView<const T>(w.dv()), lp.dv(), MatrixView<T>{}, VectorView<T>{});
    CHECK(lp.download() == std::vector<T>(B, T(0)));
  }
  // 600,001 cells of 3 genes: 75,001 groups of 8 cells, more than gridDim.y allows in one launch.
  const Index Gn = 3, B = 600001;
  auto x = Csc::random(Gn, B, 0.3, rng);
  Mat<T> heads(2 * Gn, B), w(B, 1), lp(B, 1), dh(2 * Gn, B);
  fill_normal(heads.host, rng, -0.5, 1.0);
  for (auto& v : w.host) v = T(-1.0 / B);
  for (auto* m : {&heads, &w, &lp, &dh}) m->upload();
  auto ref_lp = lp.host, ref_dh = dh.host;
  C::likelihood_forward_backward<T>(spec, MatrixView<const T>(heads.h()), VectorView<const T>{}, x.h(),
                                    VectorView<const T>(w.hv()), VectorView<T>(ref_lp.data(), B),
                                    MatrixView<T>(ref_dh.data(), 2 * Gn, B), VectorView<T>{});
  G::likelihood_forward_backward<T>(spec, MatrixView<const T>(heads.d()), VectorView<const T>{}, x.d(),
                                    VectorView<const T>(w.dv()), lp.dv(), dh.d(), VectorView<T>{});
  // The same tolerances as the parity test above; the last cells are in the second launch.
  CHECK(compare("log_px", ref_lp, lp.download(), 1e-3, 1e-5) == 0);
  double dmax = 0;
  for (T v : ref_dh) dmax = std::max(dmax, double(std::fabs(v)));
  CHECK(compare("d_heads", ref_dh, dh.download(), 1e-6 * dmax, 1e-4) == 0);
}
