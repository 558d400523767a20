// Count likelihood heads (include/scvae/distributions/): known log-pmf values, finite-difference
// gradients of every head path through likelihood_forward_backward, the sparse cursor against a
// dense loop, extreme pre-activations, and mean/variance against Monte Carlo of sample().
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <scvae/distributions/likelihood.hpp>

#include "fd_util.hpp"

using namespace scvae;

namespace {

struct KnownValue {
  Likelihood kind;
  double x, mu, theta, pi, log_p;
};

// Reference values: mpmath 1.3.0 at mp.dps = 50 from the textbook pmfs, generated here with
//   pois(x, mu) = x log mu - mu - loggamma(x + 1)
//   nb(x, mu, t) = loggamma(x + t) - loggamma(t) - loggamma(x + 1) + t log(t / (t + mu)) + x log(mu / (t + mu))
//   zi(x, lp, pi) = log(pi + (1 - pi) exp(lp)) if x == 0 else log(1 - pi) + lp
// (inputs are the exact doubles written; mu = 1e-30, theta = 1e-6 / 1e6, pi = 1e-12 / 1 - 1e-7).
const KnownValue kKnown[] = {
    {Likelihood::poisson, 0.0, 1e-30, 1.0, 0.0, -1.00000000000000008334e-30},
    {Likelihood::poisson, 0.0, 5.0, 1.0, 0.0, -5.0},
    {Likelihood::poisson, 1.0, 1e-30, 1.0, 0.0, -69.0775527898213704372},
    {Likelihood::poisson, 3.0, 2.5, 1.0, 0.0, -1.54288727360558980526},
    {Likelihood::poisson, 10000.0, 10000.0, 1.0, 0.0, -5.52411705252609466537},
    {Likelihood::poisson, 10000.0, 1.0, 1.0, 0.0, -82109.9278368143534554},
    {Likelihood::poisson, 7.0, 1000000.0, 1.0, 0.0, -999911.816587455315496},
    {Likelihood::nb, 0.0, 5.0, 1e-06, 0.0, -0.000015424948670398353826},
    {Likelihood::nb, 0.0, 5.0, 1000000.0, 0.0, -4.99998750004166651042},
    {Likelihood::nb, 0.0, 1e-30, 1e-06, 0.0, -1.00000000000000008334e-30},
    {Likelihood::nb, 1.0, 1e-30, 1.0, 0.0, -69.0775527898213704372},
    {Likelihood::nb, 3.0, 2.5, 1e-06, 0.0, -14.9141372784344586788},
    {Likelihood::nb, 3.0, 2.5, 1.0, 0.0, -2.2621796783590067872},
    {Likelihood::nb, 3.0, 2.5, 1000000.0, 0.0, -1.54288864860392314145},
    {Likelihood::nb, 17.0, 3.0, 2.0, 0.0, -7.62624530987398705265},
    {Likelihood::nb, 10000.0, 10000.0, 1000000.0, 0.0, -5.52909221877776121505},
    {Likelihood::nb, 10000.0, 100.0, 0.5, 0.0, -57.7046151933330602433},
    {Likelihood::nb, 10000.0, 10000.0, 1e-06, 0.0, -23.0258651682861732481},
    {Likelihood::nb, 0.0, 10000.0, 1000000.0, 0.0, -9950.33085316808284822},
    {Likelihood::zip, 0.0, 5.0, 1.0, 1e-12, -4.99999999985258684091},
    {Likelihood::zip, 0.0, 5.0, 1.0, 0.9999999, -9.9326210180658375397e-8},
    {Likelihood::zip, 0.0, 1e-30, 1.0, 0.5, -5.00000000000000041668e-31},
    {Likelihood::zip, 3.0, 2.5, 1.0, 0.3, -1.89956221754432216831},
    {Likelihood::zip, 3.0, 2.5, 1.0, 1e-12, -1.54288727360658980526},
    {Likelihood::zip, 3.0, 2.5, 1.0, 0.9999999, -17.6609829250902654413},
    {Likelihood::zip, 10000.0, 10000.0, 1.0, 0.5, -6.21726423308603997479},
    {Likelihood::zip, 0.0, 10000.0, 1.0, 1e-12, -27.6310211159285482283},
    {Likelihood::zinb, 0.0, 5.0, 1e-06, 1e-12, -0.0000154249486703829287583},
    {Likelihood::zinb, 0.0, 5.0, 1000000.0, 0.9999999, -9.93262017581992289971e-8},
    {Likelihood::zinb, 0.0, 1e-30, 1.0, 0.5, -5.00000000000000041668e-31},
    {Likelihood::zinb, 3.0, 2.5, 1e-06, 0.3, -15.2708122223731910418},
    {Likelihood::zinb, 3.0, 2.5, 1000000.0, 1e-12, -1.54288864860492314145},
    {Likelihood::zinb, 10000.0, 10000.0, 1000000.0, 0.5, -6.22223939933770652446},
    {Likelihood::zinb, 17.0, 3.0, 2.0, 0.9999999, -23.7443409613586626887},
    {Likelihood::zinb, 0.0, 10000.0, 1000000.0, 1e-12, -27.6310211159285482283},
};

const LikelihoodSpec kAllSpecs[] = {
    {Likelihood::poisson, Dispersion::gene_cell}, {Likelihood::nb, Dispersion::gene_cell},
    {Likelihood::nb, Dispersion::gene},           {Likelihood::zip, Dispersion::gene_cell},
    {Likelihood::zinb, Dispersion::gene_cell},    {Likelihood::zinb, Dispersion::gene},
};

std::string name(const LikelihoodSpec& s) {
  return std::string(to_string(s.kind)) + (has_dispersion(s.kind) ? std::string("/") + to_string(s.dispersion) : "");
}

// A [G x B] count matrix, dense for references and CSC for the pass.
struct Counts {
  Index G = 0, B = 0;
  std::vector<float> dense;  // [G x B]
  std::vector<std::int64_t> ptr;
  std::vector<std::int32_t> idx;
  std::vector<float> val;
  CscView<float> view() const { return {ptr.data(), idx.data(), val.data(), G, B}; }
  // Stores every non-zero; with keep_zeros, also the explicit zeros listed.
  void compress(const std::vector<bool>* stored = nullptr) {
    ptr.assign(1, 0);
    idx.clear();
    val.clear();
    for (Index b = 0; b < B; ++b) {
      for (Index g = 0; g < G; ++g)
        if (dense[g + b * G] != 0 || (stored && (*stored)[g + b * G])) {
          idx.push_back(static_cast<std::int32_t>(g));
          val.push_back(dense[g + b * G]);
        }
      ptr.push_back(static_cast<std::int64_t>(idx.size()));
    }
  }
};

// Sparse counts with ~`density` non-zeros: small integers, and some larger ones that take the
// non-small lgamma_diff path (9..300) and a few very large (1e4).
Counts random_counts(Index G, Index B, double density, std::mt19937_64& rng, bool huge = true) {
  Counts c;
  c.G = G;
  c.B = B;
  c.dense.assign(G * B, 0.0f);
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& v : c.dense) {
    if (u(rng) >= density) continue;
    const double r = u(rng);
    v = r < 0.7 ? float(1 + int(u(rng) * 4)) : (r < 0.95 || !huge) ? float(9 + int(u(rng) * 290)) : 1e4f;
  }
  c.compress();
  return c;
}

