#pragma once
// Helpers of the CUDA parity tests: device detection (tests SKIP without a GPU), host <-> device
// arrays for both backends, and llm.c-style comparisons that print the first mismatches.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <scvae/backend/cpu.hpp>
#include <scvae/backend/cuda.cuh>
#include <scvae/backend/cuda/device_data.cuh>

namespace cuda_test {

using scvae::Index;

// Empty when the CUDA runtime can use a device; otherwise why not, in the runtime's words (a
// machine whose nvidia-smi lists a GPU can still answer cudaErrorInsufficientDriver: a driver
// older than the toolkit the tests were built with).
inline std::string no_device_reason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  }
  return n > 0 ? std::string() : std::string("no device found");
}
inline bool has_device() { return no_device_reason().empty(); }

// Catch2 2.13 has no SKIP: print, warn and leave the test case (it passes). scripts/gpu_check.sh
// greps for "SKIPPED: no CUDA device" and fails where a GPU was expected.
#define SCVAE_REQUIRE_CUDA_DEVICE()                                                  \
  do {                                                                               \
    const std::string scvae_no_device_ = ::cuda_test::no_device_reason();            \
    if (!scvae_no_device_.empty()) {                                                 \
      std::printf("SKIPPED: no CUDA device (%s)\n", scvae_no_device_.c_str());       \
      WARN("SKIPPED: no CUDA device (" << scvae_no_device_ << ")");                  \
      return;                                                                        \
    }                                                                                \
  } while (0)

// A [rows x cols] matrix with leading dimension ld on the host and its copy on the device.
template <class T>
struct Mat {
  Index rows = 0, cols = 0, ld = 0;
  std::vector<T> host;                      // ld * cols values (padding included)
  scvae::cuda::DeviceBuffer<T> dev;

  Mat() = default;
  Mat(Index r, Index c, Index l = -1) : rows(r), cols(c), ld(l < 0 ? r : l), host(static_cast<std::size_t>(ld * c)) {}
  void upload() {
    dev = scvae::cuda::DeviceBuffer<T>(static_cast<Index>(host.size()));
    scvae::CudaBackend::upload<T>(scvae::VectorView<T>(dev.data(), static_cast<Index>(host.size())), host.data());
  }
  std::vector<T> download() const {
    std::vector<T> out(host.size());
    scvae::CudaBackend::download<T>(out.data(), scvae::VectorView<const T>(dev.data(), static_cast<Index>(host.size())));
    return out;
  }
  scvae::MatrixView<T> h() { return {host.data(), rows, cols, ld}; }
  scvae::MatrixView<T> d() { return {dev.data(), rows, cols, ld}; }
  scvae::VectorView<T> hv() { return {host.data(), rows * cols}; }
  scvae::VectorView<T> dv() { return {dev.data(), rows * cols}; }
};

template <class T>
void fill_normal(std::vector<T>& v, scvae::Rng& rng, double mean = 0, double sd = 1) {
  for (auto& x : v) x = static_cast<T>(mean + sd * rng.normal());
}

// |got - ref| <= atol + rtol |ref| element by element; prints the first 5 mismatches and returns
// their count. NaN must match NaN.
template <class T>
long compare(const std::string& what, const std::vector<T>& ref, const std::vector<T>& got, double atol, double rtol) {
  REQUIRE(ref.size() == got.size());
  long bad = 0;
  double worst = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double r = double(ref[i]), g = double(got[i]);
    if (std::isnan(r) && std::isnan(g)) continue;
    const double err = std::fabs(g - r), tol = atol + rtol * std::fabs(r);
    const bool ok = err <= tol || (r == g);
    if (!ok) {
      if (bad < 5) std::printf("  MISMATCH %s[%zu]: cpu %.9g cuda %.9g (|diff| %.3g > tol %.3g)\n", what.c_str(), i, r, g, err, tol);
      ++bad;
    }
    if (tol > 0) worst = std::max(worst, err / tol);
  }
  if (bad) std::printf("  %s: %ld of %zu mismatch\n", what.c_str(), bad, ref.size());
  return bad;
}
// ||got - ref|| / max(||ref||, tiny): for gradients summed over many terms.
template <class T>
double rel_l2(const std::vector<T>& ref, const std::vector<T>& got, std::size_t first = 0, std::size_t n = std::size_t(-1)) {
  n = std::min(n, ref.size() - first);
  double d = 0, r = 0;
  for (std::size_t i = first; i < first + n; ++i) {
    const double e = double(got[i]) - double(ref[i]);
    d += e * e;
    r += double(ref[i]) * double(ref[i]);
  }
  return std::sqrt(d) / std::max(std::sqrt(r), 1e-30);
}

