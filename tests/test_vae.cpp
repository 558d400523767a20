// The VAE: finite-difference check of the whole ELBO w.r.t. every parameter (double), for every
// likelihood; KL known values; importance-weighted bound; determinism.
#include <catch2/catch.hpp>

#include <fstream>
#include <limits>

#include <scvae/vae.hpp>

#include "fd_util.hpp"
#include "test_util.hpp"

using namespace scvae;
using B = CpuBackend;

TEST_CASE("KL to N(0, I) and reparameterisation: known values and gradients", "[vae][grad]") {
  // head = (mu; lv) for Z = 2, N = 1; KL = 1/2 sum(mu^2 + e^lv - 1 - lv)
  std::vector<double> head = {0.5, -1.0, 0.2, -0.3}, eps = {0.7, -1.1}, z(2), kl(1);
  LatentClamp c;
  B::gaussian_latent_forward<double>(MatrixView<double>(z.data(), 2, 1), VectorView<double>(kl.data(), 1),
                                     MatrixView<const double>(head.data(), 4, 1), MatrixView<const double>(eps.data(), 2, 1), c);
  const double expect = 0.5 * (0.25 + std::exp(0.2) - 1 - 0.2) + 0.5 * (1.0 + std::exp(-0.3) - 1 + 0.3);
  CHECK(kl[0] == Approx(expect).epsilon(1e-14));
  CHECK(z[0] == Approx(0.5 + std::exp(0.1) * 0.7));
  CHECK(z[1] == Approx(-1.0 + std::exp(-0.15) * -1.1));
  // KL is zero at the prior
  std::vector<double> h0 = {0, 0, 0, 0};
  B::gaussian_latent_forward<double>(MatrixView<double>(z.data(), 2, 1), VectorView<double>(kl.data(), 1),
                                     MatrixView<const double>(h0.data(), 4, 1), MatrixView<const double>(eps.data(), 2, 1), c);
  CHECK(kl[0] == 0.0);

  // gradient of  L = sum(r .* z) + s * KL  w.r.t. the head
  Rng rng(3);
  const Index Z = 3, N = 4;
  std::vector<double> h(2 * Z * N), e(Z * N), r(Z * N), zz(Z * N), kk(N), dh(2 * Z * N);
  scvae_test::fill_normal(h.data(), h.size(), rng);
  scvae_test::fill_normal(e.data(), e.size(), rng);
  scvae_test::fill_normal(r.data(), r.size(), rng);
  h[Z + 1] = 7.0;  // clamped log-variance: zero gradient
  const double s = 0.37;
  auto f = [&] {
    B::gaussian_latent_forward<double>(MatrixView<double>(zz.data(), Z, N), VectorView<double>(kk.data(), N),
                                       MatrixView<const double>(h.data(), 2 * Z, N), MatrixView<const double>(e.data(), Z, N), c);
    double v = 0;
    for (Index i = 0; i < Z * N; ++i) v += r[i] * zz[i];
    for (double k : kk) v += s * k;
    return v;
  };
  f();
  B::gaussian_latent_backward<double>(MatrixView<double>(dh.data(), 2 * Z, N), MatrixView<const double>(r.data(), Z, N),
                                      MatrixView<const double>(h.data(), 2 * Z, N), MatrixView<const double>(e.data(), Z, N), s, c);
  CHECK(dh[Z + 1] == 0.0);
  auto rc = scvae_test::finite_difference(h.data(), h.size(), dh, f);
  scvae_test::report("gaussian latent + KL", rc);
  CHECK(rc.rel_error < 1e-8);
}

