#pragma once
// DeviceBuffer<T>: an owning, movable, non-copyable array in device memory (plain cudaMalloc,
// never managed memory). Zero-filled at allocation, as CpuBackend's std::vector is.
#include <utility>

#include "context.cuh"

namespace scvae {
namespace cuda {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(Index n) : n_(n) {
    SCVAE_CHECK(n >= 0, "DeviceBuffer: negative size");
    if (n > 0) {
      // The context first: a throwing constructor runs no destructor, so nothing may be
      // allocated yet when Context::get() fails (e.g. cublasCreate on a full GPU).
      auto& ctx = Context::get();
      SCVAE_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p_), static_cast<std::size_t>(n) * sizeof(T)));
      const cudaError_t e = cudaMemsetAsync(p_, 0, static_cast<std::size_t>(n) * sizeof(T), ctx.stream());
      if (e != cudaSuccess) {
        release();
        SCVAE_CUDA_CHECK(e);
      }
    }
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }

  T* data() { return p_; }
  const T* data() const { return p_; }
  std::size_t size() const { return static_cast<std::size_t>(n_); }
  bool empty() const { return n_ == 0; }

 private:
  void release() noexcept {
    if (p_) cudaFree(p_);  // cudaFree waits for work in flight; errors at exit are ignored
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  Index n_ = 0;
};

}  // namespace cuda
}  // namespace scvae
