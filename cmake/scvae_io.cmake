# scvae::io: the data readers/writers (include/scvae/data/*), header-only like scvae::scvae but
# with two system libraries: zlib (.gz) and the HDF5 C API (10x .h5, AnnData .h5ad).
# Consumers that only train on in-memory data never need these: link scvae::scvae alone.
find_package(ZLIB)
if(NOT CMAKE_C_COMPILER_LOADED)
  enable_language(C)  # FindHDF5 probes its C component with the C compiler
endif()
find_package(HDF5 COMPONENTS C)

if(ZLIB_FOUND AND HDF5_FOUND)
  add_library(scvae_io INTERFACE)
  add_library(scvae::io ALIAS scvae_io)
  target_link_libraries(scvae_io INTERFACE scvae ZLIB::ZLIB)
  if(TARGET hdf5::hdf5)
    target_link_libraries(scvae_io INTERFACE hdf5::hdf5)
  else()
    target_include_directories(scvae_io SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
    target_link_libraries(scvae_io INTERFACE ${HDF5_C_LIBRARIES})
    if(HDF5_C_DEFINITIONS)
      target_compile_definitions(scvae_io INTERFACE ${HDF5_C_DEFINITIONS})
    endif()
  endif()
  set_target_properties(scvae_io PROPERTIES EXPORT_NAME io)
  if(SCVAE_INSTALL)
    # Exported by cmake/scvae_install.cmake; scvaeConfig.cmake needs
    # find_dependency(ZLIB) and find_dependency(HDF5 COMPONENTS C).
    install(TARGETS scvae_io EXPORT scvaeTargets)
  endif()
elseif(SCVAE_IO_REQUIRED AND (SCVAE_BUILD_TESTS OR SCVAE_BUILD_BENCHMARKS OR SCVAE_BUILD_FUZZERS))
  message(FATAL_ERROR "scvae: zlib and the HDF5 C library are needed for the data readers and their "
                      "tests (run scripts/setup.sh, or configure with -DSCVAE_BUILD_TESTS=OFF, or with "
                      "-DSCVAE_IO_REQUIRED=OFF to skip what reads files)")
else()
  message(STATUS "scvae: zlib or HDF5 not found, scvae::io (data readers) is not available")
endif()

if(SCVAE_BUILD_FUZZERS)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/../fuzz ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
  else()
    message(WARNING "scvae: SCVAE_BUILD_FUZZERS needs clang (libFuzzer); fuzzers are not built")
  endif()
endif()
