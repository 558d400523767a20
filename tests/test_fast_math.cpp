// Accuracy of the vectorisable float functions (math/fast_math.hpp) and of the vectorised x = 0
// element pass (distributions/detail/zero_fast.hpp) against double references: relative error
// <= 1e-6 (the documented bounds are tighter), special values, and the fused float pass against
// the scalar reference pass.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <scvae/distributions/detail/nonzero_fast.hpp>
#include <scvae/distributions/detail/nonzero_sweep.hpp>
#include <scvae/distributions/detail/zero_fast.hpp>
#include <scvae/distributions/detail/zero_sweep.hpp>
#include <scvae/distributions/likelihood.hpp>

using namespace scvae;
namespace fm = scvae::math::fast;

namespace {

double rel_err(double got, double ref) {
  if (got == ref) return 0;
  return std::fabs(got - ref) / std::max(std::fabs(ref), 1e-300);
}

// Dense grid plus random points over [lo, hi].
std::vector<float> points(float lo, float hi, int n = 200000) {
  std::vector<float> p;
  p.reserve(static_cast<std::size_t>(2 * n));
  for (int i = 0; i <= n; ++i) p.push_back(lo + (hi - lo) * float(i) / float(n));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int i = 0; i < n; ++i) p.push_back(u(rng));
  return p;
}
// Log-spaced positive points over [lo, hi].
std::vector<float> log_points(double lo, double hi, int n = 200000) {
  std::vector<float> p;
  for (int i = 0; i <= n; ++i) p.push_back(float(lo * std::pow(hi / lo, double(i) / n)));
  return p;
}

// Counts as 10x data has them (mostly 1 to 10, a tail to 1e5), plus the table's edge, integers
// beyond it, non-integers, and values the fast element leaves to the reference.
std::vector<float> nonzero_counts(int n, std::mt19937& rng) {
  std::vector<float> x;
  std::uniform_real_distribution<double> u(0, 1);
  const float fixed[] = {1,    2,    3,     8,     9,      10,   11,   254,  255, 256, 257, 1000, 1e5f, 1e6f, 1e8f,
                         10.5f, 37.25f, 300.5f, 2.5f, 0.25f, 2e8f};  // the last three are rare (left to the reference)
  for (float f : fixed) x.push_back(f);
  while (int(x.size()) < n) {
    const double v = u(rng);
    if (v < 0.7) x.push_back(float(1 + int(10 * u(rng))));
    else if (v < 0.95) x.push_back(float(1 + int(std::exp(u(rng) * std::log(1e5)))));
    else x.push_back(float(10 + 1000 * u(rng)));
  }
  return x;
}

// Error of one x > 0 element against the double reference, relative to its scale: log p
// relative to the largest term it sums (theta softplus(u), x softplus(-u), lgamma_diff, log x!,
// x |log mu|, mu, softplus(w)), which bounds the rounding of any float evaluation; gradients
// relative to the largest of x and the element's gradient components (their terms are O(x)).
struct NonzeroErr {
  double lp, d;
};
template <Likelihood L>
NonzeroErr nonzero_error(float x, float a, float c, float w, float lp, float dmu, float dth, float dpi) {
  double dm = 0, dt = 0, dp = 0;
  const double ref = detail::element_log_prob_grad<L, false, double>(x, a, c, w, dm, dt, dp);
  const double ac = std::clamp(double(a), -kLogClip, kLogClip), cc = std::clamp(double(c), -kLogClip, kLogClip);
  double lp_scale = std::max(std::fabs(ref), std::lgamma(double(x) + 1));
  if (has_dispersion(L)) {
    const double theta = std::exp(cc), u = ac - cc;
    lp_scale = std::max({lp_scale, theta * math::softplus(u), double(x) * math::softplus(-u),
                         std::fabs(math::lgamma_diff(double(x), theta))});
  } else {
    lp_scale = std::max({lp_scale, double(x) * std::fabs(ac), std::exp(ac)});
  }
  if (has_zero_inflation(L)) lp_scale = std::max(lp_scale, math::softplus(double(w)));
  const double d_scale = std::max({std::fabs(dm), std::fabs(dt), std::fabs(dp), double(x)});
  double e = std::fabs(dmu - dm);
  if (has_dispersion(L)) e = std::max(e, std::fabs(dth - dt));
  if (has_zero_inflation(L)) e = std::max(e, std::fabs(dpi - dp));
  return {std::fabs(lp - ref) / lp_scale, e / d_scale};
}

