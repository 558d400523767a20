#pragma once
// Device-resident training data for the CUDA backend: the whole cells x genes CSR matrix is
// uploaded once (DeviceCsr), and each minibatch is gathered ON THE DEVICE into a [genes x batch]
// CSC batch (DeviceBatch: raw counts and the transformed encoder input, same sparsity), whose
// views hold device pointers and go straight into Vae / Gmvae. Per batch only the row ids and
// the batch's column offsets (computed on the host from the CSR offsets kept there) cross PCIe.
// The result is what gather_batch() (data/csr_matrix.hpp) builds on the host, element for element:
// the log1p input is float(log1p(double(count))) on both (the host reads small integers from a
// table of that expression), so the two agree bit for bit but for the rare double result within
// an ulp of a float rounding boundary where the two libraries' double log1p differ.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../../data/csr_matrix.hpp"
#include "buffer.cuh"

namespace scvae {
namespace cuda {
namespace detail {

// One block per batch column j: copies CSR row rows[j] into the batch and sums its counts.
template <int Threads>
__global__ void gather_kernel(const std::int64_t* __restrict__ indptr, const std::int32_t* __restrict__ indices,
                              const float* __restrict__ values, const std::int64_t* __restrict__ rows /*[n]*/,
                              const std::int64_t* __restrict__ ptr /*[n+1]*/, std::int32_t* __restrict__ idx,
                              float* __restrict__ counts, float* __restrict__ input, float* __restrict__ library,
                              bool log1p_input) {
  __shared__ float smem[32];
  const std::int64_t r = rows[blockIdx.x];
  const std::int64_t src = indptr[r], n = indptr[r + 1] - src, dst = ptr[blockIdx.x];
  float lib = 0.f;
  for (std::int64_t t = threadIdx.x; t < n; t += Threads) {
    const float v = values[src + t];
    idx[dst + t] = indices[src + t];
    counts[dst + t] = v;
    input[dst + t] = log1p_input ? static_cast<float>(log1p(static_cast<double>(v))) : v;
    lib += v;
  }
  lib = block_sum(lib, smem);
  if (threadIdx.x == 0) library[blockIdx.x] = lib;
}

}  // namespace detail

// The training matrix on the device (uploaded once; the host keeps only the row offsets).
// The matrix is validated before anything is uploaded (CsrMatrix::validate, O(nnz): offsets,
// index range and order, counts >= 0 and finite; its messages, prefixed "DeviceCsr"), so the
// device gathers can trust it and CudaTrainer::evaluate, which sees only this copy, is given
// checked data as Trainer::evaluate checks its matrix.
class DeviceCsr {
 public:
  DeviceCsr() = default;
  explicit DeviceCsr(const CsrMatrix& m) : rows_(m.n_rows), cols_(m.n_cols) {
    m.validate("DeviceCsr");  // before any device call: a bad matrix costs no allocation
    host_indptr_ = m.indptr;
    indptr_ = DeviceBuffer<std::int64_t>(static_cast<Index>(m.indptr.size()));
    indices_ = DeviceBuffer<std::int32_t>(static_cast<Index>(m.indices.size()));
    values_ = DeviceBuffer<float>(static_cast<Index>(m.values.size()));
    auto& ctx = Context::get();
    copy_up(indptr_.data(), m.indptr.data(), m.indptr.size(), ctx);
    copy_up(indices_.data(), m.indices.data(), m.indices.size(), ctx);
    copy_up(values_.data(), m.values.data(), m.values.size(), ctx);
    ctx.synchronize();
  }
  Index rows() const { return rows_; }
  Index cols() const { return cols_; }
  std::int64_t nnz() const { return host_indptr_.empty() ? 0 : host_indptr_.back(); }
  std::int64_t row_nnz(Index r) const { return host_indptr_[r + 1] - host_indptr_[r]; }
  const std::int64_t* indptr() const { return indptr_.data(); }
  const std::int32_t* indices() const { return indices_.data(); }
  const float* values() const { return values_.data(); }
  std::size_t device_bytes() const {
    return indptr_.size() * sizeof(std::int64_t) + indices_.size() * sizeof(std::int32_t) + values_.size() * sizeof(float);
  }