namespace {

struct Case {
  Likelihood kind;
  Dispersion dispersion;
  const char* name;
};

// Central finite differences of the whole loss (KL weight 0.7) w.r.t. every parameter, perturbed
// away from the initialisation by `seed`; every parameter group must get a non-zero gradient.
// The gradients start as NaN and are never zeroed: forward_backward must write every one of them
// (no accumulation across the finite-difference evaluations either).
void check_elbo_gradient(const VaeConfig& cfg, const CscBatch& batch, std::uint64_t seed, const std::string& name) {
  const Index N = batch.counts_view().cols;
  Vae<B, double> vae(cfg, N, 1);
  Rng perturb(seed);
  auto p = vae.arena().all_params();
  for (Index i = 0; i < p.size; ++i) p[i] += 0.1 * perturb.normal();
  std::vector<double> eps(cfg.latent * N);
  scvae_test::fill_normal(eps.data(), eps.size(), perturb);
  MatrixView<const double> E(eps.data(), cfg.latent, N);
  auto f = [&] {
    Rng r(5);  // same dropout masks every evaluation
    return vae.forward_backward(batch.input_view(), batch.counts_view(), 0.7, r, E).loss;
  };
  B::fill(vae.arena().all_grads(), std::numeric_limits<double>::quiet_NaN());
  f();
  std::vector<double> g(vae.arena().all_grads().data, vae.arena().all_grads().data + p.size);
  auto rc = scvae_test::finite_difference(p.data, p.size, g, f);
  scvae_test::report(name, rc);
  CHECK(rc.rel_error < 1e-6);
  const auto& L = vae.arena().layout();
  for (std::size_t s = 0; s < L.params.size(); ++s) {
    double ng = 0;
    for (Index i = 0; i < L.params[s].size(); ++i) ng += std::fabs(g[L.params[s].offset + i]);
    INFO(name << ": " << L.param_names[s]);
    CHECK(ng > 0);
  }
}

}  // namespace

TEST_CASE("VAE: gradient of the whole ELBO w.r.t. every parameter (finite differences, double)", "[vae][grad]") {
  const Case cases[] = {{Likelihood::poisson, Dispersion::gene_cell, "poisson"},
                        {Likelihood::nb, Dispersion::gene_cell, "nb gene-cell"},
                        {Likelihood::nb, Dispersion::gene, "nb gene"},
                        {Likelihood::zip, Dispersion::gene_cell, "zip"},
                        {Likelihood::zinb, Dispersion::gene_cell, "zinb gene-cell"},
                        {Likelihood::zinb, Dispersion::gene, "zinb gene"}};
  const Index G = 8, N = 5;
  auto data = scvae_test::random_counts(N, G, 11);
  std::vector<Index> rows = all_rows(data);
  CscBatch batch;
  gather_batch(data, rows.data(), N, InputTransform::log1p, batch);
  for (const auto& c : cases) {
    for (double dropout : {0.0, 0.2}) {
      VaeConfig cfg;
      cfg.genes = G;
      cfg.hidden = {6, 5};
      cfg.latent = 3;
      cfg.likelihood = {c.kind, c.dispersion};
      cfg.dropout = dropout;
      cfg.batch_norm_scale = dropout > 0;  // cover both BatchNorm variants
      check_elbo_gradient(cfg, batch, 2, std::string("VAE ELBO, ") + c.name + (dropout > 0 ? " + dropout" : ""));
    }
  }
}

