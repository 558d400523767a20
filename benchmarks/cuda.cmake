# bench_cuda: the GPU reference workload (NB VAE on an MBC-20k-like 16,200 x 27,998 matrix):
# epoch time, the epoch's cuBLAS GEMM time, and each fused likelihood head's bandwidth.
# A plain program (not Google Benchmark): run build/benchmarks/bench_cuda on a GPU machine.
if(TARGET scvae::cuda)
  add_executable(bench_cuda ${CMAKE_CURRENT_SOURCE_DIR}/bench_cuda.cu)
  target_link_libraries(bench_cuda PRIVATE scvae::cuda)
  target_compile_definitions(bench_cuda PRIVATE EIGEN_NO_CUDA)
  if(OpenMP_CXX_FOUND)
    target_compile_options(bench_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fopenmp>)
    target_link_libraries(bench_cuda PRIVATE OpenMP::OpenMP_CXX)
  endif()
endif()
