// examples/train_benchmark: epoch time of the reference workload (issue #7), the time of the same
// epoch's GEMMs alone (the practical limit), a per-phase breakdown, and peak resident memory.
//
//   train_benchmark [--lik poisson|nb|zip|zinb] [--model vae|gmvae] [--cells 2000] [--genes 27998]
//                   [--hidden 250] [--latent 25] [--components 10] [--batch 100] [--epochs 3]
//                   [--threads 2] [--repeats 5] [--clip 0] [--mean free|library] [--no-breakdown]
// --clip C: Adam's element-wise gradient clipping (scVAE's and `scvae train`'s default is 1; the
// PyTorch peer does not clip, so the comparison with it uses 0).
//
// Data: simulate_counts(like_mbc20k) with --cells cells (93% zeros). Epoch time = the Trainer's
// own epoch wall time (gather, forward/backward, gradient norm as finiteness check, Adam), min over
// --epochs epochs. GEMM-only = the same shapes through CpuBackend::gemm / spmm / spmm_grad for
// every Dense layer of the model (forward, weight gradient, input gradient), summed over the
// epoch's batches (min of --repeats). Last line: getrusage peak RSS and the CSR matrix bytes.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "scvae/backend/cpu.hpp"
#include "scvae/data/simulate.hpp"
#include "scvae/gmvae.hpp"
#include "scvae/train/trainer.hpp"
#include "scvae/vae.hpp"

namespace {

using B = scvae::CpuBackend;
using scvae::Index;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string lik = "nb", model = "vae", mean = "free";
  Index cells = 2000, genes = 27998, hidden = 250, latent = 25, components = 10, batch = 100;
  int epochs = 3, threads = 2, repeats = 5;
  double clip = 0.0;
  bool breakdown = true;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--lik") a.lik = next();
    else if (k == "--model") a.model = next();
    else if (k == "--cells") a.cells = std::atol(next());
    else if (k == "--genes") a.genes = std::atol(next());
    else if (k == "--hidden") a.hidden = std::atol(next());
    else if (k == "--latent") a.latent = std::atol(next());
    else if (k == "--components") a.components = std::atol(next());
    else if (k == "--batch") a.batch = std::atol(next());
    else if (k == "--epochs") a.epochs = std::atoi(next());
    else if (k == "--threads") a.threads = std::atoi(next());
    else if (k == "--repeats") a.repeats = std::atoi(next());
    else if (k == "--clip") a.clip = std::atof(next());
    else if (k == "--mean") a.mean = next();
    else if (k == "--no-breakdown") a.breakdown = false;
    else {
      std::fprintf(stderr, "unknown argument %s\n", k.c_str());
      std::exit(2);
    }
  }
  if (a.mean != "free" && a.mean != "library") {
    std::fprintf(stderr, "--mean: expected free or library\n");
    std::exit(2);
  }
  return a;
}

double secs(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

template <class F>
double min_time(int repeats, F&& f) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, secs(t0));
  }
  return best;
}

struct Mat {
  std::vector<float, Eigen::aligned_allocator<float>> v;
  Index rows = 0, cols = 0;
  Mat(Index r, Index c, float fill = 0.01f) : v(static_cast<std::size_t>(r * c), fill), rows(r), cols(c) {}
  scvae::MatrixView<float> view() { return {v.data(), rows, cols}; }
  scvae::MatrixView<const float> cview() const { return {v.data(), rows, cols}; }
};

// One dense layer W [out x in] on N columns: forward, weight gradient (written, beta = 0, as the
// training step writes the heads' gradient), input gradient.
struct DenseGemms {
  Mat w, dw, x, y, dx;
  bool input_grad;
  DenseGemms(Index out, Index in, Index n, bool input_grad_)
      : w(out, in), dw(out, in), x(in, n), y(out, n), dx(in, n), input_grad(input_grad_) {}
  void forward() { B::gemm<float>(false, false, 1.f, w.cview(), x.cview(), 0.f, y.view()); }
  void weight_grad() { B::gemm<float>(false, true, 1.f, y.cview(), x.cview(), 0.f, dw.view()); }
  void in_grad() {
    if (input_grad) B::gemm<float>(true, false, 1.f, w.cview(), y.cview(), 0.f, dx.view());
  }
  void all() {
    forward();
    weight_grad();
    in_grad();
  }
};

struct GemmReport {
  double out_fwd = 0, out_wgrad = 0, out_igrad = 0, enc_first = 0, rest = 0;
  double total() const { return out_fwd + out_wgrad + out_igrad + enc_first + rest; }
};