TEST_CASE("VAE with the library-size mean (scVI): whole-ELBO gradient, mean = library x softmax", "[vae][grad]") {
  const Index G = 8, N = 5;
  auto data = scvae_test::random_counts(N, G, 13);
  std::vector<Index> rows = all_rows(data);
  CscBatch batch;
  gather_batch(data, rows.data(), N, InputTransform::log1p, batch);
  for (const auto& c : {Case{Likelihood::poisson, Dispersion::gene_cell, "poisson (constrained)"},
                        Case{Likelihood::nb, Dispersion::gene, "nb gene (scVI)"},
                        Case{Likelihood::zinb, Dispersion::gene, "zinb gene (scVI)"},
                        Case{Likelihood::zip, Dispersion::gene_cell, "zip"}}) {
    VaeConfig cfg;
    cfg.genes = G;
    cfg.hidden = {6};
    cfg.latent = 3;
    cfg.likelihood = {c.kind, c.dispersion};
    cfg.mean = MeanLink::library;
    check_elbo_gradient(cfg, batch, 3, std::string("VAE ELBO, library mean, ") + c.name);
  }

  // The reconstructed mean of each cell sums to its library over genes (Poisson: E x = mu), from
  // the encoder input alone; and the log-likelihood differs from the free mean's.
  VaeConfig cfg;
  cfg.genes = G;
  cfg.hidden = {6};
  cfg.latent = 3;
  cfg.likelihood = {Likelihood::poisson, Dispersion::gene_cell};
  cfg.mean = MeanLink::library;
  Vae<B, double> vae(cfg, N, 1);
  std::vector<double> mean(G * N);
  vae.reconstruct(batch.input_view(), mean.data(), nullptr);
  for (Index j = 0; j < N; ++j) {
    double total = 0, s = 0;
    for (auto k = data.indptr[j]; k < data.indptr[j + 1]; ++k) total += data.values[k];
    for (Index g = 0; g < G; ++g) s += mean[g + j * G];
    INFO("cell " << j);
    CHECK(s == Approx(std::max(total, 1.0)).epsilon(1e-6));
  }
  // The config round-trips through its text; the free mean writes no "mean" key (old checkpoints).
  detail::KeyValues kv;
  cfg.write(kv);
  CHECK(VaeConfig::read(kv).mean == MeanLink::library);
  cfg.mean = MeanLink::free;
  detail::KeyValues kv_free;
  cfg.write(kv_free);
  CHECK_FALSE(kv_free.has("mean"));
  CHECK(VaeConfig::read(kv_free).mean == MeanLink::free);
  // Dropout in the encoder only (scVI): the decoder's MLP has none; the key is written only then.
  cfg.dropout = 0.1;
  CHECK_FALSE(kv_free.has("decoder_dropout"));
  CHECK(cfg.decoder_options().dropout == 0.1);
  cfg.decoder_dropout = false;
  CHECK(cfg.decoder_options().dropout == 0.0);
  CHECK(cfg.encoder_options().dropout == 0.1);
  detail::KeyValues kv_enc;
  cfg.write(kv_enc);
  CHECK(kv_enc.has("decoder_dropout"));
  CHECK_FALSE(VaeConfig::read(kv_enc).decoder_dropout);
}

TEST_CASE("VAE: loss equals the hand-assembled ELBO, evaluation and importance sampling", "[vae]") {
  const Index G = 12, N = 7;
  auto data = scvae_test::random_counts(N, G, 3);
  std::vector<Index> rows = all_rows(data);
  CscBatch batch;
  gather_batch(data, rows.data(), N, InputTransform::log1p, batch);
  VaeConfig cfg;
  cfg.genes = G;
  cfg.hidden = {10};
  cfg.latent = 2;
  cfg.likelihood = {Likelihood::nb, Dispersion::gene};
  Vae<B, double> vae(cfg, N, 4);
  Rng r(1);
  auto s = vae.forward_backward(batch.input_view(), batch.counts_view(), 0.5, r);
  CHECK(s.n == N);
  CHECK(s.loss == Approx(-(s.log_likelihood - 0.5 * s.kl) / N));
  CHECK(s.elbo == Approx(s.log_likelihood - s.kl));
  CHECK(s.kl > 0);

  std::vector<double> lpx(N), kl(N), iw1(N), iw100(N);
  Rng e1(9);
  auto ev = vae.evaluate(batch.input_view(), batch.counts_view(), e1, lpx.data(), kl.data());
  double sum = 0;
  for (Index j = 0; j < N; ++j) sum += lpx[j] - kl[j];
  CHECK(ev.elbo == Approx(sum));
  Rng e2(10), e3(10);
  vae.importance_log_likelihood(batch.input_view(), batch.counts_view(), 200, e2, iw100.data());
  vae.importance_log_likelihood(batch.input_view(), batch.counts_view(), 1, e3, iw1.data());
  // The importance-weighted bound with many samples is at least the one-sample ELBO on average.
  double m1 = 0, m100 = 0, elbo_mean = ev.elbo / N;
  for (Index j = 0; j < N; ++j) {
    m1 += iw1[j] / N;
    m100 += iw100[j] / N;
  }
  CHECK(m100 >= elbo_mean - 0.5);
  CHECK(m100 >= m1 - 0.5);
  for (double v : iw100) CHECK(std::isfinite(v));
}

