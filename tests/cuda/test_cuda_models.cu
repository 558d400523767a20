// Whole training steps, CPU vs CUDA: forward_backward + Adam step of the VAE and the GMVAE with
// every likelihood (Poisson, NB gene-cell and gene dispersion, ZIP, ZINB gene-cell and gene) at
// 27,998 genes, batch 100 and 37, same initial parameters, same batch, same noise (given as eps).
// Plus: the device gather matches gather_batch, the step is bit-reproducible on the GPU,
// CudaTrainer trains, and checkpoints go CPU -> GPU -> CPU bit for bit. Float, as trained in
// practice.
// Tolerances (float), justified by where the paths differ — cuBLAS vs Eigen GEMM summation order,
// FMA contraction, device vs glibc transcendental functions (a few ulps):
//   log-likelihood / KL / loss sums: abs 1e-4 + rel 1e-3 (the brief's bound; observed errors are
//     expected to be ~1e-6 relative, the slack covers ReLU / clamp kinks flipping for a few
//     elements whose pre-activation is within rounding of the kink).
//   each parameter slot's gradient: ||g_cuda - g_cpu|| / ||g_cpu|| <= 2e-3.
//   parameters after one Adam step (lr 1e-3): per slot ||p_cuda - p_cpu|| / ||p_cpu|| <= 1e-3
//     (Adam's first step is lr * sign(g) where |g| >> eps; a sign flip of a rounding-level
//     gradient moves one element by 2 lr, which this bound tolerates).
#include "cuda_test_util.cuh"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <scvae/io/checkpoint.hpp>
#include <scvae/models/gmvae.hpp>
#include <scvae/models/vae.hpp>
#include <scvae/optim/adam.hpp>
#include <scvae/train/cuda_trainer.cuh>

#include "test_util.hpp"

using namespace scvae;
using namespace cuda_test;
using C = CpuBackend;
using G = CudaBackend;

