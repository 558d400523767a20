#pragma once
// The per-thread CUDA context: one stream, one cuBLAS handle bound to it, and a small scratch
// area for reductions, per (host thread, device). Created lazily on the first backend call of a
// thread on the current device; destroyed at thread exit.
//
// Why per thread: cuBLAS handles must not be shared by threads issuing work concurrently, and
// one stream per thread keeps every operation of that thread ordered without events. Why a
// non-blocking stream: work of other libraries on the legacy default stream never serialises
// with ours. Every backend call enqueues on this stream; upload, download and the calls that
// return a scalar (sum, sum_squares, all_finite) synchronise it.
//
// Deferred input errors: kernels that read counts record a bad column (unsorted or out-of-range
// row index, negative or non-finite count) in a device status word; it is read with the scalar of the
// next sum / sum_squares / all_finite (or check_status()) and thrown as scvae::InputError
// there, so a training step reports it before it returns, without an extra synchronisation.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common.cuh"

namespace scvae {
namespace cuda {

// Optional timing of kernels by name (benchmarks): CUDA events around each timed launch, with a
// work count per launch (bytes moved for memory-bound kernels, flops for GEMMs).
class KernelTimers {
 public:
  struct Entry {
    std::string name;
    cudaEvent_t start, stop;
    double work;
  };
  bool enabled = false;

  ~KernelTimers() {
    for (auto& e : pool_) {
      cudaEventDestroy(e.first);
      cudaEventDestroy(e.second);
    }
  }
  // Returns the entry index to stop(), or -1 when disabled.
  int start(const char* name, double work, cudaStream_t s) {
    if (!enabled) return -1;
    if (used_ == pool_.size()) {
      cudaEvent_t a, b;
      SCVAE_CUDA_CHECK(cudaEventCreate(&a));
      SCVAE_CUDA_CHECK(cudaEventCreate(&b));
      pool_.emplace_back(a, b);
    }
    entries_.push_back({name, pool_[used_].first, pool_[used_].second, work});
    ++used_;
    SCVAE_CUDA_CHECK(cudaEventRecord(entries_.back().start, s));
    return static_cast<int>(entries_.size() - 1);
  }
  void stop(int id, cudaStream_t s) {
    if (id >= 0) SCVAE_CUDA_CHECK(cudaEventRecord(entries_[id].stop, s));
  }
  // Milliseconds and work per name since the last reset (synchronises on the events).
  struct Total {
    std::string name;
    double ms = 0, work = 0;
    long calls = 0;
  };
  std::vector<Total> totals() {
    std::vector<Total> out;
    for (auto& e : entries_) {
      SCVAE_CUDA_CHECK(cudaEventSynchronize(e.stop));
      float ms = 0;
      SCVAE_CUDA_CHECK(cudaEventElapsedTime(&ms, e.start, e.stop));
      Total* t = nullptr;
      for (auto& o : out)
        if (o.name == e.name) t = &o;
      if (!t) {
        out.push_back({e.name});
        t = &out.back();
      }
      t->ms += ms;
      t->work += e.work;
      ++t->calls;
    }
    return out;
  }
  void reset() {
    entries_.clear();
    used_ = 0;
  }

 private:
  std::vector<std::pair<cudaEvent_t, cudaEvent_t>> pool_;
  std::vector<Entry> entries_;
  std::size_t used_ = 0;
};

class Context {
 public:
  static constexpr int kMaxPartials = 1024;  // blocks of the first reduction pass