// f(std::integral_constant<Likelihood, L>{}) for each of the four likelihoods.
template <class F>
void for_each_likelihood(F f) {
  f(std::integral_constant<Likelihood, Likelihood::poisson>{});
  f(std::integral_constant<Likelihood, Likelihood::nb>{});
  f(std::integral_constant<Likelihood, Likelihood::zip>{});
  f(std::integral_constant<Likelihood, Likelihood::zinb>{});
}

}  // namespace

TEST_CASE("fast_exp: relative error <= 1e-6 on its normal range", "[fast_math]") {
  double worst = 0;
  for (float x : points(-87.3f, 88.7f)) worst = std::max(worst, rel_err(fm::fast_exp(x), std::exp(double(x))));
  INFO("max relative error " << worst);
  CHECK(worst <= 1e-6);
  CHECK(fm::fast_exp(0.0f) == 1.0f);
  CHECK(fm::fast_exp(-200.0f) == 0.0f);
  CHECK(std::isinf(fm::fast_exp(100.0f)));
  CHECK(std::isnan(fm::fast_exp(std::numeric_limits<float>::quiet_NaN())));
}

TEST_CASE("fast_expm1s: relative error <= 1e-6 on |x| <= ln 2", "[fast_math]") {
  double worst = 0;
  for (float x : points(-0.6931472f, 0.6931472f))
    if (x != 0.0f) worst = std::max(worst, rel_err(fm::fast_expm1s(x), std::expm1(double(x))));
  for (float x : log_points(1e-30, 0.69)) {
    worst = std::max(worst, rel_err(fm::fast_expm1s(x), std::expm1(double(x))));
    worst = std::max(worst, rel_err(fm::fast_expm1s(-x), std::expm1(-double(x))));
  }
  INFO("max relative error " << worst);
  CHECK(worst <= 1e-6);
}

TEST_CASE("fast_log: relative error <= 1e-6 (absolute near 1)", "[fast_math]") {
  double worst = 0;
  for (float x : log_points(FLT_MIN, FLT_MAX)) {
    const double ref = std::log(double(x));
    // near x = 1 the value is tiny: compare with the scale of log's input rounding (1 ulp of x)
    const double err = std::fabs(fm::fast_log(x) - ref) / std::max(std::fabs(ref), 1e-7);
    worst = std::max(worst, err);
  }
  for (float x : points(0.5f, 2.0f)) {
    const double ref = std::log(double(x));
    worst = std::max(worst, std::fabs(fm::fast_log(x) - ref) / std::max(std::fabs(ref), 1e-7));
  }
  INFO("max relative error " << worst);
  CHECK(worst <= 1e-6);
  CHECK(fm::fast_log(1.0f) == 0.0f);
  CHECK(fm::fast_log(0.0f) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(fm::fast_log(-1.0f)));
  CHECK(std::isinf(fm::fast_log(std::numeric_limits<float>::infinity())));
  CHECK(std::isnan(fm::fast_log(std::numeric_limits<float>::quiet_NaN())));
}

