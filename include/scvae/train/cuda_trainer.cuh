#pragma once
// Trainer for models on the CUDA backend, with the data resident on the device: the training
// matrix is uploaded once (cuda::DeviceCsr) and every minibatch is gathered on the device
// (cuda::DeviceBatch), so no batch crosses PCIe. Same options, same seeded shuffling and noise
// streams, same metrics, checkpoints, early stopping and divergence checks as Trainer: both run
// TrainerCore's loop (train/trainer.hpp); only the batch source differs.
#include <string>
#include <type_traits>
#include <vector>

#include "../backend/cuda.cuh"
#include "../backend/cuda/device_data.cuh"
#include "trainer.hpp"

namespace scvae {

namespace cuda {

// TrainerCore's batch source on the GPU: the matrix's device copy, gathered on the device.
struct DeviceBatches {
  using Batch = DeviceBatch;
  static constexpr const char* kName = "CudaTrainer";  // in error messages
  const DeviceCsr& device;
  Index rows() const { return device.rows(); }
  Index cols() const { return device.cols(); }
  void gather(Batch& b, const Index* rows, Index n, InputTransform tf) const { b.gather(device, rows, n, tf); }
  void end_epoch() const { CudaBackend::synchronize(); }  // the epoch's time includes its kernels
};

}  // namespace cuda

template <class Model>
class CudaTrainer : public TrainerCore<Model, cuda::DeviceBatches> {
 public:
  static_assert(std::is_same<typename Model::Backend, CudaBackend>::value,
                "CudaTrainer trains models on the CUDA backend");
  using TrainerCore<Model, cuda::DeviceBatches>::TrainerCore;

  // data: the host matrix (gene means, checks); device: the same matrix on the device.
  TrainResult fit(const CsrMatrix& data, const cuda::DeviceCsr& device, const std::vector<Index>& train_rows,
                  const std::vector<Index>& validation_rows = {}) {
    SCVAE_CHECK(device.rows() == data.n_rows && device.cols() == data.n_cols && device.nnz() == data.nnz(),
                "CudaTrainer: the device matrix is not the host matrix");
    return this->fit_from(data, cuda::DeviceBatches{device}, train_rows, validation_rows);
  }
  // Mean ELBO, log-likelihood and KL per cell over `rows` (evaluation mode, seeded noise). The
  // checks of Trainer::evaluate: the matrix was validated when the DeviceCsr was made (its
  // constructor runs CsrMatrix::validate before uploading), then no rows, the gene count against
  // the model and the row ids are checked here.
  SplitMetrics evaluate(const cuda::DeviceCsr& device, const std::vector<Index>& rows, std::uint64_t seed) {
    SCVAE_CHECK(!rows.empty(), "CudaTrainer.evaluate: no rows to evaluate");
    return this->evaluate_from(cuda::DeviceBatches{device}, rows, seed);
  }
};

}  // namespace scvae