struct Problem {
  LikelihoodSpec spec;
  Index G, B;
  std::vector<double> heads, glt, weight;  // [P*G x B], [G], [B]
};

Problem random_problem(const LikelihoodSpec& spec, Index G, Index B, std::mt19937_64& rng) {
  Problem p{spec, G, B, {}, {}, {}};
  const int P = n_heads(spec);
  std::normal_distribution<double> n(0, 1);
  p.heads.resize(P * G * B);
  for (Index b = 0; b < B; ++b)
    for (int h = 0; h < P; ++h)
      for (Index g = 0; g < G; ++g) {
        // log mu around 0.5 (sd 2), log theta around 0 (sd 2.5), logits sd 2: inside the clamp.
        const double z = n(rng);
        const double v = h == 0 ? 0.5 + 2 * z : (h == theta_head(spec) ? 2.5 * z : 2 * z);
        p.heads[h * G + g + b * P * G] = v;
      }
  if (has_gene_dispersion(spec)) {
    p.glt.resize(G);
    for (auto& v : p.glt) v = 2.5 * n(rng);
  }
  p.weight.resize(B);
  for (auto& v : p.weight) v = -1.0 / B * (0.5 + std::uniform_real_distribution<double>(0, 1)(rng));
  return p;
}

// sum_b w_b log_px[b] and the gradients, through the fused pass.
template <class T>
double run_pass(const LikelihoodSpec& spec, Index G, Index B, const std::vector<T>& heads, const std::vector<T>& glt,
                const Counts& c, const std::vector<T>& w, std::vector<T>* log_px = nullptr,
                std::vector<T>* d_heads = nullptr, std::vector<T>* d_glt = nullptr) {
  const Index PG = n_heads(spec) * G;
  std::vector<T> lp(B);
  likelihood_forward_backward<T>(spec, MatrixView<const T>(heads.data(), PG, B),
                                 VectorView<const T>(glt.data(), Index(glt.size())), c.view(),
                                 VectorView<const T>(w.data(), B), VectorView<T>(lp.data(), B),
                                 d_heads ? MatrixView<T>(d_heads->data(), PG, B) : MatrixView<T>(),
                                 d_glt ? VectorView<T>(d_glt->data(), G) : VectorView<T>());
  double f = 0;
  for (Index b = 0; b < B; ++b) f += double(w[b]) * double(lp[b]);
  if (log_px) *log_px = lp;
  return f;
}

double rel(double got, double ref) { return ref == 0 ? std::fabs(got) : std::fabs(got - ref) / std::fabs(ref); }

}  // namespace