namespace {

constexpr Index kGenes = 27998;

const CsrMatrix& data() {
  static const CsrMatrix m = scvae_test::random_counts(137, kGenes, 77, 0.93);
  return m;
}
std::vector<double> gene_means(const CsrMatrix& d) {
  std::vector<double> mean(static_cast<std::size_t>(d.n_cols), 0.0);
  for (std::int64_t k = 0; k < d.nnz(); ++k) mean[d.indices[k]] += d.values[k];
  for (auto& v : mean) v /= double(d.n_rows);
  return mean;
}
template <class T>
std::vector<T> to_host(VectorView<const T> v) {
  std::vector<T> h(static_cast<std::size_t>(v.size));
  G::download<T>(h.data(), v);
  return h;
}
bool close(double ref, double got, double atol, double rtol, const char* what) {
  const bool ok = std::fabs(got - ref) <= atol + rtol * std::fabs(ref);
  if (!ok) std::printf("  MISMATCH %s: cpu %.9g cuda %.9g\n", what, ref, got);
  return ok;
}

// Per parameter slot: ||gpu - cpu|| / ||cpu|| <= tol for one of the arenas' vectors (parameters
// or gradients, as `view` picks), printing each slot that fails.
template <class CpuModel, class GpuModel, class View>
void check_slots(CpuModel& cpu, GpuModel& gpu, View view, double tol, const char* what) {
  using T = float;
  const auto& L = cpu.arena().layout();
  auto c = view(cpu.arena());
  const std::vector<T> ch(c.data, c.data + c.size);
  const auto gh = to_host<T>(VectorView<const T>(view(gpu.arena())));
  for (std::size_t s = 0; s < L.params.size(); ++s) {
    const double e = rel_l2(ch, gh, static_cast<std::size_t>(L.params[s].offset), static_cast<std::size_t>(L.params[s].size()));
    if (e > tol) std::printf("  %s of %s: relative error %.3g\n", what, L.param_names[s].c_str(), e);
    CHECK(e <= tol);
  }
}
constexpr auto kParams = [](auto& arena) { return arena.all_params(); };
constexpr auto kGrads = [](auto& arena) { return arena.all_grads(); };

// One step on both backends; compares stats, every slot's gradient and the parameters after Adam.
template <template <class, class> class Model, class Config>
void check_step(const Config& cfg, Index n, Index eps_cols, const char* label) {
  using T = float;
  const CsrMatrix& d = data();
  Model<C, T> cpu(cfg, 100, 5);
  Model<G, T> gpu(cfg, 100, 5);
  const auto means = gene_means(d);
  cpu.init_mean_bias(means);
  gpu.init_mean_bias(means);
  {  // identical starting parameters (both initialised from the same host Rng stream)
    auto pc = cpu.arena().all_params();
    auto pg = to_host<T>(VectorView<const T>(gpu.arena().all_params()));
    REQUIRE(compare("initial params", std::vector<T>(pc.data, pc.data + pc.size), pg, 0, 0) == 0);
  }
  std::vector<Index> rows(static_cast<std::size_t>(n));
  for (Index j = 0; j < n; ++j) rows[j] = (j * 7 + 3) % d.n_rows;
  CscBatch hb;
  gather_batch(d, rows.data(), n, cfg.input_transform, hb);
  cuda::DeviceCsr dd(d);
  cuda::DeviceBatch db;
  db.gather(dd, rows.data(), n, cfg.input_transform);

  Rng noise(17);
  Mat<T> eps(cfg.latent, eps_cols);
  fill_normal(eps.host, noise);
  eps.upload();
  Rng r1(1), r2(1);
  cpu.arena().zero_grads();
  gpu.arena().zero_grads();
  const StepStats sc = cpu.forward_backward(hb.input_view(), hb.counts_view(), T(0.7), r1, MatrixView<const T>(eps.h()));
  const StepStats sg = gpu.forward_backward(db.input_view(), db.counts_view(), T(0.7), r2, MatrixView<const T>(eps.d()));
  std::printf("%s n=%ld: log p(x) cpu %.3f cuda %.3f, KL cpu %.4f cuda %.4f\n", label, long(n), sc.log_likelihood,
              sg.log_likelihood, sc.kl, sg.kl);
  CHECK(close(sc.log_likelihood, sg.log_likelihood, 1e-4, 1e-3, "log_likelihood"));
  CHECK(close(sc.kl, sg.kl, 1e-4, 1e-3, "kl"));
  CHECK(close(sc.loss, sg.loss, 1e-4, 1e-3, "loss"));

  check_slots(cpu, gpu, kGrads, 2e-3, "gradient");
  const auto& L = cpu.arena().layout();

  AdamOptions ao;
  ao.learning_rate = 1e-3;
  Adam<C, T> ac(L.param_size, ao);
  Adam<G, T> ag(L.param_size, ao);
  ac.step(cpu.arena());
  ag.step(gpu.arena());
  check_slots(cpu, gpu, kParams, 1e-3, "parameter after Adam");
  auto st = cpu.arena().all_state();  // BatchNorm running statistics
  const std::vector<T> sch(st.data, st.data + st.size);
  CHECK(compare("batch-norm running stats", sch, to_host<T>(VectorView<const T>(gpu.arena().all_state())), 1e-6, 1e-4) == 0);
}

}  // namespace

