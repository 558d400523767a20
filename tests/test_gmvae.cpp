// The GMVAE: finite-difference check of the whole ELBO w.r.t. every parameter (double), the
// K = 1 relation to the VAE, responsibilities, large K, importance sampling, checkpoints.
#include <catch2/catch.hpp>

#include <limits>
#include <map>

#include <scvae/gmvae.hpp>

#include "fd_util.hpp"
#include "test_util.hpp"

using namespace scvae;
using B = CpuBackend;

namespace {

CscBatch batch_of(const CsrMatrix& data) {
  auto rows = all_rows(data);
  CscBatch b;
  gather_batch(data, rows.data(), data.n_rows, InputTransform::log1p, b);
  return b;
}

}  // namespace

TEST_CASE("GMVAE: gradient of the whole ELBO w.r.t. every parameter (finite differences, double)", "[gmvae][grad]") {
  const Index G = 7, N = 4, K = 3;
  auto data = scvae_test::random_counts(N, G, 12);
  auto batch = batch_of(data);
  struct Case {
    LikelihoodSpec lik;
    bool learn_prior;
    double dropout;
    const char* name;
    MeanLink mean = MeanLink::free;
  } cases[] = {{{Likelihood::nb, Dispersion::gene}, false, 0.0, "nb gene, uniform p(y)"},
               {{Likelihood::zinb, Dispersion::gene}, true, 0.0, "zinb gene, library mean (scVI)", MeanLink::library},
               {{Likelihood::poisson, Dispersion::gene_cell}, false, 0.0, "constrained poisson", MeanLink::library},
               {{Likelihood::zinb, Dispersion::gene_cell}, true, 0.0, "zinb, learned p(y)"},
               {{Likelihood::poisson, Dispersion::gene_cell}, true, 0.2, "poisson, learned p(y), dropout"},
               {{Likelihood::zip, Dispersion::gene_cell}, false, 0.0, "zip, uniform p(y)"}};
  for (const auto& c : cases) {
    GmvaeConfig cfg;
    cfg.genes = G;
    cfg.hidden = {6, 5};
    cfg.latent = 2;
    cfg.components = K;
    cfg.learn_prior_weights = c.learn_prior;
    cfg.likelihood = c.lik;
    cfg.dropout = c.dropout;
    cfg.mean = c.mean;
    Gmvae<B, double> m(cfg, N, 3);
    Rng perturb(4);
    auto p = m.arena().all_params();
    for (Index i = 0; i < p.size; ++i) p[i] += 0.1 * perturb.normal();
    std::vector<double> eps(cfg.latent * K * N);
    scvae_test::fill_normal(eps.data(), eps.size(), perturb);
    const double beta = 0.6;
    auto f = [&] {  // gradients never zeroed: forward_backward writes them all (they start as NaN)
      Rng r(8);
      return m.forward_backward(batch.input_view(), batch.counts_view(), beta, r,
                                MatrixView<const double>(eps.data(), cfg.latent, K * N)).loss;
    };
    B::fill(m.arena().all_grads(), std::numeric_limits<double>::quiet_NaN());
    f();
    std::vector<double> g(m.arena().all_grads().data, m.arena().all_grads().data + p.size);
    auto rc = scvae_test::finite_difference(p.data, p.size, g, f);
    scvae_test::report(std::string("GMVAE ELBO, ") + c.name, rc);
    CHECK(rc.rel_error < 1e-6);
    const auto& L = m.arena().layout();
    for (std::size_t s = 0; s < L.params.size(); ++s) {
      double ng = 0;
      for (Index i = 0; i < L.params[s].size(); ++i) ng += std::fabs(g[L.params[s].offset + i]);
      INFO(L.param_names[s]);
      CHECK(ng > 0);
    }
  }
}

