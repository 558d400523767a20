// Adam over the parameter arena: known values, and the fused clipping / weight-decay sweep
// against a plain reference loop written from the update rule of torch.optim.Adam / AdamW
// (Kingma & Ba 2015, Algorithm 1; Loshchilov & Hutter 2019 for the decoupled decay).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <scvae/backend/cpu.hpp>
#include <scvae/optim/adam.hpp>

using namespace scvae;
using B = CpuBackend;

namespace {

// The reference: clip the gradient (global norm, then element-wise), add L2 decay, update the
// moments, then the parameters. One element at a time, in double.
struct Reference {
  std::vector<double> p, m, v;
  long t = 0;
  void step(const std::vector<double>& g, const AdamOptions& o) {
    double norm = 0;
    for (double x : g) norm += x * x;
    norm = std::sqrt(norm);
    const double scale = o.clip_norm > 0 && norm > o.clip_norm ? o.clip_norm / norm : 1.0;
    ++t;
    const double bc1 = 1 - std::pow(o.beta1, double(t)), bc2 = 1 - std::pow(o.beta2, double(t));
    for (std::size_t i = 0; i < p.size(); ++i) {
      double gi = g[i] * scale;
      const double c = o.clip_value;
      if (c > 0) gi = gi < -c ? -c : (gi > c ? c : gi);  // (a NaN stays NaN, as torch's clamp)
      if (!o.decoupled_weight_decay) gi += o.weight_decay * p[i];
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
      const double m_hat = m[i] / bc1, v_hat = v[i] / bc2;
      p[i] -= o.learning_rate * (m_hat / (std::sqrt(v_hat) + o.eps) +
                                 (o.decoupled_weight_decay ? o.weight_decay * p[i] : 0.0));
    }
  }
};

template <class T>
Arena<B, T> make_arena(Index n) {
  ArenaLayout layout;
  layout.add_param("w", n, 1);
  return Arena<B, T>(layout);
}

}  // namespace

TEST_CASE("Adam's first step moves every parameter by the learning rate against its gradient's sign", "[optim]") {
  // With m = v = 0, step 1 gives m_hat = g and v_hat = g^2, so the update is lr * g / (|g| + eps).
  auto arena = make_arena<double>(4);
  const double g[] = {3.0, -0.5, 1e-3, 0.0};
  for (int i = 0; i < 4; ++i) arena.all_grads()[i] = g[i];
  AdamOptions o;
  o.learning_rate = 0.01;
  Adam<B, double> adam(4, o);
  const double norm = adam.step(arena);
  CHECK(norm == Approx(std::sqrt(9.0 + 0.25 + 1e-6)).epsilon(1e-14));
  for (int i = 0; i < 4; ++i) {
    const double expected = -0.01 * g[i] / (std::fabs(g[i]) + 1e-8);
    CHECK(arena.all_params()[i] == Approx(expected).epsilon(1e-12).margin(1e-300));
  }
  CHECK(adam.steps() == 1);
}

TEST_CASE("Adam: clipping and weight decay fused into the update equal the reference, gradients untouched",
          "[optim]") {
  const Index n = 5003;  // more than two of the sweep's 2,048-element blocks, odd
  struct Case {
    const char* name;
    double clip_value, clip_norm, weight_decay;
    bool decoupled;
  };
  const Case cases[] = {
      {"plain", 0, 0, 0, false},          {"element-wise clip", 0.05, 0, 0, false},
      {"norm clip", 0, 1.5, 0, false},    {"both clips", 0.02, 1.5, 0, false},
      {"L2 decay + clip", 0.05, 0, 0.1, false}, {"decoupled decay + norm clip", 0, 1.5, 0.1, true},
  };
  for (int threads : {1, 2}) {
    B::set_threads(threads);
    for (const Case& c : cases) {
      INFO(c.name << ", " << threads << " thread(s)");
      AdamOptions o;
      o.learning_rate = 1e-2;
      o.clip_value = c.clip_value;
      o.clip_norm = c.clip_norm;
      o.weight_decay = c.weight_decay;
      o.decoupled_weight_decay = c.decoupled;
      auto arena = make_arena<double>(n);
      Adam<B, double> adam(n, o);
      Reference ref{std::vector<double>(n), std::vector<double>(n), std::vector<double>(n)};
      Rng rng(7);
      for (Index i = 0; i < n; ++i) ref.p[i] = arena.all_params()[i] = rng.normal();
      std::vector<double> g(n);
      for (int step = 0; step < 5; ++step) {
        for (Index i = 0; i < n; ++i) g[i] = arena.all_grads()[i] = 0.1 * rng.normal() * (1 + step);
        ref.step(g, o);
        adam.step(arena);
        for (Index i = 0; i < n; ++i) REQUIRE(arena.all_grads()[i] == g[i]);  // left as computed
      }
      double max_err = 0;
      for (Index i = 0; i < n; ++i) max_err = std::max(max_err, std::fabs(arena.all_params()[i] - ref.p[i]));
      CAPTURE(max_err);
      CHECK(max_err < 1e-13);
    }
  }
  B::set_threads(2);
}

