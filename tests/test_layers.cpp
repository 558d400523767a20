// Finite-difference checks (double) of every layer's backward pass, plus known values.
#include <catch2/catch.hpp>

#include <scvae/backend/cpu.hpp>
#include <scvae/layers/mlp.hpp>

#include "fd_util.hpp"

using namespace scvae;
using B = CpuBackend;
using scvae_test::finite_difference;
using scvae_test::report;

namespace {

// A small sparse [G x N] count matrix with ~70% zeros.
struct SparseCounts {
  std::vector<std::int64_t> ptr;
  std::vector<std::int32_t> idx;
  std::vector<float> val;
  Index rows, cols;
  SparseCounts(Index g, Index n, Rng& rng) : rows(g), cols(n) {
    ptr.push_back(0);
    for (Index j = 0; j < n; ++j) {
      for (Index i = 0; i < g; ++i)
        if (rng.uniform() < 0.3) {
          idx.push_back(static_cast<std::int32_t>(i));
          val.push_back(static_cast<float>(1 + rng.below(5)));
        }
      ptr.push_back(static_cast<std::int64_t>(idx.size()));
    }
  }
  CscView<float> view() const { return {ptr.data(), idx.data(), val.data(), rows, cols}; }
  std::vector<double> dense() const {
    std::vector<double> d(rows * cols, 0.0);
    for (Index j = 0; j < cols; ++j)
      for (auto k = ptr[j]; k < ptr[j + 1]; ++k) d[idx[k] + j * rows] = val[k];
    return d;
  }
};

// Objective sum(R .* y) so that dL/dy = R.
double dot(MatrixView<const double> y, const std::vector<double>& r) {
  double s = 0;
  for (Index j = 0; j < y.cols; ++j)
    for (Index i = 0; i < y.rows; ++i) s += y(i, j) * r[i + j * y.rows];
  return s;
}

}  // namespace

TEST_CASE("Dense forward matches a hand computation", "[layers]") {
  ArenaLayout L;
  auto d = Dense::create(L, "d", 2, 2);
  Arena<B, double> a(L);
  double w[] = {1, 3, 2, 4};  // column-major [[1, 2], [3, 4]]
  B::upload(a.param_vec(d.w), w);
  double b[] = {0.5, -1};
  B::upload(a.param_vec(d.b), b);
  std::vector<double> x = {1, 1, 2, 0}, y(4);
  d.forward(a, MatrixView<double>(y.data(), 2, 2), MatrixView<const double>(x.data(), 2, 2));
  CHECK(y[0] == Approx(3.5));
  CHECK(y[1] == Approx(6));
  CHECK(y[2] == Approx(2.5));
  CHECK(y[3] == Approx(5));
}

TEST_CASE("Dense gradients: dense and sparse input", "[layers][grad]") {
  Rng rng(1);
  const Index in = 7, out = 5, N = 4;
  ArenaLayout L;
  auto d = Dense::create(L, "d", in, out);
  Arena<B, double> a(L);
  d.init(a, rng);
  scvae_test::fill_normal(a.all_params().data, a.all_params().size, rng, 0.5);
  SparseCounts xs(in, N, rng);
  std::vector<double> xd = xs.dense(), r(out * N), y(out * N), dx(in * N);
  scvae_test::fill_normal(r.data(), r.size(), rng);
  MatrixView<double> Y(y.data(), out, N);
  MatrixView<const double> X(xd.data(), in, N), R(r.data(), out, N);

  // sparse forward equals dense forward
  d.forward(a, Y, xs.view());
  std::vector<double> y2(y);
  d.forward(a, Y, X);
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(y2[i] == Approx(y[i]).margin(1e-12));

  auto f = [&] { d.forward(a, Y, X); return dot(Y, r); };
  auto fx = [&] { return f(); };
  a.zero_grads();
  d.backward(a, MatrixView<double>(dx.data(), in, N), R, X);
  std::vector<double> g(a.all_grads().data, a.all_grads().data + a.all_grads().size);
  auto rp = finite_difference(a.all_params().data, a.all_params().size, g, f);
  report("dense params", rp);
  CHECK(rp.rel_error < 1e-7);
  auto rx = finite_difference(xd.data(), xd.size(), dx, fx);
  report("dense input", rx);
  CHECK(rx.rel_error < 1e-7);

  // sparse backward gives the same weight gradient
  a.zero_grads();
  d.backward(a, R, xs.view());
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(a.all_grads()[i] == Approx(g[i]).margin(1e-12));
}

