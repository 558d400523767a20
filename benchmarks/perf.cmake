# Performance targets (docs/performance.md). SCVAE_BENCH_NATIVE compiles the benchmark programs
# (never the library's consumers) with -march=native; figures state which build they come from.
option(SCVAE_BENCH_NATIVE "Compile scvae's performance benchmarks with -march=native" OFF)
if(SCVAE_BENCH_NATIVE)
  foreach(t bench_gemm bench_heads bench_train train_benchmark)
    if(TARGET ${t})
      target_compile_options(${t} PRIVATE -march=native)
    endif()
  endforeach()
endif()

# "Before" figure of the head pass: the same benchmark on the scalar reference pass.
if(TARGET bench_heads)
  add_executable(bench_heads_scalar bench_heads.cpp)
  target_link_libraries(bench_heads_scalar PRIVATE scvae::scvae benchmark::benchmark)
  target_compile_definitions(bench_heads_scalar PRIVATE SCVAE_SCALAR_HEADS)
  if(SCVAE_BENCH_NATIVE)
    target_compile_options(bench_heads_scalar PRIVATE -march=native)
  endif()
endif()