TEST_CASE("cuda: device gather matches gather_batch", "[cuda][models]") {
  SCVAE_REQUIRE_CUDA_DEVICE();
  const CsrMatrix& d = data();
  std::vector<Index> rows = {136, 0, 5, 5, 77, 3, 100};
  CscBatch hb;
  gather_batch(d, rows.data(), Index(rows.size()), InputTransform::log1p, hb);
  cuda::DeviceCsr dd(d);
  cuda::DeviceBatch db;
  db.gather(dd, rows.data(), Index(rows.size()), InputTransform::log1p);
  const Index nnz = hb.ptr.back();
  std::vector<std::int64_t> ptr(rows.size() + 1);
  std::vector<std::int32_t> idx(static_cast<std::size_t>(nnz));
  std::vector<float> cnt(idx.size()), in(idx.size()), lib(rows.size());
  auto cv = db.counts_view(), iv = db.input_view();
  G::download<std::int64_t>(ptr.data(), VectorView<const std::int64_t>(cv.ptr, Index(ptr.size())));
  G::download<std::int32_t>(idx.data(), VectorView<const std::int32_t>(cv.idx, nnz));
  G::download<float>(cnt.data(), VectorView<const float>(cv.val, nnz));
  G::download<float>(in.data(), VectorView<const float>(iv.val, nnz));
  G::download<float>(lib.data(), db.library());
  CHECK(ptr == hb.ptr);
  CHECK(idx == hb.idx);
  CHECK(compare("counts", hb.counts, cnt, 0, 0) == 0);
  // Both sides compute float(log1p(double(count))). For every integer 1..1e7, double log1p lies at
  // least 101 double ulps from a float rounding boundary, so any double log1p within 100 ulps
  // (CUDA's: 1 ulp) rounds to the same float: bit-identical.
  CHECK(compare("log1p input", hb.input, in, 0, 0) == 0);
  CHECK(compare("library", hb.library, lib, 0, 1e-6) == 0);
}

TEST_CASE("cuda: VAE training step matches the CPU for every likelihood", "[cuda][models]") {
  SCVAE_REQUIRE_CUDA_DEVICE();
  for (const auto& s : kSpecs)
    for (Index n : {Index(100), Index(37)}) {
      VaeConfig cfg;
      cfg.genes = kGenes;
      cfg.hidden = {250};
      cfg.latent = 25;
      cfg.likelihood = s.spec;
      INFO("VAE " << s.name << " batch " << n);
      check_step<Vae>(cfg, n, n, (std::string("VAE ") + s.name).c_str());
    }
}

TEST_CASE("cuda: GMVAE training step matches the CPU for every likelihood", "[cuda][models]") {
  SCVAE_REQUIRE_CUDA_DEVICE();
  for (const auto& s : kSpecs)
    for (Index n : {Index(100), Index(37)}) {
      GmvaeConfig cfg;
      cfg.genes = kGenes;
      cfg.hidden = {250};
      cfg.latent = 25;
      cfg.components = 3;
      cfg.learn_prior_weights = true;
      cfg.likelihood = s.spec;
      INFO("GMVAE " << s.name << " batch " << n);
      check_step<Gmvae>(cfg, n, cfg.components * n, (std::string("GMVAE ") + s.name).c_str());
    }
}

TEST_CASE("cuda: training steps with the library-size mean (scVI) match the CPU", "[cuda][models]") {
  SCVAE_REQUIRE_CUDA_DEVICE();
  for (const auto& s : kSpecs) {
    VaeConfig cfg;
    cfg.genes = kGenes;
    cfg.hidden = {250};
    cfg.latent = 25;
    cfg.likelihood = s.spec;
    cfg.mean = MeanLink::library;
    INFO("VAE library mean " << s.name);
    check_step<Vae>(cfg, 37, 37, (std::string("VAE library mean ") + s.name).c_str());
  }
  GmvaeConfig g;
  g.genes = kGenes;
  g.hidden = {250};
  g.latent = 25;
  g.components = 3;
  g.likelihood = {Likelihood::zinb, Dispersion::gene};
  g.mean = MeanLink::library;
  check_step<Gmvae>(g, 100, g.components * 100, "GMVAE library mean zinb gene");
}