TEST_CASE("Dense with the bias folded into the GEMMs equals the plain layer; gradients", "[layers][grad]") {
  Rng rng(2);
  const Index in = 6, out = 9, N = 5;
  ArenaLayout L;
  auto d = Dense::create(L, "d", in, out);
  auto other = Dense::create(L, "other", 3, 2);  // a following slot must not be touched
  Arena<B, double> a(L);
  scvae_test::fill_normal(a.all_params().data, a.all_params().size, rng, 0.5);
  std::vector<double> x(in * N), x1((in + 1) * N, 1.0), r(out * N), y(out * N), y1(out * N), dx(in * N), dx1(in * N);
  scvae_test::fill_normal(x.data(), x.size(), rng);
  scvae_test::fill_normal(r.data(), r.size(), rng);
  for (Index j = 0; j < N; ++j)
    for (Index i = 0; i < in; ++i) x1[i + j * (in + 1)] = x[i + j * in];  // last row stays 1
  MatrixView<const double> X(x.data(), in, N), X1(x1.data(), in + 1, N), R(r.data(), out, N);
  MatrixView<double> Y(y.data(), out, N), Y1(y1.data(), out, N);

  d.forward(a, Y, X);
  d.forward_folded(a, Y1, X1);
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(y1[i] == Approx(y[i]).margin(1e-12));

  a.zero_grads();
  d.backward(a, MatrixView<double>(dx.data(), in, N), R, X);
  const std::vector<double> g(a.all_grads().data, a.all_grads().data + a.all_grads().size);
  a.zero_grads();
  d.backward_folded(a, MatrixView<double>(dx1.data(), in, N), R, X1);
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(a.all_grads()[i] == Approx(g[i]).margin(1e-12));
  for (std::size_t i = 0; i < dx.size(); ++i) CHECK(dx1[i] == Approx(dx[i]).margin(1e-12));
  for (Index i = 0; i < a.grad(other.w).size(); ++i) CHECK(a.grad(other.w).data[i] == 0.0);

  // and against finite differences of sum(R .* y) w.r.t. W and b
  auto f = [&] { d.forward_folded(a, Y1, X1); return dot(Y1, r); };
  auto rp = finite_difference(a.all_params().data, a.all_params().size,
                              std::vector<double>(a.all_grads().data, a.all_grads().data + a.all_grads().size), f);
  report("dense (bias folded) params", rp);
  CHECK(rp.rel_error < 1e-7);

  // an input without the ones row is refused
  CHECK_THROWS(d.forward_folded(a, Y1, X));
}

TEST_CASE("Activation gradients", "[layers][grad]") {
  Rng rng(2);
  for (auto act : {Activation::relu, Activation::softplus, Activation::identity}) {
    std::vector<double> x(30), y(30), r(30), dx(30);
    scvae_test::fill_normal(x.data(), 30, rng);
    scvae_test::fill_normal(r.data(), 30, rng);
    MatrixView<double> X(x.data(), 6, 5), Y(y.data(), 6, 5), DX(dx.data(), 6, 5);
    MatrixView<const double> R(r.data(), 6, 5);
    auto f = [&] { activation_forward<B, double>(act, Y, X); return dot(Y, r); };
    activation_backward<B, double>(act, DX, R, X);
    auto rc = finite_difference(x.data(), x.size(), dx, f);
    report(std::string("activation ") + to_string(act), rc);
    CHECK(rc.rel_error < 1e-7);
  }
  std::vector<double> x = {-1, 0.5, 40, -40}, y(4);
  B::softplus_forward(MatrixView<double>(y.data(), 4, 1), MatrixView<const double>(x.data(), 4, 1));
  CHECK(y[0] == Approx(std::log1p(std::exp(-1.0))));
  CHECK(y[2] == Approx(40.0));
  CHECK(y[3] == Approx(std::exp(-40.0)));
}