TEST_CASE("GMVAE with K = 1 equals the VAE when p(z|1) = N(0, I) and the component input is zero", "[gmvae]") {
  // With one component q(y|x) = 1, KL_y = 0, and q(z|x,1) is the VAE encoder whose first-layer
  // bias is b + W_k[:, 0]. Copying the VAE's parameters by name, with W_k = 0, m = 0 and
  // softplus(s) = 1, both models compute the same ELBO on the same noise.
  const Index G = 9, N = 6;
  auto data = scvae_test::random_counts(N, G, 2);
  auto batch = batch_of(data);
  VaeConfig vc;
  vc.genes = G;
  vc.hidden = {8, 5};
  vc.latent = 3;
  vc.likelihood = {Likelihood::zinb, Dispersion::gene};
  GmvaeConfig gc;
  gc.genes = G;
  gc.hidden = vc.hidden;
  gc.latent = vc.latent;
  gc.components = 1;
  gc.likelihood = vc.likelihood;
  Vae<B, double> vae(vc, N, 1);
  Gmvae<B, double> gm(gc, N, 2);
  const auto& vl = vae.arena().layout();
  const auto& gl = gm.arena().layout();
  std::map<std::string, SlotId> gslots;
  for (std::size_t i = 0; i < gl.param_names.size(); ++i) gslots[gl.param_names[i]] = static_cast<SlotId>(i);
  for (std::size_t i = 0; i < vl.param_names.size(); ++i) {
    std::string name = vl.param_names[i];
    if (name.rfind("encoder.", 0) == 0) name = "encoder_z." + name.substr(8);
    REQUIRE(gslots.count(name));
    auto src = vae.arena().param(static_cast<SlotId>(i));
    auto dst = gm.arena().param(gslots[name]);
    REQUIRE(src.size() == dst.size());
    std::copy(src.data, src.data + src.size(), dst.data);
  }
  B::fill(gm.arena().param(gslots["encoder_z.component_weight"]), 0.0);
  B::fill(gm.arena().param(gslots["prior.mean"]), 0.0);
  B::fill(gm.arena().param(gslots["prior.raw_variance"]), std::log(std::exp(1.0) - 1.0));
  std::vector<double> eps(vc.latent * N);
  Rng r(3);
  scvae_test::fill_normal(eps.data(), eps.size(), r);
  Rng r1(1), r2(1);
  auto a = vae.forward_backward(batch.input_view(), batch.counts_view(), 0.8, r1, MatrixView<const double>(eps.data(), vc.latent, N));
  auto b = gm.forward_backward(batch.input_view(), batch.counts_view(), 0.8, r2, MatrixView<const double>(eps.data(), vc.latent, N));
  CHECK(b.elbo == Approx(a.elbo).epsilon(1e-12));
  CHECK(b.kl == Approx(a.kl).epsilon(1e-12));
  CHECK(b.log_likelihood == Approx(a.log_likelihood).epsilon(1e-12));
  CHECK(b.loss == Approx(a.loss).epsilon(1e-12));
}

TEST_CASE("GMVAE: responsibilities sum to one, no NaN with K up to 50, importance sampling", "[gmvae]") {
  const Index G = 20, N = 16;
  auto data = scvae_test::random_counts(N, G, 5);
  auto batch = batch_of(data);
  for (Index K : {2, 10, 50}) {
    GmvaeConfig cfg;
    cfg.genes = G;
    cfg.hidden = {12};
    cfg.latent = 4;
    cfg.components = K;
    cfg.learn_prior_weights = true;
    Gmvae<B, float> m(cfg, N, 1);
    Adam<B, float> adam(m.arena().layout().param_size, AdamOptions{});
    Rng rng(2);
    for (int step = 0; step < 5; ++step) {
      m.arena().zero_grads();
      auto s = m.forward_backward(batch.input_view(), batch.counts_view(), 1.0f, rng);
      REQUIRE(std::isfinite(s.loss));
      REQUIRE(B::all_finite<float>(m.arena().all_grads()));
      adam.step(m.arena());
    }
    std::vector<double> q(K * N), lat(cfg.latent * N);
    m.encode(batch.input_view(), q.data(), lat.data());
    for (Index j = 0; j < N; ++j) {
      double s = 0;
      for (Index k = 0; k < K; ++k) {
        CHECK(q[k + j * K] >= 0);
        s += q[k + j * K];
      }
      CHECK(s == Approx(1.0).epsilon(1e-5));
    }
    for (double v : lat) CHECK(std::isfinite(v));
    std::vector<double> iw(N);
    Rng ir(4);
    m.importance_log_likelihood(batch.input_view(), batch.counts_view(), 20, ir, iw.data());
    Rng er(4);
    auto ev = m.evaluate(batch.input_view(), batch.counts_view(), er);
    double mean_iw = 0;
    for (double v : iw) {
      CHECK(std::isfinite(v));
      mean_iw += v / N;
    }
    INFO("K = " << K << " IW " << mean_iw << " ELBO " << ev.elbo / N);
    CHECK(mean_iw >= ev.elbo / N - 1.0);  // the importance-weighted bound is (on average) the tighter one
  }
}