TEST_CASE("likelihood spec: heads, names, parsing", "[likelihood]") {
  CHECK(n_heads({Likelihood::poisson}) == 1);
  CHECK(n_heads({Likelihood::nb, Dispersion::gene_cell}) == 2);
  CHECK(n_heads({Likelihood::nb, Dispersion::gene}) == 1);
  CHECK(n_heads({Likelihood::zip}) == 2);
  CHECK(n_heads({Likelihood::zinb, Dispersion::gene_cell}) == 3);
  CHECK(n_heads({Likelihood::zinb, Dispersion::gene}) == 2);
  CHECK(n_heads({Likelihood::poisson, Dispersion::gene}) == 1);
  CHECK(pi_head({Likelihood::zinb, Dispersion::gene_cell}) == 2);
  CHECK(pi_head({Likelihood::zinb, Dispersion::gene}) == 1);
  CHECK(pi_head({Likelihood::nb}) == -1);
  CHECK(theta_head({Likelihood::nb, Dispersion::gene}) == -1);
  CHECK(has_gene_dispersion({Likelihood::zinb, Dispersion::gene}));
  CHECK_FALSE(has_gene_dispersion({Likelihood::zip, Dispersion::gene}));
  for (auto k : {Likelihood::poisson, Likelihood::nb, Likelihood::zip, Likelihood::zinb})
    CHECK(parse_likelihood(to_string(k)) == k);
  for (auto d : {Dispersion::gene, Dispersion::gene_cell}) CHECK(parse_dispersion(to_string(d)) == d);
  CHECK(std::string(to_string(Dispersion::gene_cell)) == "gene-cell");
  CHECK_THROWS_AS(parse_likelihood("gaussian"), InputError);
  CHECK_THROWS_AS(parse_dispersion("cell"), InputError);
}

TEST_CASE("log-pmf known values (mpmath) in double and float", "[likelihood]") {
  double worst = 0, worst_f = 0;
  for (const KnownValue& k : kKnown) {
    const LikelihoodSpec spec{k.kind};
    INFO(to_string(k.kind) << " x=" << k.x << " mu=" << k.mu << " theta=" << k.theta << " pi=" << k.pi);
    // Error relative to the size of the terms that cancel: at x = 1e4 log P = -5.5 is a sum of
    // terms of size lgamma(x + 1) = 8.2e4, and no evaluation in T can do better than eps * that.
    const double scale = std::max({std::fabs(k.log_p), std::lgamma(k.x + 1), 1e-300});
    const double got = log_prob(spec, k.x, k.mu, k.theta, k.pi);
    const double e = std::fabs(got - k.log_p) / scale;
    worst = std::max(worst, e);
    CHECK(std::isfinite(got));
    CHECK(e < 1e-13);
    // float: inputs rounded to float (1 - 1e-7 becomes 1 - 1.19e-7), so compare with the double
    // evaluation at the rounded inputs; error relative to max(|ref|, 1).
    const float xf = float(k.x), mf = float(k.mu), tf = float(k.theta), pf = float(k.pi);
    const float gf = log_prob(spec, xf, mf, tf, pf);
    const double rf = log_prob(spec, double(xf), double(mf), double(tf), double(pf));
    const double ef = std::fabs(gf - rf) / std::max({std::fabs(rf), std::lgamma(k.x + 1), 1.0});
    worst_f = std::max(worst_f, ef);
    CHECK(std::isfinite(gf));
    CHECK(ef < 1e-5);
  }
  std::printf("  known values: worst error (relative to max(|log p|, lgamma(x+1))) double %.2e, float %.2e\n",
              worst, worst_f);
}

TEST_CASE("log-pmf against independent long double closed forms", "[likelihood]") {
  // Poisson: x log mu - mu - lgamma(x + 1). NB: binomial-coefficient form
  //   log C(x + theta - 1, x) = sum_{k=1}^{x} log((theta + k - 1) / k),
  //   + theta log(theta / (theta + mu)) = -theta log1p(mu / theta), + x log(mu / (theta + mu)).
  // Zero inflation: log(pi + (1 - pi) P(0)) and log(1 - pi) + log P(x), in long double.
  using LD = long double;
  auto pois = [](LD x, LD mu) { return x == 0 ? -mu : x * std::log(mu) - mu - std::lgamma(x + 1); };
  auto nb = [](LD x, LD mu, LD t) {
    LD c = 0;
    for (int k = 1; k <= int(x); ++k) c += std::log((t + k - 1) / k);
    return c - t * std::log1p(mu / t) + (x > 0 ? x * std::log(mu / (t + mu)) : 0);
  };
  auto zi = [](LD x, LD lp, LD pi) { return x == 0 ? std::log(pi + (1 - pi) * std::exp(lp)) : std::log1p(-pi) + lp; };
  double worst[4] = {0, 0, 0, 0};
  for (double x : {0.0, 1.0, 2.0, 5.0, 8.0, 9.0, 30.0, 250.0, 1000.0})
    for (double mu : {1e-8, 0.01, 0.7, 3.0, 40.0, 900.0, 3e5})
      for (double t : {1e-5, 0.03, 0.9, 7.0, 60.0, 5e3, 3e6})
        for (double pi : {1e-9, 0.2, 0.97}) {
          INFO("x=" << x << " mu=" << mu << " theta=" << t << " pi=" << pi);
          const LD lp_p = pois(x, mu), lp_nb = nb(x, mu, t);
          const double refs[4] = {double(lp_p), double(lp_nb), double(zi(x, lp_p, pi)), double(zi(x, lp_nb, pi))};
          const Likelihood kinds[4] = {Likelihood::poisson, Likelihood::nb, Likelihood::zip, Likelihood::zinb};
          for (int i = 0; i < 4; ++i) {
            const double got = log_prob(LikelihoodSpec{kinds[i]}, x, mu, t, pi);
            // relative to max(|ref|, 1): log P(0) = -1e-8 is a difference of O(1) terms in the refs.
            const double e = std::fabs(got - refs[i]) / std::max(std::fabs(refs[i]), 1.0);
            worst[i] = std::max(worst[i], e);
            CHECK(e < 1e-12);
          }
        }
  std::printf("  long double closed forms: worst error poisson %.1e nb %.1e zip %.1e zinb %.1e\n", worst[0], worst[1],
              worst[2], worst[3]);
}

