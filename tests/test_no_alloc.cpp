// The training step does not allocate: after the first batches (per-thread scratch of the
// likelihood pass, first-touch of reserved buffers), gathering a batch, forward, backward and the
// Adam step run with zero heap allocations. Counted by replacing the global operator new.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

#include <scvae/gmvae.hpp>

#include "test_util.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

// Every form of the global allocation functions is replaced, so that each allocation and its
// release go through the same pair (malloc/free): under AddressSanitizer a library's nothrow or
// array new reaching ASan's operator new and then our free would be an alloc-dealloc mismatch.
namespace {
void* counted_alloc(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* counted_aligned_alloc(std::size_t n, std::align_val_t al) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
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

template <class Model>
long allocations_in_steps(Model& model, const CsrMatrix& data, Index bs) {
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
  const long before = g_allocations.load();
  for (Index b = 0; b < data.n_rows / bs; ++b) step(b);
  return g_allocations.load() - before;
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
    Vae<B, float> vae(cfg, 50, 1);
    INFO(to_string(kind));
    CHECK(allocations_in_steps(vae, data, 50) == 0);
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
  Gmvae<B, float> m(cfg, 50, 1);
  CHECK(allocations_in_steps(m, data, 50) == 0);
}