// A host CSC [rows x cols] batch and its device copy.
struct Csc {
  Index rows = 0, cols = 0;
  std::vector<std::int64_t> ptr{0};
  std::vector<std::int32_t> idx;
  std::vector<float> val;
  scvae::cuda::DeviceBuffer<std::int64_t> dptr;
  scvae::cuda::DeviceBuffer<std::int32_t> didx;
  scvae::cuda::DeviceBuffer<float> dval;

  // Random counts, `density` non-zero; a few large counts; optionally explicit stored zeros.
  static Csc random(Index rows, Index cols, double density, scvae::Rng& rng, bool stored_zeros = false) {
    Csc c;
    c.rows = rows;
    c.cols = cols;
    for (Index j = 0; j < cols; ++j) {
      for (Index g = 0; g < rows; ++g) {
        if (rng.uniform() >= density) continue;
        c.idx.push_back(static_cast<std::int32_t>(g));
        const double u = rng.uniform();
        float v = static_cast<float>(1 + rng.below(u < 0.9 ? 5 : (u < 0.99 ? 60 : 3000)));
        if (stored_zeros && rng.uniform() < 0.02) v = 0.f;
        c.val.push_back(v);
      }
      c.ptr.push_back(static_cast<std::int64_t>(c.idx.size()));
    }
    c.upload();
    return c;
  }
  // A copy of the host arrays (not yet uploaded).
  Csc host_copy() const {
    Csc c;
    c.rows = rows;
    c.cols = cols;
    c.ptr = ptr;
    c.idx = idx;
    c.val = val;
    return c;
  }
  void upload() {
    dptr = scvae::cuda::DeviceBuffer<std::int64_t>(static_cast<Index>(ptr.size()));
    didx = scvae::cuda::DeviceBuffer<std::int32_t>(static_cast<Index>(std::max<std::size_t>(idx.size(), 1)));
    dval = scvae::cuda::DeviceBuffer<float>(static_cast<Index>(std::max<std::size_t>(val.size(), 1)));
    scvae::CudaBackend::upload<std::int64_t>({dptr.data(), static_cast<Index>(ptr.size())}, ptr.data());
    scvae::CudaBackend::upload<std::int32_t>({didx.data(), static_cast<Index>(idx.size())}, idx.data());
    scvae::CudaBackend::upload<float>({dval.data(), static_cast<Index>(val.size())}, val.data());
  }
  scvae::CscView<float> h() const { return {ptr.data(), idx.data(), val.data(), rows, cols}; }
  scvae::CscView<float> d() const { return {dptr.data(), didx.data(), dval.data(), rows, cols}; }
};

// The six likelihood variants the parity tests run.
struct Spec {
  scvae::LikelihoodSpec spec;
  const char* name;
};
inline const Spec kSpecs[] = {{{scvae::Likelihood::poisson, scvae::Dispersion::gene_cell}, "poisson"},
                              {{scvae::Likelihood::nb, scvae::Dispersion::gene_cell}, "nb gene-cell"},
                              {{scvae::Likelihood::nb, scvae::Dispersion::gene}, "nb gene"},
                              {{scvae::Likelihood::zip, scvae::Dispersion::gene_cell}, "zip"},
                              {{scvae::Likelihood::zinb, scvae::Dispersion::gene_cell}, "zinb gene-cell"},
                              {{scvae::Likelihood::zinb, scvae::Dispersion::gene}, "zinb gene"}};

}  // namespace cuda_test
