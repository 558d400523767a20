# Packaging: a consumer project builds against an installed scvae (find_package) and against
# the source tree (add_subdirectory). Skipped in sanitizer builds (it builds without them).
if(NOT SCVAE_SANITIZE)
  set(_scvae_consumer_cuda OFF)
  if(TARGET scvae_cuda)
    set(_scvae_consumer_cuda ON)
  endif()
  add_test(NAME package_consumers
           COMMAND ${CMAKE_COMMAND} -DSCVAE_SOURCE_DIR=${PROJECT_SOURCE_DIR}
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/package_consumers -DGENERATOR=${CMAKE_GENERATOR}
                   -DWITH_CUDA=${_scvae_consumer_cuda}
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run.cmake)
  set_tests_properties(package_consumers PROPERTIES TIMEOUT 600)
endif()

# Every public header compiles on its own (CUDA headers are checked by nvcc elsewhere).
file(GLOB_RECURSE SCVAE_PUBLIC_HEADERS RELATIVE ${PROJECT_SOURCE_DIR}/include
     CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/scvae/*.hpp)
set(_hdr_srcs "")
foreach(h ${SCVAE_PUBLIC_HEADERS})
  string(MAKE_C_IDENTIFIER ${h} id)
  set(src ${CMAKE_CURRENT_BINARY_DIR}/header_check/${id}.cpp)
  if(NOT EXISTS ${src})
    file(WRITE ${src} "#include <${h}>\n#include <${h}>  // include guard works\n")
  endif()
  list(APPEND _hdr_srcs ${src})
endforeach()
add_library(scvae_header_check OBJECT ${_hdr_srcs})
if(TARGET scvae::io)
  target_link_libraries(scvae_header_check PRIVATE scvae::io)
else()
  target_link_libraries(scvae_header_check PRIVATE scvae::scvae)
endif()
