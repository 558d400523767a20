#pragma once
// Run-time choice of the vector instruction set for scvae's hottest non-GEMM CPU loops.
//
// A header-only library is compiled with its consumer's flags, usually the distribution's
// default (x86-64: SSE2, 4 floats a vector, no FMA). The loops that dominate a training step
// beside the GEMMs (the likelihood pass's two sweeps, the sparse first layer; Adam's update,
// written with intrinsics in detail/adam_kernel.hpp) are therefore also compiled for AVX2+FMA
// and AVX-512 through function target attributes, and the widest
// variant the CPU runs is chosen once (docs/performance.md has the measured gains). On other
// architectures or compilers, under nvcc, when the consumer already targets AVX-512, or with
// SCVAE_NO_DISPATCH, only the plain variant exists.
//
// Pattern: a struct Body with an always-inline static run(args...); isa_run<Body>(isa, args...)
// calls one of three wrappers, each compiling Body::run (and the always-inline helpers it calls)
// at its width. Variants differ only in rounding (FMA contraction); a machine always takes the
// same one, so results stay reproducible run to run.
//
// Check a new body's variants in the binary (objdump: zmm / ymm registers), not only a -march
// build: GCC 12 vectorised the x > 0 sweep under -march=native but left its AVX2 and AVX-512
// variants scalar because of an `omp simd reduction` clause (detail/nonzero_sweep.hpp).

#include <cstdlib>
#include <string>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(__CUDACC__) && !defined(__AVX512F__) && !defined(SCVAE_NO_DISPATCH)
#define SCVAE_ISA_DISPATCH 1
#define SCVAE_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define SCVAE_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
#else
#define SCVAE_ISA_DISPATCH 0
#endif

namespace scvae {
namespace detail {

enum CpuIsa : int { isa_default = 0, isa_avx2 = 1, isa_avx512 = 2 };

// Whether this CPU (and build) can run a variant (tests check every variant the machine runs).
inline bool cpu_supports_isa(int isa) {
#if SCVAE_ISA_DISPATCH
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == isa_avx2) return avx2;
  if (isa == isa_avx512)
    return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
#endif
  return isa == isa_default;
}

// The instruction set the dispatched loops use on this machine: the widest it supports, decided
// once. SCVAE_ISA=default|avx2 in the environment caps it (comparisons, debugging).
inline int cpu_isa() {
  static const int isa = [] {
    int level = cpu_supports_isa(isa_avx512) ? isa_avx512 : cpu_supports_isa(isa_avx2) ? isa_avx2 : isa_default;
    if (const char* cap = std::getenv("SCVAE_ISA")) {
      const std::string c(cap);
      if (c == "default") level = isa_default;
      else if (c == "avx2" && level > isa_avx2) level = isa_avx2;
    }
    return level;
  }();
  return isa;
}

// Forced inlining of a Body::run into each width's wrapper (without it the body would be
// compiled once, at the consumer's width).
#if defined(__GNUC__) || defined(__clang__)
#define SCVAE_ISA_BODY inline __attribute__((always_inline))
#else
#define SCVAE_ISA_BODY inline
#endif

template <class Body, class... A>
decltype(auto) isa_variant_default(const A&... a) {
  return Body::run(a...);
}
#if SCVAE_ISA_DISPATCH
template <class Body, class... A>
SCVAE_TARGET_AVX2 decltype(auto) isa_variant_avx2(const A&... a) {
  return Body::run(a...);
}
template <class Body, class... A>
SCVAE_TARGET_AVX512 decltype(auto) isa_variant_avx512(const A&... a) {
  return Body::run(a...);
}
#endif

// Body::run(args...) at the width of isa (a CpuIsa: cpu_isa() for the machine's; tests pass each
// variant the CPU supports). Levels this build lacks fall back to the consumer's own flags.
template <class Body, class... A>
decltype(auto) isa_run(int isa, const A&... a) {
#if SCVAE_ISA_DISPATCH
  if (isa == isa_avx512) return isa_variant_avx512<Body>(a...);
  if (isa == isa_avx2) return isa_variant_avx2<Body>(a...);
#endif
  (void)isa;
  return isa_variant_default<Body>(a...);
}

}  // namespace detail
}  // namespace scvae