TEST_CASE("cuda: a training step is bit-reproducible; host batches are refused", "[cuda][models]") {
  SCVAE_REQUIRE_CUDA_DEVICE();
  using T = float;
  VaeConfig cfg;
  cfg.genes = kGenes;
  cfg.likelihood = {Likelihood::zinb, Dispersion::gene};
  cfg.dropout = 0.1;  // the device dropout mask is seeded too
  const CsrMatrix& d = data();
  std::vector<Index> rows(100);
  for (Index j = 0; j < 100; ++j) rows[j] = j;
  cuda::DeviceCsr dd(d);
  cuda::DeviceBatch db;
  db.gather(dd, rows.data(), 100, cfg.input_transform);
  std::vector<std::vector<T>> grads;
  for (int rep = 0; rep < 2; ++rep) {
    Vae<G, T> m(cfg, 100, 3);
    Rng rng(8);  // noise drawn on the device from this seed
    m.forward_backward(db.input_view(), db.counts_view(), T(1), rng);
    grads.push_back(to_host<T>(VectorView<const T>(m.arena().all_grads())));
  }
  CHECK(compare("gradients of two identical runs", grads[0], grads[1], 0, 0) == 0);

  Vae<G, T> m(cfg, 100, 3);
  CscBatch hb;
  gather_batch(d, rows.data(), 100, cfg.input_transform, hb);
  Rng rng(1);
  CHECK_THROWS_AS(m.forward_backward(hb.input_view(), hb.counts_view(), T(1), rng), InputError);
}

TEST_CASE("cuda: CudaTrainer trains with device-resident data", "[cuda][models]") {
  SCVAE_REQUIRE_CUDA_DEVICE();
  using T = float;
  const CsrMatrix d = scvae_test::random_counts(450, 2001, 5, 0.8);
  VaeConfig cfg;
  cfg.genes = 2001;
  cfg.hidden = {64};
  cfg.latent = 8;
  cfg.likelihood = {Likelihood::nb, Dispersion::gene_cell};
  Vae<G, T> model(cfg, 64, 1);
  TrainOptions opt;
  opt.epochs = 4;
  opt.batch_size = 64;
  opt.adam.learning_rate = 3e-3;
  std::vector<Index> train(400), val(50);
  for (Index i = 0; i < 400; ++i) train[i] = i;
  for (Index i = 0; i < 50; ++i) val[i] = 400 + i;
  cuda::DeviceCsr dd(d);
  CudaTrainer<Vae<G, T>> trainer(model, opt);
  const TrainResult r = trainer.fit(d, dd, train, val);
  REQUIRE(r.history.size() == 4u);
  for (const auto& e : r.history) {
    std::printf("epoch %d: train ELBO %.3f, validation ELBO %.3f, %.3f s\n", e.epoch, e.train.elbo, e.validation.elbo,
                e.seconds);
    CHECK(std::isfinite(e.train.elbo));
    CHECK(std::isfinite(e.validation.elbo));
  }
  CHECK(r.history.back().train.elbo > r.history.front().train.elbo);
}