TEST_CASE("Adam's float sweep: every instruction-set variant the CPU runs matches the Eigen path", "[optim]") {
  // The AVX2 / AVX-512 variants (backend/detail/adam_kernel.hpp) follow the Eigen path's
  // operation order; they may differ by FMA contraction only: a few float ulps of the larger term
  // of each sum (|m| and its terms are ~0.01 here, hence the floor under m's relative error).
  std::vector<int> isas;
#if SCVAE_ISA_DISPATCH
  for (int isa : {1, 2})
    if (detail::cpu_supports_isa(isa)) isas.push_back(isa);
    else WARN("CPU lacks ISA level " << isa << ": that variant of the Adam sweep is not checked here");
#endif
  struct Case {
    float clip, l2, wd_dec, grad_scale;
  };
  const Case cases[] = {{0, 0, 0, 1}, {0.05f, 0, 0, 1}, {0, 0.1f, 0, 0.7f}, {0.02f, 0, 1e-3f, 1}};
  for (Index n : {Index(1), Index(15), Index(17), Index(4099), Index(100003)}) {  // vector remainders
    for (const Case& k : cases) {
      detail::AdamCoeffs<float> c{1e-2f / 0.1f, 1.0f / std::sqrt(0.001f), 1e-8f, 0.9f, 0.999f, k.grad_scale, k.clip, k.l2, k.wd_dec};
      Rng rng(11);
      std::vector<float> p0(n), g(n), m0(n), v0(n);
      for (Index i = 0; i < n; ++i)
        p0[i] = float(rng.normal()), g[i] = float(0.1 * rng.normal()), m0[i] = float(0.01 * rng.normal()),
        v0[i] = float(1e-4 * std::fabs(rng.normal()));
      std::vector<float> p = p0, m = m0, v = v0;
      for (int s = 0; s < 3; ++s) detail::adam_range<float>(detail::isa_default, p.data(), g.data(), m.data(), v.data(), n, c);
      for (int isa : isas) {
        CAPTURE(n, k.clip, k.l2, k.wd_dec, isa);
        std::vector<float> pi = p0, mi = m0, vi = v0;
        for (int s = 0; s < 3; ++s) detail::adam_range<float>(isa, pi.data(), g.data(), mi.data(), vi.data(), n, c);
        double ep = 0, em = 0, ev = 0;
        for (Index i = 0; i < n; ++i) {
          ep = std::max(ep, std::fabs(double(pi[i]) - p[i]) / std::max(1.0, std::fabs(double(p[i]))));
          em = std::max(em, std::fabs(double(mi[i]) - m[i]) / std::max(1e-2, std::fabs(double(m[i]))));
          ev = std::max(ev, std::fabs(double(vi[i]) - v[i]) / std::max(1e-6, std::fabs(double(v[i]))));
        }
        CAPTURE(ep, em, ev);
        CHECK(ep < 4e-7);
        CHECK(em < 1e-6);
        CHECK(ev < 1e-6);
      }
    }
  }
}

TEST_CASE("Adam's element-wise clip passes a NaN gradient through on every path; +-inf clip to +-c", "[optim]") {
  // The optimiser is public API: a NaN gradient must not come out as a finite step (the SIMD
  // path's min/max operand order used to turn it into -clip, where the Eigen path kept the NaN).
  // Each path is selected through adam_range's isa (isa_default = Eigen; the last < 8 or < 16
  // elements of a SIMD variant also take the Eigen path, so NaNs sit in the body and the tail).
  std::vector<int> isas = {int(detail::isa_default)};
#if SCVAE_ISA_DISPATCH
  for (int isa : {1, 2})
    if (detail::cpu_supports_isa(isa)) isas.push_back(isa);
    else WARN("CPU lacks ISA level " << isa << ": that variant of the Adam sweep is not checked here");
#endif
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const Index n = 37;  // 2 x 16 + 5: body and tail at both widths
  std::vector<float> g(n);
  for (Index i = 0; i < n; ++i) g[i] = 0.01f * float(i % 7) - 0.03f;
  g[0] = nan, g[9] = -nan, g[20] = inf, g[21] = -inf, g[35] = nan;
  for (float clip : {0.0f, 0.02f}) {
    for (int isa : isas) {
      CAPTURE(clip, isa);
      const detail::AdamCoeffs<float> c{1e-2f, 1.0f, 1e-8f, 0.9f, 0.999f, 1.0f, clip, 0.0f, 0.0f};
      std::vector<float> p(n, 1.0f), m(n, 0.0f), v(n, 0.0f);
      detail::adam_range<float>(isa, p.data(), g.data(), m.data(), v.data(), n, c);
      for (Index i = 0; i < n; ++i) {
        CAPTURE(i, g[i], p[i], m[i], v[i]);
        if (std::isnan(g[i])) {
          CHECK(std::isnan(m[i]));
          CHECK(std::isnan(p[i]));
        } else if (std::isinf(g[i]) && clip > 0) {  // clipped: m = (1 - beta1) (+-clip)
          CHECK(m[i] == Approx(0.1 * std::copysign(double(clip), double(g[i]))).epsilon(1e-6));
          CHECK(std::isfinite(p[i]));
        } else if (!std::isinf(g[i])) {
          CHECK(std::isfinite(p[i]));
        }
      }
    }
    // double: the Eigen path only
    const detail::AdamCoeffs<double> cd{1e-2, 1.0, 1e-8, 0.9, 0.999, 1.0, double(clip), 0.0, 0.0};
    std::vector<double> gd(g.begin(), g.end()), p(n, 1.0), m(n, 0.0), v(n, 0.0);
    detail::adam_range<double>(detail::isa_default, p.data(), gd.data(), m.data(), v.data(), n, cd);
    for (Index i : {0, 9, 35}) CHECK(std::isnan(p[i]));
    if (clip > 0) CHECK(m[20] == Approx(0.1 * clip));
  }
  // Through the public optimiser (whatever path this machine dispatches to), float and double.
  AdamOptions o;
  o.clip_value = 0.5;
  auto af = make_arena<float>(n);
  auto ad = make_arena<double>(n);
  for (Index i = 0; i < n; ++i) af.all_grads()[i] = g[i], ad.all_grads()[i] = g[i];
  Adam<B, float> adam_f(n, o);
  Adam<B, double> adam_d(n, o);
  adam_f.step(af, 1.0);  // (a NaN norm is the trainer's divergence check; it never steps on one)
  adam_d.step(ad, 1.0);
  for (Index i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(std::isnan(af.all_params()[i]) == std::isnan(g[i]));
    CHECK(std::isnan(ad.all_params()[i]) == std::isnan(g[i]));
  }
}

