# scvae::cuda: the CUDA backend (include/scvae/backend/cuda.cuh, train/cuda_trainer.cuh),
# header-only like scvae::scvae, compiled by nvcc in the consumer's .cu files.
# Included by the top-level CMakeLists.txt when SCVAE_ENABLE_CUDA is ON.
#
# Architectures: if the caller has not chosen (-DCMAKE_CUDA_ARCHITECTURES=...), build for
# Ampere (80) and Hopper (90: H100 / H200). This only initialises scvae's own targets (tests,
# benchmark); an INTERFACE target imposes nothing on consumers.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES 80 90)
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

if(NOT DEFINED CMAKE_CUDA_STANDARD)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
endif()

add_library(scvae_cuda INTERFACE)
add_library(scvae::cuda ALIAS scvae_cuda)
target_link_libraries(scvae_cuda INTERFACE scvae CUDA::cudart CUDA::cublas CUDA::curand)
target_compile_features(scvae_cuda INTERFACE cuda_std_17)
# Nothing numeric is pushed onto consumers: no --use_fast_math (it would change the lgamma-heavy
# likelihood numerics), no relaxed constexpr, no extended lambdas (the kernels need none).
set_target_properties(scvae_cuda PROPERTIES EXPORT_NAME cuda)

if(SCVAE_INSTALL)
  # Exported by cmake/scvae_install.cmake with the other targets; scvaeConfig.cmake then needs
  # find_dependency(CUDAToolkit) (guarded: only when the exported set contains scvae::cuda).
  install(TARGETS scvae_cuda EXPORT scvaeTargets)
endif()