TEST_CASE("NB tends to Poisson as theta -> inf", "[likelihood]") {
  for (double x : {0.0, 1.0, 7.0, 100.0})
    for (double mu : {0.01, 3.0, 80.0}) {
      const double p = log_prob(LikelihoodSpec{Likelihood::poisson}, x, mu);
      const double n = log_prob(LikelihoodSpec{Likelihood::nb}, x, mu, 1e12);
      INFO("x=" << x << " mu=" << mu);
      // log NB - log Poisson = ((x - mu)^2 - x) / (2 theta) + O(theta^-2)
      CHECK(std::fabs(n - p - ((x - mu) * (x - mu) - x) / 2e12) < 1e-11 * std::max(1.0, std::fabs(p)));
    }
}

TEST_CASE("pre-activation element functions equal the natural ones; clamp", "[likelihood]") {
  const double a = std::log(3.5), c = std::log(0.4), w = 0.3, pi = 1 / (1 + std::exp(-w));
  for (double x : {0.0, 2.0, 40.0}) {
    CHECK(poisson_log_prob(x, a) == Approx(poisson_log_pmf(x, 3.5)).epsilon(1e-14));
    CHECK(nb_log_prob(x, a, c) == Approx(nb_log_pmf(x, 3.5, 0.4)).epsilon(1e-14));
    CHECK(zip_log_prob(x, a, w) == Approx(zip_log_pmf(x, 3.5, pi)).epsilon(1e-14));
    CHECK(zinb_log_prob(x, a, c, w) == Approx(zinb_log_pmf(x, 3.5, 0.4, pi)).epsilon(1e-14));
  }
  // Same formulas; a last-bit difference is allowed because, with constant arguments, the
  // compiler may fold one call's exp / log1p at compile time (correctly rounded) and not the other.
  CHECK(poisson_log_prob0(1.0) == Approx(poisson_log_prob(0.0, 1.0)).epsilon(4e-16));
  CHECK(nb_log_prob0(1.0, -2.0) == Approx(nb_log_prob(0.0, 1.0, -2.0)).epsilon(4e-16));
  CHECK(zip_log_prob0(1.0, 0.5) == Approx(zip_log_prob(0.0, 1.0, 0.5)).epsilon(4e-16));
  CHECK(zinb_log_prob0(1.0, -2.0, 0.5) == Approx(zinb_log_prob(0.0, 1.0, -2.0, 0.5)).epsilon(4e-16));
  // Outside [-15, 15] the value is that at the boundary and the gradient is 0.
  double dm, dt, dp;
  CHECK(nb_log_prob_grad(3.0, 20.0, -30.0, dm, dt) == nb_log_prob(3.0, 15.0, -15.0));
  CHECK(dm == 0.0);
  CHECK(dt == 0.0);
  // p(0) below 1e-30 (pi = sigmoid(-80), P(0) = exp(-e^15)) takes the log-space path:
  // log p(0) = log sigmoid(-80) = -80 - log1p(e^-80), d/dw = 1 - pi, d/da_mu = -r mu = 0.
  CHECK(zip_log_prob0_grad(15.0, -80.0, dm, dp) == Approx(-80.0).epsilon(1e-15));
  CHECK(dp == Approx(1.0).epsilon(1e-15));
  CHECK(dm == 0.0);
  CHECK(zip_log_prob0(15.0f, -80.0f) == Approx(-80.0).epsilon(1e-7));
  zinb_log_prob_grad(0.0, -16.0, 2.0, 1.0, dm, dt, dp);
  CHECK(dm == 0.0);
  CHECK(dt != 0.0);
  CHECK(dp != 0.0);
}

