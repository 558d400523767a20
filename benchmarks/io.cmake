# The data I/O benchmark needs the readers' system libraries (zlib, HDF5).
if(TARGET bench_io AND TARGET scvae::io)
  target_link_libraries(bench_io PRIVATE scvae::io)
elseif(TARGET bench_io)  # only with SCVAE_IO_REQUIRED=OFF (cmake/scvae_io.cmake)
  set_target_properties(bench_io PROPERTIES EXCLUDE_FROM_ALL TRUE)
endif()