TEST_CASE("VAE training: same seed, same result; different seed, different result", "[vae][train]") {
  auto data = scvae_test::random_counts(120, 30, 8);
  auto rows = all_rows(data);
  std::vector<Index> train(rows.begin(), rows.begin() + 100), val(rows.begin() + 100, rows.end());
  auto run = [&](std::uint64_t seed) {
    VaeConfig cfg;
    cfg.genes = 30;
    cfg.hidden = {16};
    cfg.latent = 4;
    cfg.likelihood = {Likelihood::zinb, Dispersion::gene_cell};
    cfg.dropout = 0.1;
    Vae<B, float> vae(cfg, 32, seed);
    TrainOptions o;
    o.epochs = 3;
    o.batch_size = 32;
    o.seed = seed;
    o.adam.learning_rate = 1e-2;
    Trainer<Vae<B, float>> t(vae, o);
    auto res = t.fit(data, train, val);
    REQUIRE(res.history.size() == 3);
    auto p = vae.arena().all_params();
    return std::make_pair(std::vector<float>(p.data, p.data + p.size), res.history.back().validation.elbo);
  };
  auto a = run(42), b = run(42), c = run(43);
  CHECK(a.first == b.first);
  CHECK(a.second == b.second);
  CHECK(a.first != c.first);
}

TEST_CASE("VAE training improves the validation ELBO", "[vae][train]") {
  auto data = scvae_test::random_counts(300, 40, 21, 0.7);
  auto rows = all_rows(data);
  std::vector<Index> train(rows.begin(), rows.begin() + 250), val(rows.begin() + 250, rows.end());
  for (auto kind : {Likelihood::poisson, Likelihood::nb, Likelihood::zip, Likelihood::zinb}) {
    VaeConfig cfg;
    cfg.genes = 40;
    cfg.hidden = {32};
    cfg.latent = 4;
    cfg.likelihood = {kind, Dispersion::gene_cell};
    Vae<B, float> vae(cfg, 50, 1);
    TrainOptions o;
    o.epochs = 15;
    o.batch_size = 50;
    o.adam.learning_rate = 3e-3;
    o.init_mean_bias = false;
    Trainer<Vae<B, float>> t(vae, o);
    auto res = t.fit(data, train, val);
    INFO(to_string(kind));
    CHECK(res.history.back().validation.elbo > res.history.front().validation.elbo + 1.0);
    for (const auto& m : res.history) CHECK(std::isfinite(m.train.elbo));
  }
}

TEST_CASE("Training that diverges stops with a clear error and keeps the parameters finite", "[vae][train]") {
  auto data = scvae_test::random_counts(60, 10, 2);
  // an absurd count makes the NB log-likelihood overflow float once the learning rate explodes
  VaeConfig cfg;
  cfg.genes = 10;
  cfg.hidden = {8};
  cfg.latent = 2;
  cfg.likelihood = {Likelihood::poisson, Dispersion::gene_cell};
  Vae<B, float> vae(cfg, 20, 1);
  TrainOptions o;
  o.epochs = 50;
  o.batch_size = 20;
  o.adam.learning_rate = 1e30;  // guaranteed to blow up
  Trainer<Vae<B, float>> t(vae, o);
  bool threw = false;
  try {
    t.fit(data, all_rows(data));
  } catch (const DivergenceError& e) {
    threw = true;
    CHECK(std::string(e.what()).find("diverged at epoch") != std::string::npos);
  }
  CHECK(threw);
}

