# The `scvae` command-line program (examples/cli/, docs/cli.md). Needs scvae::io (zlib, HDF5) for
# the file readers and CLI11 for the flags; skipped with a note when either is missing.
find_package(CLI11 CONFIG QUIET)
if(TARGET scvae::io AND TARGET CLI11::CLI11)
  add_executable(scvae_cli
    ${CMAKE_CURRENT_LIST_DIR}/cli/main.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cli/common.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cli/dataset.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cli/options.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cli/model_runner.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cli/report.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cli/train.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cli/evaluate.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cli/grid_search.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cli/simulate.cpp)
  # OUTPUT_NAME: the target name `scvae` belongs to the library.
  set_target_properties(scvae_cli PROPERTIES OUTPUT_NAME scvae RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
  target_link_libraries(scvae_cli PRIVATE scvae::io CLI11::CLI11)
  # --device cuda where the CUDA backend is built: one nvcc translation unit holds the GPU models.
  if(TARGET scvae::cuda)
    target_sources(scvae_cli PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cli/model_runner_cuda.cu)
    target_link_libraries(scvae_cli PRIVATE scvae::cuda)
    target_compile_definitions(scvae_cli PRIVATE SCVAE_CLI_HAS_CUDA)
    # Eigen is host-only code here (as in tests/cuda.cmake); the host side of the .cu file
    # gets OpenMP like the C++ files.
    set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/cli/model_runner_cuda.cu PROPERTIES
                                COMPILE_DEFINITIONS EIGEN_NO_CUDA)
    if(OpenMP_CXX_FOUND)
      target_compile_options(scvae_cli PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fopenmp>)
    endif()
  endif()
  if(SCVAE_INSTALL)
    install(TARGETS scvae_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
else()
  message(STATUS "scvae: the scvae command-line program needs scvae::io (zlib, HDF5) and CLI11 (libcli11-dev); not built")
endif()
