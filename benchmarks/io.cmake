# The data I/O benchmark needs the readers' system libraries (zlib, HDF5).
if(TARGET bench_io)
  target_link_libraries(bench_io PRIVATE scvae::io)
endif()