// Per-batch GEMM times of the model's Dense layers (N = batch columns for the encoder; Nd =
// columns through the decoder: N for the VAE, K*N for the GMVAE).
GemmReport gemm_only(const Args& a, const scvae::CsrMatrix& data, Index P, bool gmvae) {
  const Index N = a.batch, Nd = gmvae ? a.components * N : N, H = a.hidden, Z = a.latent, G = a.genes;
  GemmReport r;
  DenseGemms out(P * G, H, Nd, true);
  r.out_fwd = min_time(a.repeats, [&] { out.forward(); });
  r.out_wgrad = min_time(a.repeats, [&] { out.weight_grad(); });
  r.out_igrad = min_time(a.repeats, [&] { out.in_grad(); });
  // Encoder first layer: sparse x dense with the first batch's non-zeros.
  scvae::CscBatch batch;
  std::vector<Index> rows(static_cast<std::size_t>(N));
  for (Index i = 0; i < N; ++i) rows[i] = i;
  scvae::gather_batch(data, rows.data(), N, scvae::InputTransform::log1p, batch);
  Mat w1(H, G), dw1(H, G), y1(H, N);
  const int n_first = gmvae ? 2 : 1;  // GMVAE: q(y|x) and q(z|x,k) both start with a sparse layer
  r.enc_first = n_first * min_time(a.repeats, [&] {
                  B::spmm<float>(1.f, w1.cview(), batch.input_view(), 0.f, y1.view());
                  B::spmm_grad<float>(1.f, y1.cview(), batch.input_view(), dw1.view(), /*accumulate=*/false);
                });
  // The small layers: encoder latent head, decoder hidden layer(s); GMVAE also its q(y|x) head.
  std::vector<DenseGemms> small;
  small.emplace_back(2 * Z, H, gmvae ? Nd : N, true);  // latent head
  small.emplace_back(H, Z, Nd, true);                  // decoder first layer (dz needed)
  if (gmvae) small.emplace_back(a.components, H, N, true);
  r.rest = min_time(a.repeats, [&] {
    for (auto& d : small) d.all();
  });
  return r;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // KiB -> MiB
}

template <class Model, class Cfg>
double train_epochs(const Args& a, Cfg cfg, const scvae::CsrMatrix& data, std::vector<double>& epoch_times) {
  Model model(cfg, a.batch, 1);
  scvae::TrainOptions opt;
  opt.epochs = a.epochs;
  opt.batch_size = a.batch;
  opt.seed = 3;
  opt.adam.clip_value = a.clip;
  opt.on_epoch = [&](const scvae::EpochMetrics& m) {
    epoch_times.push_back(m.seconds);
    std::printf("  epoch %d: %.3f s  train ELBO %.1f\n", m.epoch, m.seconds, m.train.elbo);
    std::fflush(stdout);
  };
  scvae::Trainer<Model> trainer(model, opt);
  trainer.fit(data, scvae::all_rows(data));
  return *std::min_element(epoch_times.begin(), epoch_times.end());
}

// Parameters of the VAE (hidden [H]).
Index H_params(const Args& a, Index P) {
  const Index G = a.genes, H = a.hidden, Z = a.latent;
  return (H * G + H) + (2 * Z * H + 2 * Z) + (H * Z + H) + (P * G * H + P * G) + 4 * H;
}