TEST_CASE("Bad configurations are rejected with a clear message", "[vae]") {
  VaeConfig cfg;
  cfg.genes = 0;
  CHECK_THROWS_WITH((Vae<B, float>(cfg, 10)), Catch::Contains("genes"));
  cfg.genes = 5;
  cfg.hidden = {};
  CHECK_THROWS_WITH((Vae<B, float>(cfg, 10)), Catch::Contains("hidden"));
  cfg.hidden = {4};
  Vae<B, float> vae(cfg, 10);
  auto data = scvae_test::random_counts(20, 6, 1);  // 6 genes, model has 5
  TrainOptions o;
  o.batch_size = 10;
  Trainer<Vae<B, float>> t(vae, o);
  CHECK_THROWS_WITH(t.fit(data, all_rows(data)), Catch::Contains("genes"));

  VaeConfig bad_enum = cfg;  // e.g. an integer read from elsewhere, cast
  bad_enum.likelihood.dispersion = static_cast<Dispersion>(5);
  CHECK_THROWS_WITH((Vae<B, float>(bad_enum, 10)), Catch::Contains("dispersion"));
  bad_enum = cfg;
  bad_enum.likelihood.kind = static_cast<Likelihood>(7);
  CHECK_THROWS_WITH((Vae<B, float>(bad_enum, 10)), Catch::Contains("likelihood"));
  CHECK_THROWS_WITH(vae.init_mean_bias({1, 2, NAN, 1, 1}), Catch::Contains("gene 2"));
  VaeConfig bad_clamp = cfg;
  bad_clamp.clamp = {5, -5};  // inverted
  CHECK_THROWS_WITH((Vae<B, float>(bad_clamp, 10)), Catch::Contains("clamp"));
  bad_clamp.clamp = {NAN, NAN};
  CHECK_THROWS_WITH((Vae<B, float>(bad_clamp, 10)), Catch::Contains("clamp"));

  // A NaN or negative KL weight through the step API (the trainer computes its own).
  const auto d5 = scvae_test::random_counts(4, 5, 2);
  CscBatch b;
  const auto r5 = all_rows(d5);
  gather_batch(d5, r5.data(), 4, InputTransform::log1p, b);
  Rng rng(1);
  CHECK_THROWS_WITH(vae.forward_backward(b.input_view(), b.counts_view(), NAN, rng), Catch::Contains("kl_weight"));
  CHECK_THROWS_WITH(vae.forward_backward(b.input_view(), b.counts_view(), -1.f, rng), Catch::Contains("kl_weight"));
}

TEST_CASE("The trainer checks its data and options before training", "[vae][train]") {
  VaeConfig cfg;
  cfg.genes = 6;
  cfg.hidden = {4};
  cfg.latent = 2;
  Vae<B, float> vae(cfg, 10);
  TrainOptions o;
  o.batch_size = 10;
  o.epochs = 1;
  const auto good = scvae_test::random_counts(20, 6, 1);
  Trainer<Vae<B, float>> t(vae, o);
  auto expect_data_error = [&](CsrMatrix d, const char* what) {
    INFO(what);
    CHECK_THROWS_AS(t.fit(d, all_rows(good)), InputError);
  };
  CsrMatrix d = good;
  d.indices[3] = 500;  // out of range: read past the encoder's weights before
  expect_data_error(d, "gene index out of range");
  d = good;
  d.values[4] = NAN;  // a NaN gene mean poisoned the bias before
  expect_data_error(d, "NaN count");
  d = good;
  d.values[4] = INFINITY;
  expect_data_error(d, "infinite count");
  d = good;
  d.values.resize(5);
  expect_data_error(d, "values shorter than indices");
  d = good;
  d.indptr.resize(10);
  expect_data_error(d, "indptr shorter than rows + 1");
  CHECK_THROWS_AS(t.evaluate(d, {0, 1}, 0), InputError);
  CHECK_THROWS_WITH(t.evaluate(good, {}, 0), Catch::Contains("no rows"));  // not NaN metrics

  // Row ids and batch sizes of gather_batch.
  CscBatch b;
  const Index rows[] = {0, 25};
  CHECK_THROWS_WITH(gather_batch(good, rows, 2, InputTransform::log1p, b), Catch::Contains("row 25 out of range"));
  CHECK_THROWS_AS(gather_batch(good, rows, -2, InputTransform::log1p, b), InputError);

  // An option this model cannot honour fails at once, not after mixture_init_epochs epochs.
  TrainOptions mix = o;
  mix.epochs = 1000000;
  mix.mixture_init_epochs = 3;
  Trainer<Vae<B, float>> tm(vae, mix);
  CHECK_THROWS_WITH(tm.fit(good, all_rows(good)), Catch::Contains("no mixture"));
  CHECK(tm.epochs_done() == 0);
  mix.mixture_init_epochs = -1;
  CHECK_THROWS_AS((Trainer<Vae<B, float>>(vae, mix)), InputError);

  // A checkpoint folder that cannot be made fails before the first epoch.
  const std::string file = scvae_test::tmp_path("not_a_folder");
  std::ofstream(file) << "x";
  TrainOptions ck = o;
  ck.epochs = 1000000;
  ck.checkpoint_dir = file + "/run";
  Trainer<Vae<B, float>> tc(vae, ck);
  CHECK_THROWS_WITH(tc.fit(good, all_rows(good)), Catch::Contains("checkpoint_dir"));
  CHECK(tc.epochs_done() == 0);
}

