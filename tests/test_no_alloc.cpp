// The training step does not allocate: after the first batches (per-thread scratch of the
// likelihood pass, first-touch of reserved buffers), gathering a batch, forward, backward and the
// Adam step run with zero heap allocations. Counted by replacing the global operator new.
// With oneDNN (SCVAE_USE_DNNL) the large GEMMs are oneDNN calls, which allocate small objects
// inside the library (a std::function per parallel section, an argument map per primitive
// execution): those are counted apart, by interposing the two entry points scvae calls, and
// bounded; scvae's own code must still allocate nothing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

#include <scvae/gmvae.hpp>

#include "test_util.hpp"

namespace {
std::atomic<long> g_allocations{0};
std::atomic<long> g_dnnl_allocations{0};  // made inside oneDNN's calls
std::atomic<int> g_in_dnnl{0};            // > 0 while the test's thread is inside one
}  // namespace

#ifdef SCVAE_USE_DNNL
#include <dlfcn.h>

#include <dnnl.h>
// The executable's definitions take precedence over libdnnl's; the real ones via RTLD_NEXT.
extern "C" dnnl_status_t dnnl_sgemm(char ta, char tb, dnnl_dim_t M, dnnl_dim_t N, dnnl_dim_t K, float alpha,
                                    const float* A, dnnl_dim_t lda, const float* B, dnnl_dim_t ldb, float beta,
                                    float* C, dnnl_dim_t ldc) {
  using Fn = dnnl_status_t (*)(char, char, dnnl_dim_t, dnnl_dim_t, dnnl_dim_t, float, const float*, dnnl_dim_t,
                               const float*, dnnl_dim_t, float, float*, dnnl_dim_t);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "dnnl_sgemm"));
  ++g_in_dnnl;
  const dnnl_status_t r = real(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  --g_in_dnnl;
  return r;
}
extern "C" dnnl_status_t dnnl_primitive_execute(const_dnnl_primitive_t p, dnnl_stream_t s, int nargs,
                                                const dnnl_exec_arg_t* args) {
  using Fn = dnnl_status_t (*)(const_dnnl_primitive_t, dnnl_stream_t, int, const dnnl_exec_arg_t*);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "dnnl_primitive_execute"));
  ++g_in_dnnl;
  const dnnl_status_t r = real(p, s, nargs, args);
  --g_in_dnnl;
  return r;
}
#endif

// Every form of the global allocation functions is replaced, so that each allocation and its
// release go through the same pair (malloc/free): under AddressSanitizer a library's nothrow or
// array new reaching ASan's operator new and then our free would be an alloc-dealloc mismatch.
namespace {
void count() { (g_in_dnnl.load() > 0 ? g_dnnl_allocations : g_allocations).fetch_add(1, std::memory_order_relaxed); }
void* counted_alloc(std::size_t n) {
  count();
  return std::malloc(n ? n : 1);
}
void* counted_aligned_alloc(std::size_t n, std::align_val_t al) {
  count();
  const std::size_t a = std::max(sizeof(void*), static_cast<std::size_t>(al));
  void* p = nullptr;
  return posix_memalign(&p, a, n ? n : 1) == 0 ? p : nullptr;
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t al) {
  if (void* p = counted_aligned_alloc(n, al)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t al) {
  if (void* p = counted_aligned_alloc(n, al)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return counted_aligned_alloc(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return counted_aligned_alloc(n, al);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

using namespace scvae;
using B = CpuBackend;

struct Allocations {
  long own = 0, dnnl = 0;  // scvae's own; inside oneDNN's calls
  int steps = 0;
};

template <class Model>
Allocations allocations_in_steps(Model& model, const CsrMatrix& data, Index bs) {
  Adam<B, float> adam(model.arena().layout().param_size, AdamOptions{});
  CscBatch batch;
  batch.reserve(bs, max_batch_nnz(data, bs));
  std::vector<Index> rows = all_rows(data);
  Rng rng(1);
  auto step = [&](Index b) {
    gather_batch(data, rows.data() + b * bs, bs, InputTransform::log1p, batch);
    model.arena().zero_grads();
    model.forward_backward(batch.input_view(), batch.counts_view(), 1.0f, rng);
    adam.step(model.arena());
  };
  for (Index b = 0; b < 2; ++b) step(b);  // warm-up
  const long before = g_allocations.load(), dnnl_before = g_dnnl_allocations.load();
  Allocations a;
  for (Index b = 0; b < data.n_rows / bs; ++b, ++a.steps) step(b);
  a.own = g_allocations.load() - before;
  a.dnnl = g_dnnl_allocations.load() - dnnl_before;
  return a;
}

// oneDNN: one allocation per sgemm call, five per matmul execution (Debian's 2.6.3); a step makes
// a few dozen large GEMMs at most. Without oneDNN there are none.
void check_allocations(const Allocations& a) {
  CAPTURE(a.own, a.dnnl, a.steps);
  CHECK(a.own == 0);
#ifdef SCVAE_USE_DNNL
  CHECK(a.dnnl <= 64L * a.steps);
#else
  CHECK(a.dnnl == 0);
#endif
}

TEST_CASE("A VAE training step allocates nothing", "[vae][alloc]") {
  auto data = scvae_test::random_counts(200, 300, 3, 0.9);
  for (auto kind : {Likelihood::poisson, Likelihood::nb, Likelihood::zinb}) {
    VaeConfig cfg;
    cfg.genes = 300;
    cfg.hidden = {32, 16};
    cfg.latent = 4;
    cfg.dropout = 0.1;
    cfg.likelihood = {kind, Dispersion::gene};
    for (MeanLink mean : {MeanLink::free, MeanLink::library}) {
      cfg.mean = mean;
      Vae<B, float> vae(cfg, 50, 1);
      INFO(to_string(kind) << (mean == MeanLink::library ? ", library mean" : ""));
      check_allocations(allocations_in_steps(vae, data, 50));
    }
  }
}

TEST_CASE("A GMVAE training step allocates nothing", "[gmvae][alloc]") {
  auto data = scvae_test::random_counts(200, 300, 4, 0.9);
  GmvaeConfig cfg;
  cfg.genes = 300;
  cfg.hidden = {32};
  cfg.latent = 4;
  cfg.components = 5;
  cfg.learn_prior_weights = true;
  for (MeanLink mean : {MeanLink::free, MeanLink::library}) {
    cfg.mean = mean;
    Gmvae<B, float> m(cfg, 50, 1);
    INFO((mean == MeanLink::library ? "library mean" : "free mean"));
    check_allocations(allocations_in_steps(m, data, 50));
  }
}