TEST_CASE("cuda: CudaTrainer.evaluate refuses what Trainer.evaluate refuses (the matrix before upload)",
          "[cuda][models]") {
  // The matrix is validated by DeviceCsr's constructor before any device call, with the checks
  // and messages of Trainer.evaluate (CsrMatrix::validate, named after the caller): this part
  // runs without a GPU too.
  using T = float;
  const CsrMatrix good = scvae_test::random_counts(20, 6, 1);
  VaeConfig cfg;
  cfg.genes = 6;
  cfg.hidden = {4};
  cfg.latent = 2;
  Vae<C, T> cpu_model(cfg, 10);
  Trainer<Vae<C, T>> cpu_trainer(cpu_model, TrainOptions{});
  const std::vector<Index> rows = {0, 1, 2};
  auto after = [](const std::string& msg, const std::string& prefix) {
    const auto at = msg.find(prefix);
    return at == std::string::npos ? "(no '" + prefix + "' in: " + msg + ")" : msg.substr(at + prefix.size());
  };
  auto expect_same_refusal = [&](const CsrMatrix& bad, const char* what) {
    INFO(what);
    std::string cpu_msg, gpu_msg;
    try {
      cpu_trainer.evaluate(bad, rows, 0);
    } catch (const InputError& e) {
      cpu_msg = e.what();
    }
    try {
      cuda::DeviceCsr dd(bad);
    } catch (const InputError& e) {
      gpu_msg = e.what();
    }
    REQUIRE(!cpu_msg.empty());
    REQUIRE(!gpu_msg.empty());
    CHECK(after(gpu_msg, "DeviceCsr: ") == after(cpu_msg, "Trainer.evaluate: data: "));
  };
  REQUIRE(good.indptr[4] > 0);
  CsrMatrix d = good;
  d.indices[3] = 500;
  expect_same_refusal(d, "gene index out of range");
  d = good;
  d.values[4] = NAN;
  expect_same_refusal(d, "NaN count");
  d = good;
  d.values[4] = -1.f;
  expect_same_refusal(d, "negative count");
  d = good;
  d.values[4] = INFINITY;
  expect_same_refusal(d, "infinite count");
  d = good;
  for (Index r = 0; r < d.n_rows; ++r)
    if (d.row_nnz(r) >= 2) {
      std::swap(d.indices[d.indptr[r]], d.indices[d.indptr[r] + 1]);
      break;
    }
  expect_same_refusal(d, "gene indices out of order");
  d = good;
  d.indptr[5] = d.indptr[4] - 1;
  expect_same_refusal(d, "decreasing row offsets");
  d = good;
  d.values.resize(5);
  expect_same_refusal(d, "values shorter than indices");
  d = good;
  d.indptr.resize(10);
  expect_same_refusal(d, "indptr shorter than rows + 1");

  // The rest of Trainer.evaluate's checks (no rows, gene count against the model, row ids) need
  // a model on the device.
  SCVAE_REQUIRE_CUDA_DEVICE();
  Vae<G, T> model(cfg, 10);
  CudaTrainer<Vae<G, T>> trainer(model, TrainOptions{});
  const cuda::DeviceCsr dd(good);
  CHECK_THROWS_WITH(trainer.evaluate(dd, {}, 0), Catch::Contains("no rows"));
  CHECK_THROWS_WITH(cpu_trainer.evaluate(good, {}, 0), Catch::Contains("no rows"));
  CHECK_THROWS_WITH(trainer.evaluate(dd, {0, 20}, 0), Catch::Contains("evaluation row index out of range"));
  CHECK_THROWS_WITH(cpu_trainer.evaluate(good, {0, 20}, 0), Catch::Contains("evaluation row index out of range"));
  const CsrMatrix wide = scvae_test::random_counts(20, 7, 1);
  const cuda::DeviceCsr dwide(wide);
  CHECK_THROWS_WITH(trainer.evaluate(dwide, rows, 0), Catch::Contains("data has 7 genes, the model 6"));
  CHECK_THROWS_WITH(cpu_trainer.evaluate(wide, rows, 0), Catch::Contains("data has 7 genes, the model 6"));
  const SplitMetrics m = trainer.evaluate(dd, rows, 0);
  CHECK(m.cells == 3);
  CHECK(std::isfinite(m.elbo));
}

TEST_CASE("cuda: mixture re-initialisation on device batches matches the CPU's; CudaTrainer runs it",
          "[cuda][models]") {
  SCVAE_REQUIRE_CUDA_DEVICE();
  using T = float;
  const CsrMatrix& d = data();
  GmvaeConfig cfg;
  cfg.genes = kGenes;
  cfg.hidden = {64};
  cfg.latent = 5;
  cfg.components = 4;
  Gmvae<C, T> cpu(cfg, 50, 11);  // max_batch 50: the 137 cells are gathered in three batches
  Gmvae<G, T> gpu(cfg, 50, 11);
  const std::vector<Index> rows = all_rows(d);
  const KMeansResult kc = cpu.init_mixture_from_data(d, rows, 3);
  cuda::DeviceCsr dd(d);
  cuda::DeviceBatch db;
  const KMeansResult kg = gpu.init_mixture(rows, 3, [&](const Index* r, Index n) {
    db.gather(dd, r, n, cfg.input_transform);
    return db.input_view();
  });
  // The latent means differ by GEMM rounding (~1e-6 relative), far below the distances k-means
  // decides on, so the same k-means++ draws give the same clusters.
  REQUIRE(kc.labels.size() == kg.labels.size());
  CHECK(kc.labels == kg.labels);
  check_slots(cpu, gpu, kParams, 1e-4, "parameter after init_mixture");

  // Through CudaTrainer: re-initialised after epoch 1, training goes on from the new mixture.
  Gmvae<G, T> model(cfg, 50, 2);
  TrainOptions opt;
  opt.epochs = 3;
  opt.batch_size = 50;
  opt.adam.learning_rate = 3e-3;
  opt.mixture_init_epochs = 1;
  CudaTrainer<Gmvae<G, T>> trainer(model, opt);
  const TrainResult r = trainer.fit(d, dd, rows);
  REQUIRE(r.history.size() == 3u);
  for (const auto& e : r.history) CHECK(std::isfinite(e.train.elbo));
  CHECK(trainer.optimizer().steps() == 6);  // reset after epoch 1 (3 batches an epoch): epochs 2 and 3 since
}