TEST_CASE("Posterior-predictive samples: seeded, non-negative integers, mean close to the reconstruction", "[vae]") {
  auto data = scvae_test::random_counts(20, 15, 3);
  auto rows = all_rows(data);
  CscBatch batch;
  gather_batch(data, rows.data(), 20, InputTransform::log1p, batch);
  VaeConfig cfg;
  cfg.genes = 15;
  cfg.hidden = {8};
  cfg.latent = 2;
  cfg.likelihood = {Likelihood::zinb, Dispersion::gene_cell};
  cfg.clamp = {-20.0, -20.0};  // q(z|x) nearly a point mass, so E[x] is the reconstruction's mean
  Vae<B, double> vae(cfg, 20, 1);
  vae.init_mean_bias(std::vector<double>(15, 3.0));
  std::vector<double> a(15 * 20), b(15 * 20), mean(15 * 20), acc(15 * 20, 0.0);
  Rng r1(5), r2(5);
  vae.sample(batch.input_view(), r1, a.data());
  vae.sample(batch.input_view(), r2, b.data());
  CHECK(a == b);
  for (double v : a) CHECK((v >= 0 && v == std::floor(v)));
  // averaged over many draws, the samples' grand mean approaches the model's mean
  Rng r3(6);
  const int R = 300;
  for (int r = 0; r < R; ++r) {
    vae.sample(batch.input_view(), r3, a.data());
    for (std::size_t i = 0; i < a.size(); ++i) acc[i] += a[i] / R;
  }
  vae.reconstruct(batch.input_view(), mean.data(), nullptr);
  double sm = 0, mm = 0;
  for (std::size_t i = 0; i < acc.size(); ++i) {
    sm += acc[i];
    mm += mean[i];
  }
  CHECK(sm / mm == Approx(1.0).margin(0.03));
}

TEST_CASE("VAE: zero cells give empty per-cell outputs; batch statistics refuse them", "[vae]") {
  auto data = scvae_test::random_counts(5, 9, 2);
  CscBatch empty;
  gather_batch(data, nullptr, 0, InputTransform::log1p, empty);
  VaeConfig cfg;
  cfg.genes = 9;
  cfg.hidden = {6};
  cfg.latent = 2;
  Vae<B, double> vae(cfg, 4, 1);
  double sentinel = 7.0;  // nothing is written for no cells
  Rng rng(3);
  CHECK_NOTHROW(vae.encode(empty.input_view(), &sentinel, &sentinel));
  CHECK_NOTHROW(vae.reconstruct(empty.input_view(), &sentinel, &sentinel));
  CHECK_NOTHROW(vae.sample(empty.input_view(), rng, &sentinel));
  CHECK_NOTHROW(vae.importance_log_likelihood(empty.input_view(), empty.counts_view(), 3, rng, &sentinel));
  CHECK(sentinel == 7.0);
  // ELBO sums are divided by the batch size: no cells, no loss
  CHECK_THROWS_AS(vae.evaluate(empty.input_view(), empty.counts_view(), rng), InputError);
  CHECK_THROWS_AS(vae.forward_backward(empty.input_view(), empty.counts_view(), 1.0, rng), InputError);
}