TEST_CASE("BatchNorm: normalises in training, uses running statistics in evaluation, gradients", "[layers][grad]") {
  Rng rng(3);
  const Index F = 4, N = 6;
  for (bool scale : {false, true}) {
    ArenaLayout L;
    auto bn = BatchNorm::create(L, "bn", F, scale, 1e-3, 0.1);
    Arena<B, double> a(L);
    bn.init(a);
    scvae_test::fill_normal(a.all_params().data, a.all_params().size, rng, 0.5);
    std::vector<double> x(F * N), y(F * N), xhat(F * N), mean(F), istd(F), r(F * N), dx(F * N);
    scvae_test::fill_normal(x.data(), x.size(), rng, 2.0);
    scvae_test::fill_normal(r.data(), r.size(), rng);
    MatrixView<double> X(x.data(), F, N), Y(y.data(), F, N), DX(dx.data(), F, N);
    BatchNormCache<double> c{MatrixView<double>(xhat.data(), F, N), {mean.data(), F}, {istd.data(), F}};

    bn.forward_train(a, Y, c, MatrixView<const double>(X));
    for (Index i = 0; i < F; ++i) {
      double s = 0, ss = 0;
      for (Index j = 0; j < N; ++j) s += xhat[i + j * F];
      for (Index j = 0; j < N; ++j) ss += xhat[i + j * F] * xhat[i + j * F];
      CHECK(s / N == Approx(0).margin(1e-12));
      CHECK(ss / N == Approx(1).epsilon(1e-3));  // var / (var + eps)
    }
    // running mean moved 10% towards the batch mean
    CHECK(a.state(bn.running_mean)(0, 0) == Approx(0.1 * mean[0]));

    auto f = [&] { bn.forward_train(a, Y, c, MatrixView<const double>(X), false); return dot(Y, r); };
    f();
    a.zero_grads();
    bn.backward(a, DX, MatrixView<const double>(r.data(), F, N), c);
    std::vector<double> g(a.all_grads().data, a.all_grads().data + a.all_grads().size);
    auto rp = finite_difference(a.all_params().data, a.all_params().size, g, f);
    auto rx = finite_difference(x.data(), x.size(), dx, f);
    report(scale ? "batchnorm (scale) params" : "batchnorm params", rp);
    report(scale ? "batchnorm (scale) input" : "batchnorm input", rx);
    CHECK(rp.rel_error < 1e-7);
    CHECK(rx.rel_error < 1e-6);

    // evaluation: (x - running_mean) / sqrt(running_var + eps) + beta
    bn.forward_eval(a, Y, MatrixView<const double>(X));
    const double rm = a.state(bn.running_mean)(1, 0), rv = a.state(bn.running_var)(1, 0);
    const double gm = scale ? a.param(bn.gamma)(1, 0) : 1.0;
    CHECK(y[1] == Approx(gm * (x[1] - rm) / std::sqrt(rv + 1e-3) + a.param(bn.beta)(1, 0)));
  }
}

TEST_CASE("Dropout: mask statistics and gradient", "[layers][grad]") {
  Rng rng(4);
  std::vector<double> x(2000, 1.0), y(2000), mask(2000), dx(2000), r(2000, 1.0);
  MatrixView<double> X(x.data(), 20, 100), Y(y.data(), 20, 100), M(mask.data(), 20, 100);
  Dropout{0.25}.forward<B, double>(Y, M, MatrixView<const double>(X), rng);
  double kept = 0;
  for (double m : mask) {
    CHECK((m == 0.0 || m == Approx(1 / 0.75)));
    kept += m != 0.0;
  }
  CHECK(kept / 2000 == Approx(0.75).margin(0.04));
  Dropout{0.25}.backward<B, double>(MatrixView<double>(dx.data(), 20, 100), MatrixView<const double>(r.data(), 20, 100),
                                    MatrixView<const double>(M));
  for (std::size_t i = 0; i < dx.size(); ++i) CHECK(dx[i] == mask[i]);
}

TEST_CASE("MLP (sparse input, BatchNorm, ReLU, dropout) gradient w.r.t. every parameter", "[layers][grad]") {
  Rng rng(5);
  const Index G = 9, N = 5;
  for (double p : {0.0, 0.3}) {
    MlpOptions o;
    o.hidden = {6, 4};
    o.dropout = p;
    o.batch_norm_scale = true;
    ArenaLayout L;
    auto mlp = Mlp::create(L, "enc", G, o);
    Arena<B, double> a(L);
    Rng init(6);
    mlp.init(a, init);
    scvae_test::fill_normal(a.all_params().data, a.all_params().size, rng, 0.5);
    Workspace<B, double> ws;
    auto c = mlp.make_cache(ws, N);
    SparseCounts xs(G, N, rng);
    std::vector<double> r(4 * N);
    scvae_test::fill_normal(r.data(), r.size(), rng);
    // same dropout mask for every evaluation: reseed before each forward
    auto f = [&] {
      Rng drop(7);
      mlp.forward(a, c, xs.view(), Mode::train, drop);
      // running statistics must not drift during the check
      return dot(MatrixView<const double>(c.output(N)), r);
    };
    auto state0 = std::vector<double>(a.all_state().data, a.all_state().data + a.all_state().size);
    f();
    a.zero_grads();
    B::copy(MatrixView<const double>(r.data(), 4, N), c.d_output(N));
    mlp.backward(a, c, xs.view(), Mode::train);
    std::vector<double> g(a.all_grads().data, a.all_grads().data + a.all_grads().size);
    auto rp = finite_difference(a.all_params().data, a.all_params().size, g, f);
    report(p > 0 ? "mlp with dropout" : "mlp", rp);
    CHECK(rp.rel_error < 1e-6);
    (void)state0;
  }
}
