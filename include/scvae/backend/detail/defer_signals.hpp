#pragma once
// Asynchronous signals held back while oneDNN's GEMM kernels run (used by detail/dnnl_gemm.hpp).
//
// Why: oneDNN's generated f32 GEMM kernels (jit_avx512_common_gemm_f32, jit_avx_gemm_f32) point
// the stack pointer into a heap workspace while they run. A signal handled on a thread inside one
// has its frame (a few KB with the AVX-512 state) written by the kernel below that stack pointer,
// i.e. over the heap: glibc aborts later ("corrupted size vs. prev_size") or the numbers are
// silently wrong. Any handler does it: the command line's Ctrl-C, Python's and R's SIGINT
// handlers, a sampling profiler's SIGPROF. Reported as oneDNN issue #4845, fixed upstream in 2026
// (pull request #4855); Debian 12 ships oneDNN 2.6.3. Measured here: a 37 us SIGALRM timer
// aborts a loop of [465 x 16] x [16 x 100]-shaped dnnl_sgemm calls within its first 500 calls,
// and never with the signal blocked or handled on sigaltstack (tests/test_backend.cpp checks).
//
// How: for the call, the calling thread blocks every asynchronous signal (all but the ones a
// fault raises: SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, and SIGABRT), and OpenMP's worker
// threads, on which oneDNN shares a product out, block them for good (once per team size). The
// kernel then delivers a process-wide signal to a thread that is not in oneDNN, or holds it until
// the GEMM returns (at most one GEMM, milliseconds): nothing is lost, and handlers run as before.
// Cost: two pthread_sigmask calls per oneDNN product, nothing measurable in an NB epoch
// (docs/performance.md).
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <signal.h>
#define SCVAE_DEFER_SIGNALS 1
#else
#define SCVAE_DEFER_SIGNALS 0
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

namespace scvae::detail {

#if SCVAE_DEFER_SIGNALS
// Every signal but those a fault raises (blocking those would turn a crash into a hang or an
// unhandled kill); SIGKILL and SIGSTOP cannot be blocked and are ignored by pthread_sigmask.
inline const sigset_t& async_signals() {
  static const sigset_t set = [] {
    sigset_t s;
    sigfillset(&s);
    const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
    for (int sig : faults) sigdelset(&s, sig);
    return s;
  }();
  return set;
}
#endif

// OpenMP's workers of the calling thread's team block the asynchronous signals from now on. A
// worker made later inherits the mask of the thread that makes it, so this reruns when the team
// may grow (omp_get_max_threads() above the last size done on this thread).
inline void block_async_signals_in_omp_workers() {
#if SCVAE_DEFER_SIGNALS && defined(_OPENMP)
  thread_local int done = 1;
  const int n = omp_get_max_threads();
  if (n <= done || omp_in_parallel()) return;
#pragma omp parallel num_threads(n)
  if (omp_get_thread_num() != 0) pthread_sigmask(SIG_BLOCK, &async_signals(), nullptr);
  done = n;
#endif
}

// Scope in which the calling thread holds asynchronous signals back (restored on exit, pending
// ones are then delivered).
class DeferAsyncSignals {
 public:
  DeferAsyncSignals() {
#if SCVAE_DEFER_SIGNALS
    block_async_signals_in_omp_workers();
    pthread_sigmask(SIG_BLOCK, &async_signals(), &old_);
#endif
  }
  ~DeferAsyncSignals() {
#if SCVAE_DEFER_SIGNALS
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
#endif
  }
  DeferAsyncSignals(const DeferAsyncSignals&) = delete;
  DeferAsyncSignals& operator=(const DeferAsyncSignals&) = delete;

 private:
#if SCVAE_DEFER_SIGNALS
  sigset_t old_;
#endif
};

}  // namespace scvae::detail