  // The calling thread's context on the current device.
  static Context& get() {
    thread_local std::vector<std::unique_ptr<Context>> per_device;
    int dev = 0;
    SCVAE_CUDA_CHECK(cudaGetDevice(&dev));
    if (static_cast<int>(per_device.size()) <= dev) per_device.resize(static_cast<std::size_t>(dev) + 1);
    if (!per_device[dev]) per_device[dev].reset(new Context(dev));
    return *per_device[dev];
  }

  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context() { destroy(); }

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  int sm_count() const { return sm_count_; }
  // Grid size for grid-stride loops over n elements: enough blocks to fill the GPU.
  unsigned int grid(Index n, int threads = detail::kThreads) const {
    return detail::blocks_for(n, threads, static_cast<Index>(sm_count_) * 32);
  }
  void synchronize() const { SCVAE_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  // Device scratch: kMaxPartials doubles of per-block partials, then the result slots.
  double* partials() const { return scratch_; }
  double* results() const { return scratch_ + kMaxPartials; }  // 4 doubles
  int* status() const { return reinterpret_cast<int*>(scratch_ + kMaxPartials + 4); }

  // Copies the first `n` result slots and the status word back (synchronises), clears the status,
  // and throws InputError if a kernel recorded bad input since the last check.
  void read_results(double* out, int n) {
    struct {
      double r[4];
      int status[2];
    } host{};
    SCVAE_CUDA_CHECK(cudaMemcpyAsync(&host, results(), sizeof(host), cudaMemcpyDeviceToHost, stream_));
    synchronize();
    for (int i = 0; i < n; ++i) out[i] = host.r[i];
    raise_status(host.status[0]);
  }
  void check_status() {
    int s = 0;
    SCVAE_CUDA_CHECK(cudaMemcpyAsync(&s, status(), sizeof(int), cudaMemcpyDeviceToHost, stream_));
    synchronize();
    raise_status(s);
  }

  // Host pointer check of CscViews (cached on the last pointer seen, so a batch costs one query).
  bool is_device_pointer(const void* p) {
    if (p == last_checked_) return true;
    cudaPointerAttributes a{};
    const cudaError_t e = cudaPointerGetAttributes(&a, p);
    if (e == cudaErrorInvalidValue) {  // an unknown pointer (CUDA < 11): a host one
      cudaGetLastError();
      return false;
    }
    // Anything else is not about p: a fault of an earlier kernel surfaces here as itself, not
    // as "the batch must be in device memory".
    SCVAE_CUDA_CHECK(e);
    const bool ok = a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
    if (ok) last_checked_ = p;
    return ok;
  }

  // A device work area of at least `bytes`, grown on demand and kept (the first call of a shape
  // allocates; later calls of the same or smaller size do not). Valid until the next call.
  void* workspace(std::size_t bytes) {
    if (bytes > ws_size_) {
      if (ws_) SCVAE_CUDA_CHECK(cudaFree(ws_));
      ws_ = nullptr;
      ws_size_ = 0;
      SCVAE_CUDA_CHECK(cudaMalloc(&ws_, bytes));
      ws_size_ = bytes;
    }
    return ws_;
  }

  KernelTimers timers;

 private:
  explicit Context(int dev) : device_(dev) {
    try {  // a throwing constructor runs no destructor: release what was made so far
      SCVAE_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, dev));
      SCVAE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
      SCVAE_CUDA_CHECK(cublasCreate(&cublas_));
      SCVAE_CUDA_CHECK(cublasSetStream(cublas_, stream_));
      // Default math: FP32 GEMMs stay FP32 (no TF32), so results are comparable with the CPU.
      SCVAE_CUDA_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
      const std::size_t bytes = (kMaxPartials + 4) * sizeof(double) + 2 * sizeof(int);
      SCVAE_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&scratch_), bytes));
      SCVAE_CUDA_CHECK(cudaMemsetAsync(scratch_, 0, bytes, stream_));
    } catch (...) {
      destroy();
      throw;
    }
  }
  void destroy() noexcept {
    // Errors are ignored: at process exit the runtime may already be unloading.
    if (ws_) cudaFree(ws_);
    if (scratch_) cudaFree(scratch_);
    if (cublas_) cublasDestroy(cublas_);
    if (stream_) cudaStreamDestroy(stream_);
    ws_ = nullptr;
    scratch_ = nullptr;
    cublas_ = nullptr;
    stream_ = nullptr;
  }
  void raise_status(int s) {
    if (s == 0) return;
    SCVAE_CUDA_CHECK(cudaMemsetAsync(status(), 0, sizeof(int), stream_));
    SCVAE_CHECK(false, "likelihood/counts: counts column " + std::to_string(s - 1) +
                           " has unsorted/out-of-range row indices or a negative or non-finite count");
  }

  int device_ = 0;
  int sm_count_ = 1;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  double* scratch_ = nullptr;
  void* ws_ = nullptr;
  std::size_t ws_size_ = 0;
  const void* last_checked_ = nullptr;
};

// Times a region of work on the context's stream when ctx.timers.enabled.
class ScopedTimer {
 public:
  ScopedTimer(Context& c, const char* name, double work = 0)
      : c_(c), id_(c.timers.start(name, work, c.stream())) {}
  ~ScopedTimer() {
    if (id_ >= 0) c_.timers.stop(id_, c_.stream());
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Context& c_;
  int id_;
};

}  // namespace cuda
}  // namespace scvae