TEST_CASE("GMVAE checkpoint round trip", "[gmvae][checkpoint]") {
  const Index G = 10, N = 8;
  auto data = scvae_test::random_counts(N, G, 6);
  auto batch = batch_of(data);
  GmvaeConfig cfg;
  cfg.genes = G;
  cfg.hidden = {6};
  cfg.latent = 2;
  cfg.components = 3;
  cfg.learn_prior_weights = true;
  Gmvae<B, float> m(cfg, N, 7);
  const std::string path = scvae_test::tmp_path("gmvae.ckpt");
  save_checkpoint(path, m, nullptr);
  auto loaded = load_model<Gmvae<B, float>>(path, N);
  std::vector<double> q1(3 * N), q2(3 * N);
  m.encode(batch.input_view(), q1.data(), nullptr);
  loaded.encode(batch.input_view(), q2.data(), nullptr);
  CHECK(q1 == q2);
  CHECK_THROWS_WITH((load_model<Vae<B, float>>(path, N)), Catch::Contains("holds a gmvae"));
}

TEST_CASE("Mixture re-initialisation sets p(z|k) from k-means and q(y|x) to uniform", "[gmvae]") {
  auto data = scvae_test::random_counts(40, 12, 9);
  GmvaeConfig cfg;
  cfg.genes = 12;
  cfg.hidden = {8};
  cfg.latent = 2;
  cfg.components = 3;
  Gmvae<B, double> m(cfg, 20, 1);
  auto km = m.init_mixture_from_data(data, all_rows(data), 5);
  REQUIRE(km.labels.size() == 40);
  const auto& L = m.arena().layout();
  for (std::size_t s = 0; s < L.params.size(); ++s) {
    auto v = m.arena().param(static_cast<SlotId>(s));
    if (L.param_names[s] == "prior.mean")
      for (Index k = 0; k < 3; ++k)
        for (Index i = 0; i < 2; ++i) CHECK(v(i, k) == Approx(km.centroids(i, k)));
    if (L.param_names[s] == "encoder_z.component_weight" || L.param_names[s] == "encoder_y.logits.weight")
      for (Index i = 0; i < v.size(); ++i) CHECK(v.data[i] == 0.0);
  }
  CscBatch b;
  auto rows = all_rows(data);
  gather_batch(data, rows.data(), 20, InputTransform::log1p, b);
  std::vector<double> q(3 * 20);
  m.encode(b.input_view(), q.data(), nullptr);
  for (double v : q) CHECK(v == Approx(1.0 / 3));

  // a model without a mixture rejects the option
  VaeConfig vc;
  vc.genes = 12;
  vc.hidden = {4};
  vc.latent = 2;
  Vae<B, float> vae(vc, 20);
  TrainOptions o;
  o.batch_size = 20;
  o.epochs = 2;
  o.mixture_init_epochs = 1;
  Trainer<Vae<B, float>> t(vae, o);
  CHECK_THROWS_WITH(t.fit(data, rows), Catch::Contains("no mixture"));
}