TEST_CASE("finite differences of every head path through the fused pass (double)", "[likelihood][grad]") {
  std::mt19937_64 rng(7);
  const Index G = 13, B = 6;
  // Counts up to 300 (1e4 is covered element-wise below): keeps the objective O(1e3) so that
  // its rounding, eps |F| / h, stays far below the tolerance.
  const Counts c = random_counts(G, B, 0.35, rng, false);
  const double step = 1e-5;
  for (const auto& spec : kAllSpecs) {
    Problem p = random_problem(spec, G, B, rng);
    const Index PG = n_heads(spec) * G;
    std::vector<double> d_heads(PG * B), d_glt(p.glt.size(), 0.0);
    run_pass<double>(spec, G, B, p.heads, p.glt, c, p.weight, nullptr, &d_heads, p.glt.empty() ? nullptr : &d_glt);
    auto f = [&] { return run_pass<double>(spec, G, B, p.heads, p.glt, c, p.weight); };
    for (int h = 0; h < n_heads(spec); ++h) {
      // One head at a time: rows h*G .. h*G+G-1 of every column.
      std::vector<double*> xs;
      std::vector<double> an;
      for (Index b = 0; b < B; ++b)
        for (Index g = 0; g < G; ++g) {
          xs.push_back(&p.heads[h * G + g + b * PG]);
          an.push_back(d_heads[h * G + g + b * PG]);
        }
      // finite_difference perturbs a contiguous array: gather, perturb through pointers.
      std::vector<double> vals(xs.size());
      for (std::size_t i = 0; i < xs.size(); ++i) vals[i] = *xs[i];
      auto fg = [&] {
        for (std::size_t i = 0; i < xs.size(); ++i) *xs[i] = vals[i];
        return f();
      };
      const auto r = scvae_test::finite_difference(vals.data(), vals.size(), an, fg, step);
      for (std::size_t i = 0; i < xs.size(); ++i) *xs[i] = vals[i];
      const char* hn = h == 0 ? "a_mu" : h == theta_head(spec) ? "a_theta" : "a_pi";
      scvae_test::report(name(spec) + " " + hn, r);
      INFO(name(spec) << " head " << hn);
      CHECK(r.rel_error < 1e-6);
    }
    if (has_gene_dispersion(spec)) {
      const auto r = scvae_test::finite_difference(p.glt.data(), p.glt.size(), d_glt, f, step);
      scvae_test::report(name(spec) + " gene log_theta", r);
      INFO(name(spec) << " gene log_theta");
      CHECK(r.rel_error < 1e-6);
      // Accumulated, not overwritten.
      std::vector<double> d_heads2(PG * B), d_glt2 = d_glt;
      run_pass<double>(spec, G, B, p.heads, p.glt, c, p.weight, nullptr, &d_heads2, &d_glt2);
      for (Index g = 0; g < G; ++g) CHECK(d_glt2[g] == Approx(2 * d_glt[g]).epsilon(1e-14));
    }
  }
}

TEST_CASE("finite differences at large counts, theta 1e-6 .. 1e6 and near-certain zero inflation", "[likelihood][grad]") {
  // Single elements through the element API, finite differences with a relative step. At
  // x = 1e4 the log-pmf is a sum of terms of size ~1e5, whose rounding (eps * terms / h) is
  // larger than small gradients such as d/dw = -pi = -2e-6: that noise is subtracted first.
  double x = 0, am = 0;
  int n_noisy = 0;
  auto check = [&](const char* what, double an, const std::function<double(double)>& f, double x0) {
    // Richardson-extrapolated central difference: truncation O(h^4), so h can be large (1e-3)
    // and the rounding noise small.
    const double h = 1e-3 * std::max(1.0, std::fabs(x0));
    const double d1 = (f(x0 + h) - f(x0 - h)) / (2 * h), d2 = (f(x0 + h / 2) - f(x0 - h / 2)) / h;
    const double num = (4 * d2 - d1) / 3;
    const double terms = std::fabs(f(x0)) + std::lgamma(x + 1) + x * (std::fabs(am) + 1) + std::exp(am);
    const double noise = 16 * std::numeric_limits<double>::epsilon() * terms / h;
    const double size = std::max({std::fabs(an), std::fabs(num), 1e-300});
    const double e = std::fabs(an - num) / size;
    INFO(what << " x " << x << " x0 " << x0 << " analytic " << an << " numeric " << num << " noise " << noise);
    if (noise < 1e-7 * size) {  // well-resolved: plain relative error
      CHECK(e < 1e-6);
      return e;
    }
    CHECK(std::fabs(an - num) < noise + 1e-6 * size);
    ++n_noisy;
    return 0.0;
  };
  double worst = 0;
  for (double x_ : {0.0, 1.0, 8.0, 9.0, 300.0, 1e4})
    for (double am_ : {-12.0, -1.0, 2.0, 9.2, 13.0})
      for (double at : {-13.8, -2.0, 0.5, 6.0, 13.8})  // theta 1e-6 .. 1e6
        for (double ap : {-13.0, 0.0, 13.0}) {
          x = x_;
          am = am_;
          double dm, dt, dp;
          zinb_log_prob_grad(x, am, at, ap, dm, dt, dp);
          worst = std::max(worst, check("zinb d_mu", dm, [&](double v) { return zinb_log_prob(x, v, at, ap); }, am));
          worst = std::max(worst, check("zinb d_theta", dt, [&](double v) { return zinb_log_prob(x, am, v, ap); }, at));
          worst = std::max(worst, check("zinb d_pi", dp, [&](double v) { return zinb_log_prob(x, am, at, v); }, ap));
          zip_log_prob_grad(x, am, ap, dm, dp);
          worst = std::max(worst, check("zip d_mu", dm, [&](double v) { return zip_log_prob(x, v, ap); }, am));
          worst = std::max(worst, check("zip d_pi", dp, [&](double v) { return zip_log_prob(x, am, v); }, ap));
        }
  std::printf("  element gradients over x in {0..1e4}, theta in {1e-6..1e6}, pi in {2e-6..1-2e-6}: worst relative "
              "error %.2e (%d of 2250 checks dominated by rounding noise, checked to noise + 1e-6)\n",
              worst, n_noisy);
}