TEST_CASE("fast_log1p: relative error <= 1e-6 for x > -1", "[fast_math]") {
  double worst = 0;
  for (float x : points(-0.999f, 10.0f))
    if (x != 0.0f) worst = std::max(worst, rel_err(fm::fast_log1p(x), std::log1p(double(x))));
  for (float x : log_points(1e-30, 1e30)) {
    worst = std::max(worst, rel_err(fm::fast_log1p(x), std::log1p(double(x))));
    if (x < 0.999f) worst = std::max(worst, rel_err(fm::fast_log1p(-x), std::log1p(-double(x))));
  }
  INFO("max relative error " << worst);
  CHECK(worst <= 1e-6);
  CHECK(fm::fast_log1p(0.0f) == 0.0f);
  CHECK(fm::fast_log1p(-1.0f) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("fast_softplus: relative error <= 1e-6", "[fast_math]") {
  double worst = 0;
  for (float x : points(-80.0f, 80.0f)) {
    const double xd = x;
    const double ref = std::max(xd, 0.0) + std::log1p(std::exp(-std::fabs(xd)));
    worst = std::max(worst, rel_err(fm::fast_softplus(x), ref));
  }
  INFO("max relative error " << worst);
  CHECK(worst <= 1e-6);
}

TEST_CASE("nonzero_fast: the x > 0 terms match the double reference elements", "[fast_math][likelihood]") {
  std::mt19937 rng(13);
  std::normal_distribution<float> n(0.0f, 3.0f);  // clipping, both signs of u, pi ~0 to ~1
  const std::vector<float> xs = nonzero_counts(200000, rng);
  const float* table = detail::log_factorial_table();
  auto check = [&](auto lik) {
    constexpr Likelihood L = decltype(lik)::value;
    double worst_lp = 0, worst_d = 0, ref_lp = 0, ref_d = 0;  // ref_*: the scalar float reference
    int rare = 0;
    for (float x : xs) {
      const float a = n(rng), c = n(rng), w = n(rng);
      const auto e = detail::nonzero_fast<L>(x, a, c, w, table);
      const bool expect_rare = x > 1e8f || (x < 10 && x != std::floor(x));
      REQUIRE(e.rare == expect_rare);
      if (e.rare) {
        ++rare;
        continue;
      }
      const NonzeroErr fe = nonzero_error<L>(x, a, c, w, e.lp, e.d_mu, e.d_theta, e.d_pi);
      worst_lp = std::max(worst_lp, fe.lp);
      worst_d = std::max(worst_d, fe.d);
      float dm = 0, dt = 0, dp = 0;
      const float lpf = detail::element_log_prob_grad<L, false, float>(x, a, c, w, dm, dt, dp);
      const NonzeroErr re = nonzero_error<L>(x, a, c, w, lpf, dm, dt, dp);
      ref_lp = std::max(ref_lp, re.lp);
      ref_d = std::max(ref_d, re.d);
    }
    WARN(to_string(L) << " x > 0: log p " << worst_lp << " (scalar float reference " << ref_lp << "), gradients "
                      << worst_d << " (scalar float reference " << ref_d << "), " << rare << " rare");
    CHECK(rare == 3);
    CHECK(worst_lp <= 3e-6);
    CHECK(worst_d <= 3e-6);
  };
  for_each_likelihood(check);
}

TEST_CASE("nonzero_fast: edge cases of the gamma-function terms", "[fast_math][likelihood]") {
  const float* table = detail::log_factorial_table();
  // the table against double lgamma, correctly rounded to float
  for (int k = 0; k < detail::kLogFactorialTable; ++k) CHECK(table[k] == float(std::lgamma(k + 1.0)));
  // theta at both ends of the clamp (exp(-15), exp(15)), around the shift's boundary 10, and x
  // from 1 to 1e8: lgamma_diff and theta (psi(x + theta) - psi(theta)) - x against double,
  // relative to |value| + x (x log t is a term of the first; the second's O(x) parts cancel).
  double worst_lgd = 0, worst_tdd = 0;
  for (double theta : {3.059e-7, 1e-3, 0.5, 1.0, 9.999, 10.0, 10.001, 37.5, 1e3, 3.269e6})
    for (double x : {1.0, 2.0, 7.0, 8.0, 9.0, 10.0, 100.0, 12345.0, 1e6, 1e8}) {
      float lgd, tdd;
      detail::gamma_terms_fast(float(x), float(theta), lgd, tdd);
      const double t = double(float(theta)), xx = double(float(x));
      const double lgd_ref = math::lgamma_diff(xx, t), tdd_ref = math::theta_digamma_diff_m_x(xx, t);
      INFO("x " << x << " theta " << theta << ": lgamma_diff " << lgd << " vs " << lgd_ref << ", tdd " << tdd
                << " vs " << tdd_ref);
      const double el = std::fabs(lgd - lgd_ref) / (std::fabs(lgd_ref) + xx);
      const double et = std::fabs(tdd - tdd_ref) / (std::fabs(tdd_ref) + xx);
      CHECK(el <= 2e-6);
      CHECK(et <= 2e-6);
      worst_lgd = std::max(worst_lgd, el);
      worst_tdd = std::max(worst_tdd, et);
    }
  WARN("gamma terms: worst lgamma_diff error " << worst_lgd << ", theta digamma difference " << worst_tdd);
  // heads beyond the clamp (|a| > 15): the value at the boundary, zero gradient through that head
  for (float a : {-20.0f, -15.0f, 0.5f, 15.0f, 20.0f})
    for (float c : {-20.0f, -15.0f, 0.5f, 15.0f, 20.0f})
      for (float x : {1.0f, 7.0f, 300.0f}) {
        const auto nb = detail::nonzero_fast<Likelihood::nb>(x, a, c, 0.0f, table);
        const auto zinb = detail::nonzero_fast<Likelihood::zinb>(x, a, c, -3.0f, table);
        const auto ps = detail::nonzero_fast<Likelihood::poisson>(x, a, 0.0f, 0.0f, table);
        INFO("x " << x << " a_mu " << a << " a_theta " << c);
        CHECK(nonzero_error<Likelihood::nb>(x, a, c, 0.0f, nb.lp, nb.d_mu, nb.d_theta, nb.d_pi).lp <= 3e-6);
        CHECK(nonzero_error<Likelihood::nb>(x, a, c, 0.0f, nb.lp, nb.d_mu, nb.d_theta, nb.d_pi).d <= 3e-6);
        CHECK(nonzero_error<Likelihood::zinb>(x, a, c, -3.0f, zinb.lp, zinb.d_mu, zinb.d_theta, zinb.d_pi).lp <= 3e-6);
        CHECK(nonzero_error<Likelihood::poisson>(x, a, 0.0f, 0.0f, ps.lp, ps.d_mu, 0.0f, 0.0f).lp <= 3e-6);
        if (std::fabs(a) > 15) CHECK((nb.d_mu == 0.0f && ps.d_mu == 0.0f && zinb.d_mu == 0.0f));
        if (std::fabs(c) > 15) CHECK((nb.d_theta == 0.0f && zinb.d_theta == 0.0f));
      }
  // NaN heads stay NaN (a diverging model is still detected)
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(std::isnan(detail::nonzero_fast<Likelihood::nb>(3.0f, nan, 0.0f, 0.0f, table).lp));
  CHECK(std::isnan(detail::nonzero_fast<Likelihood::zinb>(3.0f, 0.0f, nan, 0.0f, table).d_theta));
  CHECK(std::isnan(detail::nonzero_fast<Likelihood::zip>(3.0f, 0.0f, 0.0f, nan, table).lp));
}

TEST_CASE("zero_fast: the x = 0 terms match the double reference elements", "[fast_math][likelihood]") {
  // heads ~ N(0, 3): clipping, both signs of u = a - c, pi from ~0 to ~1
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.0f, 3.0f);
  auto check = [&](auto lik) {
    constexpr Likelihood L = decltype(lik)::value;
    double worst_lp = 0, worst_d = 0, ref_lp = 0;  // ref_lp: the scalar float reference's own error
    for (int i = 0; i < 200000; ++i) {
      const float a = n(rng), c = n(rng), w = n(rng);
      const auto z = detail::zero_fast<L>(a, c, w);
      double dm = 0, dt = 0, dp = 0;
      const double lp = detail::element_log_prob_grad<L, true, double>(0.0, a, c, w, dm, dt, dp);
      if (z.rare) continue;  // the caller recomputes these with the reference
      worst_lp = std::max(worst_lp, std::fabs(z.lp - lp) / std::max(std::fabs(lp), 1e-30));
      const float lpf = detail::element_log_prob<L, true, float>(0.0f, a, c, w);
      ref_lp = std::max(ref_lp, std::fabs(lpf - lp) / std::max(std::fabs(lp), 1e-30));
      // gradients: relative to the largest gradient component of the element
      const double scale = std::max({std::fabs(dm), std::fabs(dt), std::fabs(dp), 1e-30});
      worst_d = std::max({worst_d, std::fabs(z.d_mu - dm) / scale, std::fabs(z.d_theta - dt) / scale,
                          std::fabs(z.d_pi - dp) / scale});
    }
    WARN(to_string(L) << " x = 0: log p " << worst_lp << " (scalar float reference " << ref_lp << "), gradients "
                      << worst_d);
    // Composed formulas (several float roundings after the <= 4e-7 functions): a few 1e-7, as the
    // scalar float reference elements.
    CHECK(worst_lp <= 3e-6);
    CHECK(worst_d <= 3e-6);
  };
  for_each_likelihood(check);
}

TEST_CASE("The vectorised float pass agrees with the double reference pass", "[fast_math][likelihood]") {
  const Index G = 997, B = 7;
  std::mt19937 rng(11);
  std::normal_distribution<double> n(0.0, 2.0);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::int64_t> ptr{0};
  std::vector<std::int32_t> idx;
  std::vector<float> val;
  for (Index b = 0; b < B; ++b) {
    for (Index g = 0; g < G; ++g)
      if (u(rng) < 0.1) {
        idx.push_back(std::int32_t(g));
        // mostly small counts; also stored zeros (sweep 1's value stands), large counts, and
        // non-integer ones below 10 (left to the reference by sweep 2)
        const double v = u(rng);
        val.push_back(v < 0.03 ? 0.0f : v < 0.06 ? 2.5f : v < 0.09 ? float(int(1e4 * u(rng))) : float(1 + int(20 * u(rng) * u(rng))));
      }
    ptr.push_back(std::int64_t(idx.size()));
  }
  const CscView<float> counts{ptr.data(), idx.data(), val.data(), G, B};
  for (auto spec : {LikelihoodSpec{Likelihood::poisson}, LikelihoodSpec{Likelihood::nb, Dispersion::gene_cell},
                    LikelihoodSpec{Likelihood::nb, Dispersion::gene}, LikelihoodSpec{Likelihood::zip},
                    LikelihoodSpec{Likelihood::zinb, Dispersion::gene_cell},
                    LikelihoodSpec{Likelihood::zinb, Dispersion::gene}}) {
    const Index PG = n_heads(spec) * G;
    std::vector<double> hd(PG * B), thd(has_gene_dispersion(spec) ? G : 0);
    for (auto& v : hd) v = n(rng);
    // a few extreme zero-inflation logits: exercises the rare log-space branch
    if (has_zero_inflation(spec.kind)) hd[(n_heads(spec) - 1) * G + 5] = -80.0, hd[0] = -14.0;
    for (auto& v : thd) v = n(rng);
    std::vector<float> hf(hd.begin(), hd.end()), thf(thd.begin(), thd.end());
    std::vector<double> wd(B, -0.1), lpd(B), dd(PG * B), dtd(thd.size(), 0.0);
    std::vector<float> wf(B, -0.1f), lpf(B), df(PG * B), dtf(thd.size(), 0.0f);
    likelihood_forward_backward<double>(spec, {hd.data(), PG, B}, {thd.data(), Index(thd.size())}, counts,
                                        {wd.data(), B}, {lpd.data(), B}, {dd.data(), PG, B},
                                        {dtd.data(), Index(dtd.size())});
    likelihood_forward_backward<float>(spec, {hf.data(), PG, B}, {thf.data(), Index(thf.size())}, counts,
                                       {wf.data(), B}, {lpf.data(), B}, {df.data(), PG, B},
                                       {dtf.data(), Index(dtf.size())});
    INFO(to_string(spec.kind) << " " << to_string(spec.dispersion));
    for (Index b = 0; b < B; ++b) CHECK(std::fabs(lpf[b] - lpd[b]) <= 2e-6 * std::fabs(lpd[b]) + 1e-3);
    double worst = 0, scale = 0;
    for (Index i = 0; i < PG * B; ++i) {
      scale = std::max(scale, std::fabs(dd[i]));
      worst = std::max(worst, std::fabs(df[i] - dd[i]));
    }
    CHECK(worst <= 1e-5 * scale);
    for (std::size_t g = 0; g < dtd.size(); ++g) CHECK(std::fabs(dtf[g] - dtd[g]) <= 1e-5 * (1 + std::fabs(dtd[g])));
  }
}

TEST_CASE("Every instruction-set variant of the x = 0 sweep matches the double reference", "[fast_math][likelihood]") {
  // detail/zero_sweep.hpp compiles the sweep for the consumer's flags and, on x86-64, for
  // AVX2+FMA and AVX-512; each variant this CPU can run is checked, not only the one dispatched.
  struct Variant {
    const char* name;
    bool available;
    int isa;
  };
  std::vector<Variant> variants{{"default", true, 0}};
#if SCVAE_ISA_DISPATCH
  variants.push_back({"avx2", detail::cpu_supports_isa(detail::isa_avx2), 1});
  variants.push_back({"avx512", detail::cpu_supports_isa(detail::isa_avx512), 2});
#endif
  WARN("x = 0 sweep dispatched to ISA level " << detail::cpu_isa() << " (0 default, 1 AVX2, 2 AVX-512)");
  const Index G = 100003;  // odd: vector remainders
  std::mt19937 rng(5);
  std::normal_distribution<float> n(0.0f, 3.0f);  // clipping, both signs of a - c; pi logits never < -69,
  std::vector<float> a(G), c(G), w(G);             // so the zero-inflated log-space branch never triggers
  for (Index g = 0; g < G; ++g) a[g] = n(rng), c[g] = n(rng), w[g] = n(rng);

  auto check = [&](auto lik, auto gene_theta) {
    constexpr Likelihood L = decltype(lik)::value;
    constexpr bool GT = decltype(gene_theta)::value && has_dispersion(L);
    std::vector<float> lp(G), dmu(G), dth_head(G), dpi(G), dth(G);
    detail::ZeroSweepArgs args{a.data(), c.data(), w.data(), G, 1.0f, lp.data(), dmu.data(),
                               dth_head.data(), dpi.data(), dth.data()};
    for (const Variant& v : variants) {
      if (!v.available) {
        WARN("CPU lacks " << v.name << ": that variant is not checked here");
        continue;
      }
      const int rare = detail::zero_sweep<L, GT, true>(args, v.isa);
      REQUIRE(rare == 0);
      double worst_lp = 0, worst_d = 0;
      for (Index g = 0; g < G; ++g) {
        double dm = 0, dt = 0, dp = 0;
        const double ref = detail::element_log_prob_grad<L, true, double>(0.0, a[g], c[g], w[g], dm, dt, dp);
        worst_lp = std::max(worst_lp, std::fabs(lp[g] - ref) / std::max(std::fabs(ref), 1e-30));
        const double scale = std::max({std::fabs(dm), std::fabs(dt), std::fabs(dp), 1e-30});
        double e = std::fabs(dmu[g] - dm);
        if (has_dispersion(L)) e = std::max(e, std::fabs((GT ? dth[g] : dth_head[g]) - dt));
        if (has_zero_inflation(L)) e = std::max(e, std::fabs(dpi[g] - dp));
        worst_d = std::max(worst_d, e / scale);
      }
      INFO(to_string(L) << (GT ? " per-gene theta" : "") << ", " << v.name << ": log p " << worst_lp
                        << ", gradients " << worst_d);
      CHECK(worst_lp <= 3e-6);
      CHECK(worst_d <= 3e-6);
    }
  };
  using P = std::integral_constant<Likelihood, Likelihood::poisson>;
  using NB = std::integral_constant<Likelihood, Likelihood::nb>;
  using ZIP = std::integral_constant<Likelihood, Likelihood::zip>;
  using ZINB = std::integral_constant<Likelihood, Likelihood::zinb>;
  check(P{}, std::false_type{});
  check(NB{}, std::false_type{});
  check(NB{}, std::true_type{});
  check(ZIP{}, std::false_type{});
  check(ZINB{}, std::false_type{});
  check(ZINB{}, std::true_type{});
}

TEST_CASE("Every instruction-set variant of the x > 0 sweep matches the double reference", "[fast_math][likelihood]") {
  std::vector<int> isas{0};
#if SCVAE_ISA_DISPATCH
  for (int isa : {1, 2})
    if (detail::cpu_supports_isa(isa)) isas.push_back(isa);
    else WARN("CPU lacks ISA level " << isa << ": that variant of the x > 0 sweep is not checked here");
#endif
  std::mt19937 rng(17);
  const std::vector<float> x = nonzero_counts(100003, rng);  // odd: vector remainders
  const Index n = Index(x.size());
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> a(n), c(n), w(n);
  for (Index k = 0; k < n; ++k) a[k] = nd(rng), c[k] = nd(rng), w[k] = nd(rng);
  auto check = [&](auto lik) {
    constexpr Likelihood L = decltype(lik)::value;
    std::vector<float> lp(n), dmu(n), dth(n), dpi(n);
    std::vector<unsigned char> rare(n);
    const detail::NonzeroSweepArgs args{x.data(),  a.data(),   c.data(),   w.data(),   n,          detail::log_factorial_table(),
                                        lp.data(), dmu.data(), dth.data(), dpi.data(), rare.data()};
    for (int isa : isas) {
      const int any = detail::nonzero_sweep<L, true>(args, isa);
      CHECK(any == 1);  // 2.5, 0.25 and 2e8 are in the list
      double worst_lp = 0, worst_d = 0;
      int n_rare = 0;
      for (Index k = 0; k < n; ++k) {
        if (rare[k]) {
          ++n_rare;
          continue;
        }
        const NonzeroErr e = nonzero_error<L>(x[k], a[k], c[k], w[k], lp[k], dmu[k], dth[k], dpi[k]);
        worst_lp = std::max(worst_lp, e.lp);
        worst_d = std::max(worst_d, e.d);
      }
      WARN(to_string(L) << " x > 0 sweep, ISA level " << isa << ": log p " << worst_lp << ", gradients " << worst_d << ", "
                        << n_rare << " rare");
      CHECK(worst_lp <= 3e-6);
      CHECK(worst_d <= 3e-6);
    }
  };
  for_each_likelihood(check);
}
