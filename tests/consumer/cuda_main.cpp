// Links scvae::cuda (CUDA::cudart, cublas, curand) through the installed package.
#include <cstdio>
#include <cuda_runtime_api.h>
#include <scvae/core/view.hpp>

int main() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  std::printf("cuda consumer ok: %s, %d device(s)\n", e == cudaSuccess ? "runtime found" : cudaGetErrorString(e),
              e == cudaSuccess ? n : 0);
  return 0;
}
