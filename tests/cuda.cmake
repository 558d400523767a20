# CUDA tests (tests/cuda/test_cuda_*.cu): CPU-vs-CUDA parity of every backend op and of whole
# training steps, plus a compile check of every CUDA header on its own. Built where
# scvae::cuda exists; without a GPU each test prints "SKIPPED: no CUDA device" and passes.
# Compile time: nvcc is slow on the likelihood kernels, so the tests build for
# SCVAE_CUDA_TEST_ARCHITECTURES (default: the last entry of CMAKE_CUDA_ARCHITECTURES, normally
# 90 = H100/H200; CMake also embeds its PTX, so newer GPUs JIT it). E.g. -DSCVAE_CUDA_TEST_ARCHITECTURES=80
# for an A100.
if(NOT TARGET scvae::cuda)
  return()
endif()

set(_scvae_cuda_default_test_arch "")
foreach(a ${CMAKE_CUDA_ARCHITECTURES})
  string(REGEX REPLACE "-.*" "" a "${a}")
  set(_scvae_cuda_default_test_arch ${a})
endforeach()
set(SCVAE_CUDA_TEST_ARCHITECTURES "${_scvae_cuda_default_test_arch}" CACHE STRING
    "CUDA architectures of scvae's CUDA tests (compile-time budget)")

function(scvae_cuda_test_target t)
  target_link_libraries(${t} PRIVATE scvae::cuda)
  target_include_directories(${t} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/cuda)
  # The CPU reference (Eigen) is compiled as host code only in these .cu files.
  target_compile_definitions(${t} PRIVATE EIGEN_NO_CUDA
    SCVAE_SHARED_DATA_DIR="${PROJECT_SOURCE_DIR}/../shared/data"
    SCVAE_TEST_TMP_DIR="${CMAKE_CURRENT_BINARY_DIR}/tmp")
  set_target_properties(${t} PROPERTIES CUDA_ARCHITECTURES "${SCVAE_CUDA_TEST_ARCHITECTURES}")
  if(OpenMP_CXX_FOUND)
    target_compile_options(${t} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fopenmp>)
  endif()
endfunction()

file(GLOB SCVAE_CUDA_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cuda/test_cuda_*.cu)
foreach(src ${SCVAE_CUDA_TEST_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src} $<TARGET_OBJECTS:scvae_catch_main>)
  target_link_libraries(${name} PRIVATE Catch2::Catch2)
  scvae_cuda_test_target(${name})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "OMP_WAIT_POLICY=PASSIVE")
  set_tests_properties(${name} PROPERTIES TIMEOUT 900 LABELS cuda)
endforeach()

# Every CUDA header compiles alone with nvcc (twice: the include guard works).
file(GLOB_RECURSE SCVAE_CUDA_HEADERS RELATIVE ${PROJECT_SOURCE_DIR}/include CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/include/scvae/*.cuh)
set(_cuda_hdr_srcs "")
foreach(h ${SCVAE_CUDA_HEADERS})
  string(MAKE_C_IDENTIFIER ${h} id)
  set(src ${CMAKE_CURRENT_BINARY_DIR}/cuda_header_check/${id}.cu)
  if(NOT EXISTS ${src})
    file(WRITE ${src} "#include <${h}>\n#include <${h}>  // include guard works\n")
  endif()
  list(APPEND _cuda_hdr_srcs ${src})
endforeach()
add_library(scvae_cuda_header_check OBJECT ${_cuda_hdr_srcs})
scvae_cuda_test_target(scvae_cuda_header_check)
# The check is the build itself; this CTest entry rebuilds it so a header edit is caught by ctest.
add_test(NAME cuda_headers_compile_alone
         COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target scvae_cuda_header_check)
set_tests_properties(cuda_headers_compile_alone PROPERTIES TIMEOUT 900 LABELS cuda)
