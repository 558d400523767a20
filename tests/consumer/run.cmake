# cmake -DSCVAE_SOURCE_DIR=... -DWORK=... -DGENERATOR=... -DWITH_CUDA=ON|OFF -P run.cmake
# 1. installs scvae (with its CUDA backend if WITH_CUDA) into WORK/prefix and builds a consumer
#    with find_package(scvae); with CUDA, a second consumer links scvae::cuda
# 2. builds the same consumer with add_subdirectory(scvae)
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
endfunction()
file(REMOVE_RECURSE ${WORK})
set(consumer ${SCVAE_SOURCE_DIR}/tests/consumer)
run(${CMAKE_COMMAND} -S ${SCVAE_SOURCE_DIR} -B ${WORK}/scvae -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release
    -DSCVAE_BUILD_TESTS=OFF -DSCVAE_BUILD_EXAMPLES=OFF -DSCVAE_BUILD_BENCHMARKS=OFF -DSCVAE_ENABLE_CUDA=${WITH_CUDA}
    -DSCVAE_INSTALL=ON -DCMAKE_INSTALL_PREFIX=${WORK}/prefix)
run(${CMAKE_COMMAND} --build ${WORK}/scvae --target install)
if(NOT EXISTS ${WORK}/prefix/include/scvae/vae.hpp)
  message(FATAL_ERROR "install did not copy the headers")
endif()
run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK}/find -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release
    -DMODE=find_package -DCMAKE_PREFIX_PATH=${WORK}/prefix -DWITH_CUDA=${WITH_CUDA})
run(${CMAKE_COMMAND} --build ${WORK}/find)
run(${WORK}/find/consumer)
if(WITH_CUDA)
  run(${WORK}/find/consumer_cuda)
endif()
run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK}/sub -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release
    -DMODE=subdirectory -DSCVAE_SOURCE_DIR=${SCVAE_SOURCE_DIR})
run(${CMAKE_COMMAND} --build ${WORK}/sub)
run(${WORK}/sub/consumer)
message(STATUS "find_package and add_subdirectory consumers built and ran")