TEST_CASE("cuda: checkpoints move CPU -> GPU -> CPU bit for bit (parameters, state, Adam)", "[cuda][models]") {
  SCVAE_REQUIRE_CUDA_DEVICE();
  using T = float;
  GmvaeConfig cfg;  // a GMVAE: BatchNorm running statistics and learned prior weights as well
  cfg.genes = 301;
  cfg.hidden = {32};
  cfg.latent = 4;
  cfg.components = 3;
  cfg.learn_prior_weights = true;
  Gmvae<C, T> cpu(cfg, 20, 3);
  Adam<C, T> ac(cpu.arena().layout().param_size, AdamOptions{});
  Rng rng(12);
  auto randomize = [&](VectorView<T> v) {
    for (Index i = 0; i < v.size; ++i) v[i] = T(rng.normal());
  };
  randomize(cpu.arena().all_params());
  randomize(cpu.arena().all_state());
  randomize(ac.moment1());
  randomize(ac.moment2());
  ac.set_steps(123);
  const std::string dir = SCVAE_TEST_TMP_DIR;
  std::filesystem::create_directories(dir);
  const std::string from_cpu = dir + "/cuda_portable_cpu.ckpt", from_gpu = dir + "/cuda_portable_gpu.ckpt";
  save_checkpoint(from_cpu, cpu, &ac, "epoch=7\n");

  Gmvae<G, T> gpu(cfg, 20, 99);  // other initial parameters
  Adam<G, T> ag(gpu.arena().layout().param_size, AdamOptions{});
  restore_checkpoint(read_checkpoint(from_cpu), gpu, &ag);
  CHECK(ag.steps() == 123);
  auto host = [](VectorView<T> v) { return std::vector<T>(v.data, v.data + v.size); };
  CHECK(compare("parameters", host(cpu.arena().all_params()), to_host<T>(VectorView<const T>(gpu.arena().all_params())),
                0, 0) == 0);
  CHECK(compare("state", host(cpu.arena().all_state()), to_host<T>(VectorView<const T>(gpu.arena().all_state())), 0,
                0) == 0);
  CHECK(compare("moment1", host(ac.moment1()), to_host<T>(VectorView<const T>(ag.moment1())), 0, 0) == 0);
  CHECK(compare("moment2", host(ac.moment2()), to_host<T>(VectorView<const T>(ag.moment2())), 0, 0) == 0);

  // The GPU model's file is the CPU model's, byte for byte, and loads back on the CPU.
  save_checkpoint(from_gpu, gpu, &ag, "epoch=7\n");
  auto bytes = [](const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  };
  const auto a = bytes(from_cpu), b = bytes(from_gpu);
  CHECK(!a.empty());
  CHECK(a == b);
  Gmvae<C, T> back(cfg, 20, 5);
  restore_checkpoint(read_checkpoint(from_gpu), back);
  CHECK(host(back.arena().all_params()) == host(cpu.arena().all_params()));
}