TEST_CASE("sparse cursor equals a dense reference loop; threads agree", "[likelihood]") {
  std::mt19937_64 rng(11);
  const Index G = 300, B = 17;
  Counts c = random_counts(G, B, 0.07, rng);
  // Edge columns: empty (col 0), first and last gene only (col 1), fully dense (col 2), explicit
  // stored zeros (col 3).
  for (Index g = 0; g < G; ++g) {
    c.dense[g] = 0;
    c.dense[g + G] = (g == 0 || g == G - 1) ? 5.0f : 0.0f;
    c.dense[g + 2 * G] = float(1 + g % 7);
  }
  std::vector<bool> stored(G * B, false);
  for (Index g = 0; g < G; g += 10) stored[g + 3 * G] = true;
  c.compress(&stored);
  for (const auto& spec : kAllSpecs) {
    INFO(name(spec));
    const Problem p = random_problem(spec, G, B, rng);
    const Index PG = n_heads(spec) * G;
    std::vector<double> lp, dh(PG * B), dg(p.glt.size(), 0.0);
    run_pass<double>(spec, G, B, p.heads, p.glt, c, p.weight, &lp, &dh, p.glt.empty() ? nullptr : &dg);
    // Dense reference: the general element function at every (g, b).
    std::vector<double> ref_dg(p.glt.size(), 0.0);
    double worst = 0;
    for (Index b = 0; b < B; ++b) {
      long double sum = 0;
      for (Index g = 0; g < G; ++g) {
        const double* h = &p.heads[b * PG];
        const double x = c.dense[g + b * G];
        const double at = has_gene_dispersion(spec) ? p.glt[g] : theta_head(spec) >= 0 ? h[G + g] : 0.0;
        const double ap = pi_head(spec) >= 0 ? h[pi_head(spec) * G + g] : 0.0;
        double dm = 0, dt = 0, dp = 0, l = 0;
        switch (spec.kind) {
          case Likelihood::poisson: l = poisson_log_prob_grad(x, h[g], dm); break;
          case Likelihood::nb: l = nb_log_prob_grad(x, h[g], at, dm, dt); break;
          case Likelihood::zip: l = zip_log_prob_grad(x, h[g], ap, dm, dp); break;
          case Likelihood::zinb: l = zinb_log_prob_grad(x, h[g], at, ap, dm, dt, dp); break;
        }
        sum += l;
        const double w = p.weight[b];
        CHECK(dh[g + b * PG] == Approx(w * dm).epsilon(1e-14).margin(1e-300));
        if (theta_head(spec) >= 0) CHECK(dh[G + g + b * PG] == Approx(w * dt).epsilon(1e-14).margin(1e-300));
        if (pi_head(spec) >= 0) CHECK(dh[pi_head(spec) * G + g + b * PG] == Approx(w * dp).epsilon(1e-14).margin(1e-300));
        if (has_gene_dispersion(spec)) ref_dg[g] += w * dt;
      }
      worst = std::max(worst, rel(lp[b], double(sum)));
    }
    CHECK(worst < 1e-13);
    for (std::size_t g = 0; g < ref_dg.size(); ++g) CHECK(dg[g] == Approx(ref_dg[g]).epsilon(1e-12));
#ifdef _OPENMP
    // One thread vs the default team: log_px and d_heads identical (columns are independent).
    const int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    std::vector<double> lp1, dh1(PG * B), dg1(p.glt.size(), 0.0);
    run_pass<double>(spec, G, B, p.heads, p.glt, c, p.weight, &lp1, &dh1, p.glt.empty() ? nullptr : &dg1);
    omp_set_num_threads(nt);
    CHECK(lp1 == lp);
    CHECK(dh1 == dh);
    for (std::size_t g = 0; g < dg.size(); ++g) CHECK(dg1[g] == Approx(dg[g]).epsilon(1e-12));
#endif
  }
}