TEST_CASE("GMVAE: zero cells give empty per-cell outputs, as the VAE; batch statistics refuse them", "[gmvae]") {
  auto data = scvae_test::random_counts(5, 9, 2);
  CscBatch empty;
  gather_batch(data, nullptr, 0, InputTransform::log1p, empty);
  GmvaeConfig cfg;
  cfg.genes = 9;
  cfg.hidden = {6};
  cfg.latent = 2;
  cfg.components = 3;
  Gmvae<B, double> m(cfg, 4, 1);
  double sentinel = 7.0;  // nothing is written for no cells
  Rng rng(3);
  CHECK_NOTHROW(m.encode(empty.input_view(), &sentinel, &sentinel, &sentinel));
  CHECK_NOTHROW(m.reconstruct(empty.input_view(), &sentinel, &sentinel));
  CHECK_NOTHROW(m.sample(empty.input_view(), rng, &sentinel));
  CHECK_NOTHROW(m.importance_log_likelihood(empty.input_view(), empty.counts_view(), 3, rng, &sentinel));
  CHECK(sentinel == 7.0);
  CHECK_THROWS_AS(m.evaluate(empty.input_view(), empty.counts_view(), rng), InputError);
  CHECK_THROWS_AS(m.forward_backward(empty.input_view(), empty.counts_view(), 1.0, rng), InputError);
}

namespace {
// Gradients after forward_backward from zeroed gradients, from NaN-filled ones, and from a second
// call without zeroing: all equal bit for bit (a NaN left anywhere fails the comparison). Every
// gradient is finite, and every parameter slot gets a non-zero one.
template <class Model>
void check_writes_every_gradient(Model& m, const CscBatch& batch, const std::string& name) {
  auto grads = [&] {
    const auto g = m.arena().all_grads();
    return std::vector<float>(g.data, g.data + g.size);
  };
  auto step = [&] {
    Rng r(4);
    m.forward_backward(batch.input_view(), batch.counts_view(), 0.5f, r);
  };
  for (int threads : {1, 2}) {
    B::set_threads(threads);
    INFO(name << ", " << threads << " thread(s)");
    m.arena().zero_grads();
    step();
    const std::vector<float> ref = grads();
    REQUIRE(B::all_finite<float>(VectorView<const float>(m.arena().all_grads())));
    const auto& L = m.arena().layout();
    for (std::size_t s = 0; s < L.params.size(); ++s) {
      double ng = 0;
      for (Index i = 0; i < L.params[s].size(); ++i) ng += std::fabs(ref[L.params[s].offset + i]);
      INFO(L.param_names[s]);
      CHECK(ng > 0);
    }
    B::fill(m.arena().all_grads(), std::numeric_limits<float>::quiet_NaN());
    step();
    const bool from_nan = grads() == ref;  // (bools: Catch would print both vectors on failure)
    CHECK(from_nan);
    step();  // again, without zeroing: nothing accumulates
    const bool repeated = grads() == ref;
    CHECK(repeated);
  }
  B::set_threads(1);
}
}  // namespace

TEST_CASE("forward_backward writes every gradient (no zero_grads needed): float, oneDNN-sized products",
          "[vae][gmvae]") {
  // 1,500 genes, 97% zeros over 40 cells: about a third of the genes have no count in the batch,
  // so the sparse input layers' overwrite writes zero columns as well as sums. The heads' weight
  // gradient (3,000 x 65 x 40 for NB) is large enough for the threaded / oneDNN products.
  const Index G = 1500, N = 40;
  auto data = scvae_test::random_counts(N, G, 21, 0.97);
  auto batch = batch_of(data);
  for (const LikelihoodSpec lik : {LikelihoodSpec{Likelihood::nb, Dispersion::gene_cell},
                                   LikelihoodSpec{Likelihood::zinb, Dispersion::gene}}) {
    VaeConfig vc;
    vc.genes = G;
    vc.hidden = {64};
    vc.latent = 5;
    vc.likelihood = lik;
    Vae<B, float> vae(vc, N, 1);
    check_writes_every_gradient(vae, batch, "VAE");
    GmvaeConfig gc;
    gc.genes = G;
    gc.hidden = {64, 32};
    gc.latent = 5;
    gc.components = 3;
    gc.likelihood = lik;
    gc.mean = MeanLink::library;
    Gmvae<B, float> gm(gc, N, 1);
    check_writes_every_gradient(gm, batch, "GMVAE");
  }
}