 private:
  template <class U>
  static void copy_up(U* dst, const U* src, std::size_t n, Context& ctx) {
    if (n) SCVAE_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(U), cudaMemcpyHostToDevice, ctx.stream()));
  }
  Index rows_ = 0, cols_ = 0;
  std::vector<std::int64_t> host_indptr_;
  DeviceBuffer<std::int64_t> indptr_;
  DeviceBuffer<std::int32_t> indices_;
  DeviceBuffer<float> values_;
};

// A gathered minibatch in device memory: [genes x batch] CSC, like CscBatch.
class DeviceBatch {
 public:
  DeviceBatch() = default;
  // Buffers for up to max_cols cells and max_nnz stored counts (see max_batch_nnz()).
  void reserve(Index max_cols, std::int64_t max_nnz) {
    if (max_cols > cap_cols_) {
      ptr_ = DeviceBuffer<std::int64_t>(max_cols + 1);
      rows_dev_ = DeviceBuffer<std::int64_t>(max_cols);
      library_ = DeviceBuffer<float>(max_cols);
      cap_cols_ = max_cols;
    }
    if (max_nnz > cap_nnz_) {
      idx_ = DeviceBuffer<std::int32_t>(static_cast<Index>(max_nnz));
      counts_ = DeviceBuffer<float>(static_cast<Index>(max_nnz));
      input_ = DeviceBuffer<float>(static_cast<Index>(max_nnz));
      cap_nnz_ = max_nnz;
    }
  }
  // Gathers rows[0..n) of m (host row ids) on the device. Grows the buffers if needed.
  void gather(const DeviceCsr& m, const Index* rows, Index n, InputTransform tf) {
    SCVAE_CHECK(n >= 0, "DeviceBatch::gather: negative batch size");
    host_.assign(static_cast<std::size_t>(2 * n + 1), 0);
    std::int64_t* hptr = host_.data();  // [n + 1] batch offsets, then [n] row ids
    for (Index j = 0; j < n; ++j) {
      SCVAE_CHECK(rows[j] >= 0 && rows[j] < m.rows(), "DeviceBatch::gather: row index out of range");
      hptr[j + 1] = hptr[j] + m.row_nnz(rows[j]);
      hptr[n + 1 + j] = rows[j];
    }
    reserve(n, hptr[n]);
    rows_ = m.cols();
    cols_ = n;
    if (n == 0) return;
    auto& ctx = Context::get();
    // Pageable source: the call returns once the host array has been consumed, so host_ can be
    // reused by the next gather without waiting for the device.
    SCVAE_CUDA_CHECK(cudaMemcpyAsync(ptr_.data(), hptr, static_cast<std::size_t>(n + 1) * sizeof(std::int64_t),
                                     cudaMemcpyHostToDevice, ctx.stream()));
    SCVAE_CUDA_CHECK(cudaMemcpyAsync(rows_dev_.data(), hptr + n + 1, static_cast<std::size_t>(n) * sizeof(std::int64_t),
                                     cudaMemcpyHostToDevice, ctx.stream()));
    constexpr int kT = 256;
    detail::gather_kernel<kT><<<static_cast<unsigned int>(n), kT, 0, ctx.stream()>>>(
        m.indptr(), m.indices(), m.values(), rows_dev_.data(), ptr_.data(), idx_.data(), counts_.data(), input_.data(),
        library_.data(), tf == InputTransform::log1p);
    SCVAE_CUDA_LAUNCH_CHECK("gather");
  }
  CscView<float> counts_view() const { return {ptr_.data(), idx_.data(), counts_.data(), rows_, cols_}; }
  CscView<float> input_view() const { return {ptr_.data(), idx_.data(), input_.data(), rows_, cols_}; }
  VectorView<const float> library() const { return {library_.data(), cols_}; }  // [batch] total counts
  Index rows() const { return rows_; }
  Index cols() const { return cols_; }

 private:
  Index rows_ = 0, cols_ = 0, cap_cols_ = 0;
  std::int64_t cap_nnz_ = 0;
  std::vector<std::int64_t> host_;
  DeviceBuffer<std::int64_t> ptr_, rows_dev_;
  DeviceBuffer<std::int32_t> idx_;
  DeviceBuffer<float> counts_, input_, library_;
};

}  // namespace cuda
}  // namespace scvae