TEST_CASE("The gradient norm's pass: every instruction-set variant sums the squares in double", "[optim]") {
  std::vector<int> isas = {int(detail::isa_default)};
#if SCVAE_ISA_DISPATCH
  for (int isa : {1, 2})
    if (detail::cpu_supports_isa(isa)) isas.push_back(isa);
    else WARN("CPU lacks ISA level " << isa << ": that variant of the norm pass is not checked here");
#endif
  for (Index n : {Index(0), Index(1), Index(15), Index(17), Index(100003)}) {
    Rng rng(5);
    std::vector<float> x(std::size_t(n) + 1);
    for (auto& e : x) e = float(rng.normal() * 10);
    long double ref = 0;
    for (Index i = 0; i < n; ++i) ref += (long double)x[i] * (long double)x[i];
    for (int isa : isas) {
      CAPTURE(n, isa);
      const double s = detail::sum_squares_range<float>(isa, x.data(), n);
      CHECK(std::fabs(s - double(ref)) <= 1e-13 * double(ref) + 1e-300);  // products exact in double
    }
  }
  // Non-finite in, non-finite out (the norm is the trainer's divergence check).
  std::vector<float> y(33, 1.0f);
  y[31] = std::numeric_limits<float>::infinity();
  for (int isa : isas) CHECK(!std::isfinite(detail::sum_squares_range<float>(isa, y.data(), 33)));
  y[31] = std::numeric_limits<float>::quiet_NaN();
  for (int isa : isas) CHECK(std::isnan(detail::sum_squares_range<float>(isa, y.data(), 33)));
}

TEST_CASE("Adam in float follows the double reference", "[optim]") {
  const Index n = 4099;
  AdamOptions o;
  o.learning_rate = 1e-3;
  o.clip_value = 0.5;
  o.weight_decay = 1e-2;
  auto arena = make_arena<float>(n);
  Adam<B, float> adam(n, o);
  Reference ref{std::vector<double>(n), std::vector<double>(n), std::vector<double>(n)};
  Rng rng(3);
  for (Index i = 0; i < n; ++i) ref.p[i] = arena.all_params()[i] = float(rng.normal());
  std::vector<double> g(n);
  for (int step = 0; step < 3; ++step) {
    for (Index i = 0; i < n; ++i) g[i] = arena.all_grads()[i] = float(rng.normal());
    ref.step(g, o);
    adam.step(arena);
  }
  double max_err = 0;
  for (Index i = 0; i < n; ++i) max_err = std::max(max_err, std::fabs(double(arena.all_params()[i]) - ref.p[i]));
  CAPTURE(max_err);
  CHECK(max_err < 1e-6);  // float rounding of parameters of size ~1 and updates of size ~1e-3
}

TEST_CASE("The gradient norm is the divergence check: non-finite exactly when a gradient is", "[optim]") {
  const Index n = 3000;
  auto arena = make_arena<float>(n);
  Adam<B, float> adam(n, AdamOptions{});
  for (Index i = 0; i < n; ++i) arena.all_grads()[i] = std::numeric_limits<float>::max();  // squares overflow float
  CHECK(std::isfinite(adam.gradient_norm(arena)));
  CHECK(adam.gradient_norm(arena) == Approx(std::sqrt(double(n)) * std::numeric_limits<float>::max()));
  arena.all_grads()[1234] = std::numeric_limits<float>::infinity();
  CHECK_FALSE(std::isfinite(adam.gradient_norm(arena)));
  arena.all_grads()[1234] = std::numeric_limits<float>::quiet_NaN();
  CHECK_FALSE(std::isfinite(adam.gradient_norm(arena)));
}