// Breakdown of one VAE step's non-GEMM phases on batch-shaped data.
void breakdown(const Args& a, const scvae::CsrMatrix& data, scvae::LikelihoodSpec spec, double n_batches) {
  const Index N = a.batch, G = a.genes, P = scvae::n_heads(spec);
  scvae::CscBatch batch;
  std::vector<Index> rows(static_cast<std::size_t>(N));
  for (Index i = 0; i < N; ++i) rows[i] = i;
  const double t_gather =
      min_time(a.repeats, [&] { scvae::gather_batch(data, rows.data(), N, scvae::InputTransform::log1p, batch); });
  Mat heads(P * G, N, 0.f), d_heads(P * G, N, 0.f);
  scvae::Rng rng(5);
  for (auto& v : heads.v) v = float(0.5 * rng.normal() - 1.0);
  std::vector<float> w(N, -1.f / float(N)), lp(N), glt, dglt;
  if (scvae::has_gene_dispersion(spec)) {
    glt.assign(G, 0.f);
    dglt.assign(G, 0.f);
  }
  const double t_heads = min_time(a.repeats, [&] {
    scvae::likelihood_forward_backward<float>(spec, heads.cview(), {glt.data(), Index(glt.size())},
                                              batch.counts_view(), {w.data(), N}, {lp.data(), N}, d_heads.view(),
                                              {dglt.data(), Index(dglt.size())});
  });
  // Optimiser phases over a parameter vector the size of the VAE's.
  const Index n_params = H_params(a, P);
  std::vector<float, Eigen::aligned_allocator<float>> p(n_params, 0.1f), g(n_params, 0.01f), m(n_params, 0.f),
      v(n_params, 0.f);
  long step = 0;
  // The Trainer's per-step optimiser passes: the gradient norm (also its divergence check) and
  // the Adam sweep with clipping fused in. (No zeroing pass: forward_backward writes the widest
  // gradients and zeros only the rest, 0.1% of this arena, inside the step.)
  const double t_adam = min_time(a.repeats, [&] {
    volatile double ss = B::sum_squares<float>({g.data(), n_params});
    (void)ss;
    B::adam_step<float>({p.data(), n_params}, {g.data(), n_params}, {m.data(), n_params}, {v.data(), n_params}, 1e-4f,
                        0.9f, 0.999f, 1e-8f, 0.f, false, ++step, 1.f, float(a.clip));
  });
  // (The heads layer's bias has no pass of its own: it is folded into the output GEMMs.)
  std::printf("breakdown per batch (ms): gather %.2f | heads pass %.2f | norm+adam (%ld params) %.2f\n",
              1e3 * t_gather, 1e3 * t_heads, long(n_params), 1e3 * t_adam);
  std::printf("breakdown per epoch (s): gather %.3f | heads %.3f | optimiser %.3f\n", t_gather * n_batches,
              t_heads * n_batches, t_adam * n_batches);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  B::set_threads(a.threads);
  try {
    scvae::SimulationOptions so = scvae::SimulationOptions::like_mbc20k(0);
    so.cells = a.cells;
    so.genes = a.genes;
    const auto t0 = Clock::now();
    scvae::SimulatedData sim = scvae::simulate_counts(so);
    scvae::CsrMatrix& data = sim.counts;
    const double zeros = 1.0 - double(data.nnz()) / (double(data.n_rows) * double(data.n_cols));
    std::printf("data: %ld cells x %ld genes, %.2f%% zeros, CSR %.1f MB (simulated in %.1f s)\n", long(data.n_rows),
                long(data.n_cols), 100 * zeros, data.bytes() / 1e6, secs(t0));
    const double rss_data = peak_rss_mb();
    scvae::LikelihoodSpec spec{scvae::parse_likelihood(a.lik), scvae::Dispersion::gene_cell};
    const Index P = scvae::n_heads(spec);
    const bool gmvae = a.model == "gmvae";
    const double n_batches = double((a.cells + a.batch - 1) / a.batch);
    std::printf("model %s, likelihood %s, mean %s, hidden [%ld], latent %ld%s, batch %ld, threads %d\n", a.model.c_str(),
                a.lik.c_str(), a.mean.c_str(), long(a.hidden), long(a.latent),
                gmvae ? (", K " + std::to_string(a.components)).c_str() : "", long(a.batch), a.threads);

    std::vector<double> times;
    double epoch;
    if (gmvae) {
      scvae::GmvaeConfig cfg;
      cfg.genes = a.genes;
      cfg.hidden = {a.hidden};
      cfg.latent = a.latent;
      cfg.components = a.components;
      cfg.likelihood = spec;
      cfg.mean = a.mean == "library" ? scvae::MeanLink::library : scvae::MeanLink::free;
      epoch = train_epochs<scvae::Gmvae<B, float>>(a, cfg, data, times);
    } else {
      scvae::VaeConfig cfg;
      cfg.genes = a.genes;
      cfg.hidden = {a.hidden};
      cfg.latent = a.latent;
      cfg.likelihood = spec;
      cfg.mean = a.mean == "library" ? scvae::MeanLink::library : scvae::MeanLink::free;
      epoch = train_epochs<scvae::Vae<B, float>>(a, cfg, data, times);
    }
    const double rss_train = peak_rss_mb();

    const GemmReport gr = gemm_only(a, data, P, gmvae);
    const double gemm_epoch = gr.total() * n_batches;
    std::printf("GEMM-only per batch (ms): out fwd %.2f, out wgrad %.2f, out igrad %.2f, first layer (sparse) %.2f, "
                "other layers %.2f; total %.2f\n",
                1e3 * gr.out_fwd, 1e3 * gr.out_wgrad, 1e3 * gr.out_igrad, 1e3 * gr.enc_first, 1e3 * gr.rest,
                1e3 * gr.total());
    if (a.breakdown && !gmvae) breakdown(a, data, spec, n_batches);
    std::printf("RESULT model=%s lik=%s epoch_s=%.3f gemm_only_s=%.3f ratio=%.2f peak_rss_MB=%.0f "
                "rss_after_data_MB=%.0f csr_MB=%.0f\n",
                a.model.c_str(), a.lik.c_str(), epoch, gemm_epoch, epoch / gemm_epoch, rss_train, rss_data,
                data.bytes() / 1048576.0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_benchmark: %s\n", e.what());
    return 1;
  }
  return 0;
}
