// `scvae train --device cuda`: the same fit as model_runner.cpp on the CUDA backend. The
// training matrix is uploaded once and batches are gathered on the device (CudaTrainer);
// checkpoints are the same files as on the CPU, so `evaluate` and the analysis after training
// load them on the CPU. Compiled only where scvae::cuda exists (examples/cli.cmake).
#include <cuda_runtime_api.h>

#include <string>
#include <type_traits>

#include <scvae/backend/cuda.cuh>
#include <scvae/models/gmvae.hpp>
#include <scvae/models/vae.hpp>
#include <scvae/train/cuda_trainer.cuh>

#include "model_runner.hpp"

namespace scvae_cli {

namespace {

using CudaVae = scvae::Vae<scvae::CudaBackend, float>;
using CudaGmvae = scvae::Gmvae<scvae::CudaBackend, float>;

template <class Model>
FitResult fit_cuda_impl(const typename Model::Config& cfg, const FitSettings& fit, const Dataset& data,
                        const EpochCallback& on_epoch, Progress* progress) {
  Model model(cfg, fit.batch_size, fit.seed);
  const scvae::cuda::DeviceCsr device(data.counts);  // the whole matrix, once
  scvae::CudaTrainer<Model> trainer(
      model, make_train_options(fit, std::is_same<Model, CudaGmvae>::value, on_epoch, progress));
  const double t0 = now_seconds();
  const auto r = trainer.fit(data.counts, device, data.split.train, data.split.validation);
  return make_fit_result(r, now_seconds() - t0, progress);
}

}  // namespace

// A clear message instead of the first failing CUDA call deep inside the model's constructor.
void require_cuda_device() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0)
    throw UsageError(std::string("--device cuda: no usable CUDA device (") +
                     (e != cudaSuccess ? cudaGetErrorString(e) : "no device found") + "); use --device cpu");
}

double cuda_device_memory_bytes() {
  std::size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
    (void)cudaGetLastError();  // not left for the next CUDA call to report
    return 0;
  }
  return double(total_bytes);
}

FitResult fit_model_cuda(const ModelSpec& spec, const FitSettings& fit, const Dataset& data,
                         const EpochCallback& on_epoch, Progress* progress) {
  require_cuda_device();
  if (spec.kind == "vae")
    return fit_cuda_impl<CudaVae>(vae_config(spec, data.counts.n_cols), fit, data, on_epoch, progress);
  return fit_cuda_impl<CudaGmvae>(gmvae_config(spec, data.counts.n_cols), fit, data, on_epoch, progress);
}

}  // namespace scvae_cli