TEST_CASE("fused pass: float agrees with double; forward-only; strided views; bad input", "[likelihood]") {
  std::mt19937_64 rng(5);
  const Index G = 200, B = 9;
  const Counts c = random_counts(G, B, 0.1, rng);
  for (const auto& spec : kAllSpecs) {
    INFO(name(spec));
    const Problem p = random_problem(spec, G, B, rng);
    const Index PG = n_heads(spec) * G;
    std::vector<double> lp, dh(PG * B), dg(p.glt.size(), 0.0);
    run_pass<double>(spec, G, B, p.heads, p.glt, c, p.weight, &lp, &dh, p.glt.empty() ? nullptr : &dg);
    std::vector<float> hf(p.heads.begin(), p.heads.end()), gf(p.glt.begin(), p.glt.end()),
        wf(p.weight.begin(), p.weight.end()), lpf, dhf(PG * B), dgf(p.glt.size(), 0.0f);
    run_pass<float>(spec, G, B, hf, gf, c, wf, &lpf, &dhf, gf.empty() ? nullptr : &dgf);
    double e_lp = 0, e_dh = 0, n_dh = 0;
    for (Index b = 0; b < B; ++b) e_lp = std::max(e_lp, rel(lpf[b], lp[b]));
    for (Index i = 0; i < PG * B; ++i) {
      e_dh += (dhf[i] - dh[i]) * (dhf[i] - dh[i]);
      n_dh += dh[i] * dh[i];
    }
    // Inputs are rounded to float, so the comparison includes the conditioning of the pmf.
    CHECK(e_lp < 1e-5);
    CHECK(std::sqrt(e_dh / n_dh) < 1e-5);
    // Forward only (no d_heads) gives the same log_px.
    std::vector<double> lp2;
    run_pass<double>(spec, G, B, p.heads, p.glt, c, p.weight, &lp2);
    CHECK(lp2 == lp);
    // Heads as a row block of a padded buffer (ld > rows), d_heads likewise: same results, and
    // the padding rows stay untouched.
    const Index ld = PG + 5;
    std::vector<double> hp(ld * B, 0.0), dp(ld * B, 123.0), lp3(B), dg3(p.glt.size(), 0.0);
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < PG; ++i) hp[i + b * ld] = p.heads[i + b * PG];
    likelihood_forward_backward<double>(
        spec, MatrixView<const double>(hp.data(), PG, B, ld), VectorView<const double>(p.glt.data(), Index(p.glt.size())),
        c.view(), VectorView<const double>(p.weight.data(), B), VectorView<double>(lp3.data(), B),
        MatrixView<double>(dp.data(), PG, B, ld), VectorView<double>(dg3.data(), Index(dg3.size())));
    CHECK(lp3 == lp);
    bool same = true, pad = true;
    for (Index b = 0; b < B; ++b) {
      for (Index i = 0; i < PG; ++i) same = same && dp[i + b * ld] == dh[i + b * PG];
      for (Index i = PG; i < ld; ++i) pad = pad && dp[i + b * ld] == 123.0;
    }
    CHECK(same);
    CHECK(pad);
  }
  // Malformed input throws InputError.
  const LikelihoodSpec nb{Likelihood::nb};
  std::vector<double> h(2 * 4, 0.0), lp(1);
  std::vector<std::int64_t> ptr{0, 2};
  std::vector<std::int32_t> idx{2, 1};  // not increasing
  std::vector<float> val{1, 1};
  CscView<float> bad{ptr.data(), idx.data(), val.data(), 4, 1};
  CHECK_THROWS_AS(likelihood_forward_backward<double>(nb, MatrixView<const double>(h.data(), 8, 1), {}, bad, {},
                                                      VectorView<double>(lp.data(), 1), {}, {}),
                  InputError);
  idx = {1, 2};
  val = {1, -1};  // negative count
  CHECK_THROWS_AS(likelihood_forward_backward<double>(nb, MatrixView<const double>(h.data(), 8, 1), {}, bad, {},
                                                      VectorView<double>(lp.data(), 1), {}, {}),
                  InputError);
  val = {1, INFINITY};  // an infinite count (log p would be -inf or NaN, silently)
  CHECK_THROWS_AS(likelihood_forward_backward<double>(nb, MatrixView<const double>(h.data(), 8, 1), {}, bad, {},
                                                      VectorView<double>(lp.data(), 1), {}, {}),
                  InputError);
  {
    std::vector<float> hf(8, 0.f), lpf(1);
    CHECK_THROWS_WITH(likelihood_forward_backward<float>(nb, MatrixView<const float>(hf.data(), 8, 1), {}, bad, {},
                                                         VectorView<float>(lpf.data(), 1), {}, {}),
                      Catch::Contains("non-finite"));
  }
  // Wrong number of head rows.
  CHECK_THROWS_AS(likelihood_forward_backward<double>(nb, MatrixView<const double>(h.data(), 4, 1), {}, bad, {},
                                                      VectorView<double>(lp.data(), 1), {}, {}),
                  InputError);
}

TEST_CASE("no NaN or Inf at extreme pre-activations; NaN heads propagate", "[likelihood]") {
  const Index G = 8, B = 6;
  Counts c;
  c.G = G;
  c.B = B;
  c.dense.assign(G * B, 0.0f);
  for (Index b = 0; b < B; ++b) c.dense[(b % G) + b * G] = b % 2 ? 1e4f : 1.0f;
  c.compress();
  const double ext[] = {-1e3, 1e3, -1e30, 1e30, -15.0, 15.0};
  for (const auto& spec : kAllSpecs) {
    INFO(name(spec));
    const int P = n_heads(spec);
    const Index PG = P * G;
    for (int pass = 0; pass < 2; ++pass) {  // double, then float
      std::vector<double> hd(PG * B), gd(has_gene_dispersion(spec) ? G : 0), w(B, -1.0 / B);
      for (Index i = 0; i < PG * B; ++i) hd[i] = ext[(i * 7 + i / PG) % 6];
      for (Index g = 0; g < Index(gd.size()); ++g) gd[g] = ext[(g * 5) % 6];
      auto all_finite = [](const auto& v) {
        for (auto x : v)
          if (!std::isfinite(double(x))) return false;
        return true;
      };
      if (pass == 0) {
        std::vector<double> lp, dh(PG * B), dg(gd.size(), 0.0);
        run_pass<double>(spec, G, B, hd, gd, c, w, &lp, &dh, gd.empty() ? nullptr : &dg);
        CHECK(all_finite(lp));
        CHECK(all_finite(dh));
        CHECK(all_finite(dg));
        // Clamped mean heads have zero gradient.
        for (Index b = 0; b < B; ++b)
          for (Index g = 0; g < G; ++g)
            if (std::fabs(hd[g + b * PG]) > 15) CHECK(dh[g + b * PG] == 0.0);
      } else {
        std::vector<float> hf(hd.begin(), hd.end()), gf(gd.begin(), gd.end()), wf(w.begin(), w.end()), lp,
            dh(PG * B), dg(gd.size(), 0.0f);
        run_pass<float>(spec, G, B, hf, gf, c, wf, &lp, &dh, gf.empty() ? nullptr : &dg);
        CHECK(all_finite(lp));
        CHECK(all_finite(dh));
        CHECK(all_finite(dg));
      }
    }
    // A NaN head is not hidden by the clamp.
    std::vector<double> hd(PG * B, 0.0), gd(has_gene_dispersion(spec) ? G : 0, 0.0), w(B, -1.0), lp;
    hd[3] = std::nan("");
    run_pass<double>(spec, G, B, hd, gd, c, w, &lp);
    CHECK(std::isnan(lp[0]));
  }
}

TEST_CASE("mean and variance match Monte Carlo of sample; sample is seeded", "[likelihood]") {
  const Index G = 4, B = 3;
  for (const auto& spec : kAllSpecs) {
    INFO(name(spec));
    const int P = n_heads(spec);
    const Index PG = P * G;
    std::vector<double> heads(PG * B), glt(has_gene_dispersion(spec) ? G : 0);
    for (Index b = 0; b < B; ++b)
      for (Index g = 0; g < G; ++g) {
        heads[g + b * PG] = std::log(0.5 + 4.0 * g + 2.5 * b);  // mu 0.5 .. 17
        if (theta_head(spec) >= 0) heads[G + g + b * PG] = std::log(0.7 + 2.0 * ((g + b) % 4));  // theta 0.7 .. 6.7
        if (pi_head(spec) >= 0) heads[pi_head(spec) * G + g + b * PG] = -1.5 + 0.8 * ((g + 2 * b) % 4);
      }
    for (Index g = 0; g < Index(glt.size()); ++g) glt[g] = std::log(0.8 + 1.5 * g);
    MatrixView<const double> hv(heads.data(), PG, B);
    VectorView<const double> gv(glt.data(), Index(glt.size()));
    std::vector<double> m(G * B), v(G * B);
    mean_variance<double>(spec, hv, gv, MatrixView<double>(m.data(), G, B), MatrixView<double>(v.data(), G, B));

    const int N = 40000;
    std::mt19937_64 rng(2024);
    std::vector<double> draw(G * B), s1(G * B, 0), s2(G * B, 0), s3(G * B, 0), s4(G * B, 0);
    for (int n = 0; n < N; ++n) {
      sample<double>(spec, hv, gv, rng, MatrixView<double>(draw.data(), G, B));
      for (Index i = 0; i < G * B; ++i) {
        const double d = draw[i] - m[i];  // moments about the analytic mean
        s1[i] += d;
        s2[i] += d * d;
        s3[i] += d * d * d;
        s4[i] += d * d * d * d;
      }
    }
    double worst_m = 0, worst_v = 0;
    for (Index i = 0; i < G * B; ++i) {
      const double mean_dev = s1[i] / N;             // sample mean - analytic mean
      const double var_mc = s2[i] / N - mean_dev * mean_dev;
      const double se_m = std::sqrt(v[i] / N);
      const double m4 = s4[i] / N;                   // ~ central 4th moment
      const double se_v = std::sqrt(std::max(m4 - v[i] * v[i], 0.0) / N);
      worst_m = std::max(worst_m, std::fabs(mean_dev) / se_m);
      worst_v = std::max(worst_v, std::fabs(var_mc - v[i]) / se_v);
      INFO("element " << i << " mean " << m[i] << " var " << v[i] << " MC var " << var_mc);
      CHECK(std::fabs(mean_dev) < 5 * se_m);
      CHECK(std::fabs(var_mc - v[i]) < 5 * se_v);
    }
    std::printf("  %-16s Monte Carlo (N=%d): worst |mean error| %.2f SE, worst |variance error| %.2f SE\n",
                name(spec).c_str(), N, worst_m, worst_v);
    // Same seed, same draws.
    std::mt19937_64 r1(9), r2(9);
    std::vector<double> a(G * B), b2(G * B);
    sample<double>(spec, hv, gv, r1, MatrixView<double>(a.data(), G, B));
    sample<double>(spec, hv, gv, r2, MatrixView<double>(b2.data(), G, B));
    CHECK(a == b2);
  }
}
